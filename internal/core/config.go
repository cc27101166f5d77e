package core

import "log/slog"

// Deref returns *c, or the zero value when c is nil: what every Config.WithDefaults starts
// from, a nil config meaning every default.
func Deref[T any](c *T) T {
	if c == nil {
		var zero T
		return zero
	}
	return *c
}

// discard is the default Logger of every Config.
var discard = slog.New(slog.DiscardHandler)

// LoggerOr returns l, or a logger that discards everything when l is nil.
func LoggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return discard
	}
	return l
}

// FirstError returns the first error that is not nil (the check a validate method reports).
func FirstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// NotNegative is the check every Config.validate makes of its durations and counts, where
// 0 means the default: a negative one is a *ValidationError naming field.
func NotNegative[T ~int | ~int64 | ~float64](field string, v T) error {
	if v < 0 {
		return Invalid(field, "must not be negative (0 means the default), not %v", v)
	}
	return nil
}

// Required is a *ValidationError naming field when missing is true: a nil dependency given
// to a constructor.
func Required(field string, missing bool) error {
	if missing {
		return Invalid(field, "is required")
	}
	return nil
}
