// Package check holds the assertions and the few helpers of the public contract suites
// (availabilitytest.RunStoreContract and the others). Hosts run those suites in their own
// tests, so the suites must not make them depend on an assertion library: this package
// uses the standard library (and the SDK's own error types) only.
//
// Each assertion marks itself as a helper and stops the test with t.Fatalf on failure.
// The optional msgAndArgs are a message, or a format and its arguments, added to the
// failure.
package check

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curhat/curhat/internal/core"
)

// CallTimeout bounds each context returned by Context, so that a store call that hangs
// fails its test instead of the whole run.
const CallTimeout = 30 * time.Second

// Context returns a context for one call of the code under test: it ends with the test,
// or after CallTimeout.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
	t.Cleanup(cancel)
	return ctx
}

// NoError fails the test if err is not nil.
func NoError(t testing.TB, err error, msgAndArgs ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v%s", err, message(msgAndArgs))
	}
}

// Error fails the test if err is nil.
func Error(t testing.TB, err error, msgAndArgs ...any) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error, got nil%s", message(msgAndArgs))
	}
}

// ErrorIs fails the test unless errors.Is(err, target).
func ErrorIs(t testing.TB, err, target error, msgAndArgs ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v does not match %v%s", err, target, message(msgAndArgs))
	}
}

// ErrorAs fails the test unless errors.As(err, target), which then holds the match.
func ErrorAs(t testing.TB, err error, target any, msgAndArgs ...any) {
	t.Helper()
	if !errors.As(err, target) {
		t.Fatalf("error %v (%T) is not a %s%s", err, err, reflect.TypeOf(target).Elem(), message(msgAndArgs))
	}
}

// Invalid fails the test unless err is a *core.ValidationError naming field.
func Invalid(t testing.TB, err error, field string, msgAndArgs ...any) {
	t.Helper()
	var ve *core.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a validation error of %s%s", err, field, message(msgAndArgs))
		return
	}
	if ve.Field != field {
		t.Fatalf("validation error %q names %s, want %s%s", ve.Error(), ve.Field, field, message(msgAndArgs))
	}
}

// Equal fails the test unless want and got are deeply equal (reflect.DeepEqual).
func Equal(t testing.TB, want, got any, msgAndArgs ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		w, g := show(want), show(got)
		switch {
		case reflect.TypeOf(want) != reflect.TypeOf(got):
			w, g = fmt.Sprintf("(%T) %s", want, w), fmt.Sprintf("(%T) %s", got, g)
		case w == g: // they differ where %+v does not look: time locations, nil vs empty
			w, g = fmt.Sprintf("%#v", want), fmt.Sprintf("%#v", got)
		}
		t.Fatalf("not equal%s\nwant: %s\ngot:  %s", message(msgAndArgs), w, g)
	}
}

// NotEqual fails the test if a and b are deeply equal.
func NotEqual(t testing.TB, a, b any, msgAndArgs ...any) {
	t.Helper()
	if reflect.DeepEqual(a, b) {
		t.Fatalf("both are %s%s", show(a), message(msgAndArgs))
	}
}

// True fails the test if ok is false.
func True(t testing.TB, ok bool, msgAndArgs ...any) {
	t.Helper()
	if !ok {
		t.Fatalf("expected true%s", message(msgAndArgs))
	}
}

// False fails the test if ok is true.
func False(t testing.TB, ok bool, msgAndArgs ...any) {
	t.Helper()
	if ok {
		t.Fatalf("expected false%s", message(msgAndArgs))
	}
}

// Nil fails the test unless v is nil or a nil pointer, slice, map, channel, function or
// interface.
func Nil(t testing.TB, v any, msgAndArgs ...any) {
	t.Helper()
	if !isNil(v) {
		t.Fatalf("expected nil, got %s%s", show(v), message(msgAndArgs))
	}
}

// NotNil fails the test if v is nil in the sense of Nil.
func NotNil(t testing.TB, v any, msgAndArgs ...any) {
	t.Helper()
	if isNil(v) {
		t.Fatalf("expected a non-nil %T%s", v, message(msgAndArgs))
	}
}

// Zero fails the test unless v is the zero value of its type.
func Zero[T comparable](t testing.TB, v T, msgAndArgs ...any) {
	t.Helper()
	var zero T
	if v != zero {
		t.Fatalf("expected the zero %T, got %s%s", v, show(v), message(msgAndArgs))
	}
}

