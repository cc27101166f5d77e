package xendittest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// kind is the JSON type a field must have.
type kind int

const (
	kindString  kind = iota // a non-empty string
	kindInteger             // a whole number (IDR has no fractions)
	kindObject              // a JSON object
)

func (k kind) String() string {
	return [...]string{"a non-empty string", "a whole number", "an object"}[k]
}

// field is one field a request body may carry.
type field struct {
	name     string
	kind     kind
	required bool
}

// object decodes body as a JSON object and checks its fields (fields). A body that is not
// one, a required field missing, a field of the wrong type or one the documentation does
// not list for this client fails the test; ok is false then.
func (s *Server) object(endpoint string, body []byte, fields []field) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		s.t.Errorf("xendittest: %s: the body must be a JSON object: %v (%q)", endpoint, err, body)
		return nil, false
	}
	return s.fields(endpoint, obj, fields)
}

func (s *Server) fields(where string, obj map[string]any, fields []field) (map[string]any, bool) {
	ok := true
	for _, f := range fields {
		v, present := obj[f.name]
		if !present || v == nil {
			if f.required {
				s.t.Errorf("xendittest: %s: field %q is required", where, f.name)
				ok = false
			}
			continue
		}
		if !f.kind.holds(v) {
			s.t.Errorf("xendittest: %s: field %q must be %s, got %#v", where, f.name, f.kind, v)
			ok = false
		}
	}
	for name := range obj {
		if !slices.ContainsFunc(fields, func(f field) bool { return f.name == name }) {
			s.t.Errorf("xendittest: %s: unexpected field %q", where, name)
			ok = false
		}
	}
	return obj, ok
}

func (k kind) holds(v any) bool {
	switch k {
	case kindString:
		s, ok := v.(string)
		return ok && strings.TrimSpace(s) != ""
	case kindInteger:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case kindObject:
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

// integer is a checked kindInteger field's value (0 when absent).
func integer(v any) int64 {
	n, _ := v.(json.Number)
	i, _ := n.Int64()
	return i
}
