package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/curhat/curhat"
)

// maxBodyBytes bounds every request body; larger bodies get 413 PAYLOAD_TOO_LARGE.
const maxBodyBytes = 1 << 20

// decodeJSON reads exactly one JSON object from the body into v: unknown fields, duplicate
// keys, keys that match a field only when case is ignored, trailing data, wrong types and
// bodies over 1 MiB are refused with 4xx errors naming the problem.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	return unmarshalBody(raw, v, true)
}

// readBody reads the whole body (at most maxBodyBytes).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return nil, bodyReadError(err)
	}
	return raw, nil
}

// bodyReadError maps a failed read of the body: too large, too slow (the server's read
// deadline), or cut off. The network error itself names addresses: it is not the answer.
func bodyReadError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errRequestTimeout
	default:
		return errBodyUnreadable
	}
}

// unmarshalBody decodes raw into v. strict refuses keys that are not fields of v; either
// way duplicate keys and keys that differ from a field's name only in case are refused
// (encoding/json would take the last duplicate and match names case-insensitively).
func unmarshalBody(raw []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &curhat.ValidationError{Field: "body", Reason: "must contain a single JSON object"}
	}
	// The body is valid JSON now: a second pass over its keys, against the shape of v.
	keys := json.NewDecoder(bytes.NewReader(raw))
	return checkKeys(keys, shapeOf(reflect.TypeOf(v)), "")
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &curhat.ValidationError{Field: "body", Reason: "a JSON object is required"}
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return &curhat.ValidationError{Field: "body", Reason: "malformed JSON"}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return &curhat.ValidationError{Field: field, Reason: "must be " + jsonKind(typ.Type.Kind().String())}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &curhat.ValidationError{Field: name, Reason: "unknown field"}
	default:
		return &curhat.ValidationError{Field: "body", Reason: "invalid JSON"}
	}
}

func jsonKind(k string) string {
	switch k {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	default:
		return "an object"
	}
}

// keyShape is what keys a JSON value decoded into a Go type may have: a struct's exact
// field names, or any key (maps, json.RawMessage, interfaces, Unmarshalers), with the shape
// of the values below. A nil *keyShape admits any key at any depth.
type keyShape struct {
	fields map[string]*keyShape // struct: JSON name → the field's shape; nil: not a struct
	names  []string             // struct: the JSON names, to find a case-insensitive match
	elem   *keyShape            // slice, array or map: the shape of the elements
}

var (
	shapes          sync.Map // reflect.Type → *keyShape
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// shapeOf returns the key shape of t, built once per type.
func shapeOf(t reflect.Type) *keyShape {
	if s, ok := shapes.Load(t); ok {
		return s.(*keyShape)
	}
	s := buildShape(t, map[reflect.Type]*keyShape{})
	shapes.Store(t, s)
	return s
}

func buildShape(t reflect.Type, building map[reflect.Type]*keyShape) *keyShape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil // it reads its own JSON (json.RawMessage, time.Time, …)
	}
	if s, ok := building[t]; ok {
		return s // a recursive type
	}
	switch t.Kind() {
	case reflect.Struct:
		s := &keyShape{fields: map[string]*keyShape{}}
		building[t] = s
		addFields(s, t, building)
		return s
	case reflect.Slice, reflect.Array, reflect.Map:
		if elem := buildShape(t.Elem(), building); elem != nil {
			return &keyShape{elem: elem}
		}
	}
	return nil
}

// addFields adds the JSON names of t's fields to s, as encoding/json sees them (tags,
// untagged exported fields, the fields of untagged embedded structs).
func addFields(s *keyShape, t reflect.Type, building map[reflect.Type]*keyShape) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			addFields(s, ft, building)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s.fields[name] = buildShape(f.Type, building)
		s.names = append(s.names, name)
	}
}

// checkKeys reads one JSON value from dec and refuses duplicate keys and keys that match a
// field of the shape only when case is ignored. at is the path of the value, for errors.
func checkKeys(dec *json.Decoder, s *keyShape, at string) error {
	tok, err := dec.Token()
	if err != nil {
		return decodeError(err)
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]struct{}{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return decodeError(err)
			}
			key, _ := kt.(string)
			field := joinPath(at, key)
			if _, dup := seen[key]; dup {
				return &curhat.ValidationError{Field: field, Reason: "duplicate key"}
			}
			seen[key] = struct{}{}
			var child *keyShape
			switch {
			case s == nil:
			case s.fields != nil:
				fs, ok := s.fields[key]
				if !ok {
					for _, name := range s.names {
						if strings.EqualFold(name, key) {
							return &curhat.ValidationError{Field: field, Reason: "unknown field (names are case-sensitive: " + strconv.Quote(name) + ")"}
						}
					}
				}
				child = fs
			default:
				child = s.elem
			}
			if err := checkKeys(dec, child, field); err != nil {
				return err
			}
		}
	case json.Delim('['):
		var elem *keyShape
		if s != nil {
			elem = s.elem
		}
		at += "[]"
		for dec.More() {
			if err := checkKeys(dec, elem, at); err != nil {
				return err
			}
		}
	default:
		return nil // a scalar
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func joinPath(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}