// Len fails the test unless v (a slice, map, string, array or channel) has n elements.
func Len(t testing.TB, v any, n int, msgAndArgs ...any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map, reflect.String, reflect.Array, reflect.Chan:
	default:
		t.Fatalf("%T has no length%s", v, message(msgAndArgs))
		return
	}
	if rv.Len() != n {
		t.Fatalf("expected %d elements, got %d: %s%s", n, rv.Len(), show(v), message(msgAndArgs))
	}
}

// Contains fails the test unless s holds e.
func Contains[E comparable](t testing.TB, s []E, e E, msgAndArgs ...any) {
	t.Helper()
	for _, x := range s {
		if x == e {
			return
		}
	}
	t.Fatalf("%s does not contain %s%s", show(s), show(e), message(msgAndArgs))
}

// NotContains fails the test if s holds e.
func NotContains[E comparable](t testing.TB, s []E, e E, msgAndArgs ...any) {
	t.Helper()
	for _, x := range s {
		if x == e {
			t.Fatalf("%s contains %s%s", show(s), show(e), message(msgAndArgs))
			return
		}
	}
}

// HasKey fails the test unless m has the key k.
func HasKey[K comparable, V any](t testing.TB, m map[K]V, k K, msgAndArgs ...any) {
	t.Helper()
	if _, ok := m[k]; !ok {
		t.Fatalf("no key %s in %s%s", show(k), show(m), message(msgAndArgs))
	}
}

// NoKey fails the test if m has the key k.
func NoKey[K comparable, V any](t testing.TB, m map[K]V, k K, msgAndArgs ...any) {
	t.Helper()
	if v, ok := m[k]; ok {
		t.Fatalf("unexpected key %s (value %s)%s", show(k), show(v), message(msgAndArgs))
	}
}

// ElementsMatch fails the test unless want and got hold the same elements (deeply equal,
// with the same multiplicity) in any order.
func ElementsMatch[E any](t testing.TB, want, got []E, msgAndArgs ...any) {
	t.Helper()
	used := make([]bool, len(got))
	var missing []E
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && reflect.DeepEqual(w, g) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	var extra []E
	for i, g := range got {
		if !used[i] {
			extra = append(extra, g)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("elements differ%s\nmissing: %s\nextra:   %s\nwant: %s\ngot:  %s",
			message(msgAndArgs), show(missing), show(extra), show(want), show(got))
	}
}

// Concurrently calls fn(0), …, fn(n-1) in n goroutines released together, so that the
// calls race, and returns their errors by index once all have returned.
func Concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// OneSucceeds fails the test unless exactly one of errs is nil and every other one
// matches loser (errors.Is): of racing calls, one wins and the others are refused as
// they should be. It returns the index of the winner.
func OneSucceeds(t testing.TB, errs []error, loser error, msgAndArgs ...any) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("calls %d and %d both succeeded%s", winner, i, message(msgAndArgs))
			return -1
		case err == nil:
			winner = i
		case !errors.Is(err, loser):
			t.Fatalf("call %d failed with %v, not %v%s", i, err, loser, message(msgAndArgs))
			return -1
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d calls succeeded%s", len(errs), message(msgAndArgs))
	}
	return winner
}

// Eventually fails the test unless cond returns true within waitFor, polling every tick.
func Eventually(t testing.TB, cond func() bool, waitFor, tick time.Duration, msgAndArgs ...any) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v%s", waitFor, message(msgAndArgs))
			return
		}
		time.Sleep(tick)
	}
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Chan, reflect.Func, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

// show prints a value for a failure: strings quoted, everything else with %+v (which
// prints ids and times through their String methods).
func show(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%+v", v)
}

// message renders msgAndArgs as ": message", or "" when there is none.
func message(msgAndArgs []any) string {
	if len(msgAndArgs) == 0 {
		return ""
	}
	var msg string
	if format, ok := msgAndArgs[0].(string); ok && len(msgAndArgs) > 1 {
		msg = fmt.Sprintf(format, msgAndArgs[1:]...)
	} else {
		msg = strings.TrimSpace(fmt.Sprintln(msgAndArgs...))
	}
	return ": " + msg
}
