package check_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/internal/core"
)

// recorder stands in for a *testing.T: it records the first failure instead of stopping
// the goroutine, so a test can look at what an assertion reported.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	if !r.failed {
		r.failed, r.msg = true, fmt.Sprintf(format, args...)
	}
}

type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.code) }

func TestAssertionsPassAndFailWithAClearMessage(t *testing.T) {
	t.Parallel()
	sentinel := errors.New("sentinel")
	wrapped := fmt.Errorf("wrapping: %w", sentinel)
	var nilPtr *time.Time
	var target *codeError

	tests := []struct {
		name string
		call func(t testing.TB)
		// wantMsg is empty when the assertion holds; otherwise every part must appear in
		// the failure message.
		wantMsg []string
	}{
		{"NoError holds", func(t testing.TB) { check.NoError(t, nil) }, nil},
		{"NoError fails", func(t testing.TB) { check.NoError(t, sentinel, "saving %s", "x") }, []string{"unexpected error: sentinel", ": saving x"}},
		{"Error holds", func(t testing.TB) { check.Error(t, sentinel) }, nil},
		{"Error fails", func(t testing.TB) { check.Error(t, nil) }, []string{"expected an error"}},
		{"ErrorIs holds through wrapping", func(t testing.TB) { check.ErrorIs(t, wrapped, sentinel) }, nil},
		{"ErrorIs fails", func(t testing.TB) { check.ErrorIs(t, errors.New("other"), sentinel) }, []string{"other", "does not match sentinel"}},
		{"ErrorAs holds", func(t testing.TB) { check.ErrorAs(t, fmt.Errorf("w: %w", &codeError{7}), &target) }, nil},
		{"ErrorAs fails", func(t testing.TB) { check.ErrorAs(t, sentinel, &target) }, []string{"is not a *check_test.codeError"}},
		{"Equal holds deeply", func(t testing.TB) { check.Equal(t, []int{1, 2}, []int{1, 2}) }, nil},
		{"Equal fails", func(t testing.TB) { check.Equal(t, "a", "b", "name") }, []string{`want: "a"`, `got:  "b"`, ": name"}},
		{"Equal names differing types", func(t testing.TB) { check.Equal(t, 0, int64(0)) }, []string{"(int) 0", "(int64) 0"}},
		{"Equal tells nil from empty", func(t testing.TB) { check.Equal(t, []int{}, []int(nil)) }, []string{"[]int{}", "[]int(nil)"}},
		{"NotEqual holds", func(t testing.TB) { check.NotEqual(t, 1, 2) }, nil},
		{"NotEqual fails", func(t testing.TB) { check.NotEqual(t, 1, 1) }, []string{"both are 1"}},
		{"True holds", func(t testing.TB) { check.True(t, true) }, nil},
		{"True fails", func(t testing.TB) { check.True(t, false, 42) }, []string{"expected true: 42"}},
		{"False holds", func(t testing.TB) { check.False(t, false) }, nil},
		{"False fails", func(t testing.TB) { check.False(t, true) }, []string{"expected false"}},
		{"Nil holds for a nil pointer", func(t testing.TB) { check.Nil(t, nilPtr) }, nil},
		{"Nil fails", func(t testing.TB) { check.Nil(t, new(3)) }, []string{"expected nil"}},
		{"NotNil holds", func(t testing.TB) { check.NotNil(t, []int{}) }, nil},
		{"NotNil fails for a nil map", func(t testing.TB) { check.NotNil(t, map[int]int(nil)) }, []string{"non-nil map[int]int"}},
		{"Zero holds", func(t testing.TB) { check.Zero(t, int64(0)) }, nil},
		{"Zero fails", func(t testing.TB) { check.Zero(t, "x") }, []string{`zero string, got "x"`}},
		{"Len holds for a map", func(t testing.TB) { check.Len(t, map[int]bool{1: true}, 1) }, nil},
		{"Len fails", func(t testing.TB) { check.Len(t, []int{1, 2}, 1) }, []string{"expected 1 elements, got 2"}},
		{"Len refuses a value without length", func(t testing.TB) { check.Len(t, 3, 0) }, []string{"int has no length"}},
		{"Contains holds", func(t testing.TB) { check.Contains(t, []string{"a", "b"}, "b") }, nil},
		{"Contains fails", func(t testing.TB) { check.Contains(t, []string{"a"}, "b") }, []string{`does not contain "b"`}},
		{"NotContains holds", func(t testing.TB) { check.NotContains(t, []int{1}, 2) }, nil},
		{"NotContains fails", func(t testing.TB) { check.NotContains(t, []int{1, 2}, 2) }, []string{"contains 2"}},
		{"HasKey holds", func(t testing.TB) { check.HasKey(t, map[string]int{"a": 1}, "a") }, nil},
		{"HasKey fails", func(t testing.TB) { check.HasKey(t, map[string]int{"a": 1}, "b") }, []string{`no key "b" in map[a:1]`}},
		{"NoKey holds", func(t testing.TB) { check.NoKey(t, map[string]int{"a": 1}, "b") }, nil},
		{"NoKey fails", func(t testing.TB) { check.NoKey(t, map[string]int{"a": 1}, "a") }, []string{`unexpected key "a" (value 1)`}},
		{"ElementsMatch holds in any order", func(t testing.TB) { check.ElementsMatch(t, []int{1, 2, 2}, []int{2, 1, 2}) }, nil},
		{"ElementsMatch counts duplicates", func(t testing.TB) { check.ElementsMatch(t, []int{1, 2, 2}, []int{1, 1, 2}) }, []string{"missing: [2]", "extra:   [1]"}},
		{"Invalid holds", func(t testing.TB) {
			check.Invalid(t, fmt.Errorf("w: %w", core.Invalid("price", "negative")), "price")
		}, nil},
		{"Invalid fails on another field", func(t testing.TB) { check.Invalid(t, core.Invalid("label", "long"), "price") }, []string{"names label, want price"}},
		{"Invalid fails on another error", func(t testing.TB) { check.Invalid(t, sentinel, "price") }, []string{"sentinel is not a validation error of price"}},
		{"OneSucceeds holds", func(t testing.TB) {
			if i := check.OneSucceeds(t, []error{wrapped, nil, sentinel}, sentinel); i != 1 {
				t.Fatalf("winner %d", i)
			}
		}, nil},
		{"OneSucceeds fails on two winners", func(t testing.TB) { check.OneSucceeds(t, []error{nil, nil}, sentinel) }, []string{"calls 0 and 1 both succeeded"}},
		{"OneSucceeds fails on no winner", func(t testing.TB) { check.OneSucceeds(t, []error{sentinel}, sentinel) }, []string{"none of 1 calls succeeded"}},
		{"OneSucceeds fails on another error", func(t testing.TB) { check.OneSucceeds(t, []error{nil, errors.New("boom")}, sentinel) }, []string{"call 1 failed with boom, not sentinel"}},
		{"Eventually holds", func(t testing.TB) {
			n := 0
			check.Eventually(t, func() bool { n++; return n == 3 }, time.Second, time.Millisecond)
		}, nil},
		{"Eventually fails", func(t testing.TB) {
			check.Eventually(t, func() bool { return false }, 5*time.Millisecond, time.Millisecond)
		}, []string{"not met within 5ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &recorder{TB: t}
			tt.call(r)
			if len(tt.wantMsg) == 0 {
				if r.failed {
					t.Fatalf("the assertion failed: %s", r.msg)
				}
				return
			}
			if !r.failed {
				t.Fatal("the assertion held")
			}
			for _, part := range tt.wantMsg {
				if !strings.Contains(r.msg, part) {
					t.Errorf("message %q lacks %q", r.msg, part)
				}
			}
		})
	}
}

func TestConcurrentlyRunsEveryCallAtOnce(t *testing.T) {
	t.Parallel()
	const n = 8
	var arrived sync.WaitGroup
	arrived.Add(n)
	errs := check.Concurrently(n, func(i int) error {
		arrived.Done()
		arrived.Wait() // returns only if all n calls run at the same time
		return fmt.Errorf("call %d", i)
	})
	for i, err := range errs {
		if err.Error() != fmt.Sprintf("call %d", i) {
			t.Fatalf("errs[%d] = %v", i, err)
		}
	}
}

func TestContextEndsWithTheTest(t *testing.T) {
	t.Parallel()
	var ctx interface{ Err() error }
	t.Run("inner", func(t *testing.T) {
		c := check.Context(t)
		if _, ok := c.Deadline(); !ok {
			t.Fatal("no deadline")
		}
		ctx = c
	})
	if ctx.Err() == nil {
		t.Fatal("the context outlived its test")
	}
}
