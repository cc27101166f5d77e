package main

import (
	"strings"
	"unicode/utf8"

	"github.com/curhat/curhat"
)

// validText refuses free text that Postgres cannot store in a text column: NUL characters
// (JSON can carry them as \u0000) and invalid UTF-8. Without it such input reaches the
// INSERT and fails there, as a 500.
func validText(field, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return curhat.Invalid(field, "must not contain NUL characters")
	}
	if !utf8.ValidString(s) {
		return curhat.Invalid(field, "must be UTF-8 text")
	}
	return nil
}
