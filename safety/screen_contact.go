package safety

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mask is what replaces each contact detail in a screened message.
const Mask = "[hidden]"

// MaskContacts returns text with every contact detail replaced by Mask, and whether it
// found any. It finds, in this order (a later kind is not looked for inside an earlier
// one):
//
//   - WhatsApp and Telegram links: a host of wa.me, wa.link, whatsapp.com (api., chat.,
//     web.), t.me, telegram.me or telegram.dog, or a subdomain of one, followed by "/",
//     with its scheme if written, up to the next blank, quote or bracket (trailing
//     punctuation kept out); and the tg:// and whatsapp:// app links;
//   - e-mail addresses: local@domain.tld (the domain has a dot and ends in a label of at
//     least two letters);
//   - @handles: "@" not preceded by a letter or digit, followed by letters, digits, "_" or
//     "." holding at least one letter or "_" (trailing dots kept out);
//   - phone numbers: digits in groups separated by up to three spaces, dashes, dots or
//     parentheses, starting with "+" and 8..15 digits (any country), with 62 and 10..14
//     digits, or with 0, a second digit of 2..9 and 9..13 digits (Indonesian mobile and
//     landline numbers) — a number starting with 0 whose first group has exactly two
//     digits is a time or a date ("08.30", "02-02-2026 08:30"), not a phone. A number
//     glued to a letter, or joined to more letters or digits by "-", "_", "/" (or "." and a
//     digit), is part of something else (a session id, a code) and stays. Full-width
//     digits count as digits.
//
// Times ("08:30", "08.30-10.00"), prices ("Rp 30.000", "Rp30.000", "30.000") and UUIDs are
// not contact details. Spelled-out numbers, "at"/"dot" spellings of an e-mail address and
// numbers without their leading 0 or country code are not found: screening catches the
// common forms, an operator reading a report catches the rest.
func MaskContacts(text string) (string, bool) {
	var buf [8]span
	spans := findContacts(text, buf[:0])
	if len(spans) == 0 {
		return text, false
	}
	return maskSpans(text, spans), true
}

// span is a byte range of a text to mask.
type span struct{ start, end int }

// findContacts appends the contact details of text to spans, sorted and disjoint.
func findContacts(text string, spans []span) []span {
	if strings.IndexByte(text, '/') >= 0 {
		spans = findLinks(text, spans)
	}
	if strings.IndexByte(text, '@') >= 0 || (!isASCII(text) && strings.ContainsRune(text, '＠')) {
		spans = findAts(text, spans)
	}
	return findPhones(text, spans)
}

// maskSpans returns text with each span replaced by Mask.
func maskSpans(text string, spans []span) string {
	var b strings.Builder
	b.Grow(len(text) + len(spans)*len(Mask))
	at := 0
	for _, s := range spans {
		b.WriteString(text[at:s.start])
		b.WriteString(Mask)
		at = s.end
	}
	b.WriteString(text[at:])
	return b.String()
}

// addSpan inserts s into the sorted, disjoint spans (merging what it overlaps).
func addSpan(spans []span, s span) []span {
	i := 0
	for i < len(spans) && spans[i].end < s.start {
		i++
	}
	j := i
	for j < len(spans) && spans[j].start <= s.end {
		s.start, s.end = min(s.start, spans[j].start), max(s.end, spans[j].end)
		j++
	}
	if i == j {
		spans = append(spans, span{})
		copy(spans[i+1:], spans[i:])
		spans[i] = s
		return spans
	}
	spans[i] = s
	return append(spans[:i+1], spans[j:]...)
}

// covered returns the end of the span holding byte i, if one does.
func covered(spans []span, i int) (int, bool) {
	for _, s := range spans {
		if s.start <= i && i < s.end {
			return s.end, true
		}
	}
	return 0, false
}

// ---- Links ----

// linkHosts are the hosts of WhatsApp and Telegram links, lower case; their subdomains
// (api.whatsapp.com, chat.whatsapp.com, web.whatsapp.com, www.…) are links too.
var linkHosts = []string{"wa.me", "wa.link", "whatsapp.com", "t.me", "telegram.me", "telegram.dog"}

// appSchemes are the schemes of the apps' own links ("tg://resolve?domain=…").
var appSchemes = []string{"tg", "whatsapp"}

// findLinks finds each "/" that ends a link host, or the "//" of an app link.
func findLinks(text string, spans []span) []span {
	for i := 0; i < len(text); {
		k := strings.IndexByte(text[i:], '/')
		if k < 0 {
			break
		}
		slash := i + k
		i = slash + 1
		if _, in := covered(spans, slash); in {
			continue
		}
		start, ok := linkStart(text, slash)
		if !ok {
			continue
		}
		end := linkEnd(text, slash)
		spans = addSpan(spans, span{start, end})
		i = end
	}
	return spans
}

// linkStart reports whether the "/" at slash follows a link host (or is the first "/" of
// an app scheme's "://") and returns where the link starts: its scheme, or "www.", or the
// host, which must not continue a word ("cat.me/" is no Telegram link).
func linkStart(text string, slash int) (int, bool) {
	head := text[:slash]
	start := -1
	for _, h := range linkHosts {
		if hasSuffixFold(head, h) {
			start = slash - len(h)
			break
		}
	}
	if start < 0 {
		if !strings.HasSuffix(head, ":") || slash+1 >= len(text) || text[slash+1] != '/' {
			return 0, false
		}
		for _, sc := range appSchemes {
			if hasSuffixFold(head, sc+":") {
				s := slash - len(sc) - 1
				return s, s == 0 || !isLinkRune(lastRune(text[:s]))
			}
		}
		return 0, false
	}
	// Subdomains ("chat.whatsapp.com", "www.t.me").
	for start > 1 && text[start-1] == '.' && isHostByte(text[start-2]) {
		start--
		for start > 0 && isHostByte(text[start-1]) {
			start--
		}
	}
	if strings.HasSuffix(text[:start], "://") {
		s := start - len("://")
		for s > 0 && isASCIILetter(text[s-1]) {
			s--
		}
		if s < start-len("://") {
			start = s
		}
	}
	return start, start == 0 || !isLinkRune(lastRune(text[:start]))
}

// linkEnd is where the link whose host ends at slash ends: at the next blank or quote or
// bracket, without the punctuation that ends a sentence.
func linkEnd(text string, slash int) int {
	end := len(text)
	for i := slash; i < len(text); {
		r, size := decodeRune(text, i)
		if unicode.IsSpace(r) || strings.ContainsRune(`"'<>()[]{}`, r) {
			end = i
			break
		}
		i += size
	}
	for end > slash+1 && strings.IndexByte(".,!?;:", text[end-1]) >= 0 {
		end--
	}
	return end
}

// isLinkRune: a rune that, before a host, makes it part of a longer name or path.
func isLinkRune(r rune) bool {
	return isWordRune(r) || r == '.' || r == '-' || r == '_' || r == '@' || r == '/'
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// ---- E-mail addresses and @handles ----

// findAts looks at each "@" (or "＠"): an e-mail address around it, else a handle after
// it.
func findAts(text string, spans []span) []span {
	for i := 0; i < len(text); {
		r, size := decodeRune(text, i)
		if r != '@' && r != '＠' {
			i += size
			continue
		}
		if end, in := covered(spans, i); in {
			i = end
			continue
		}
		if s, ok := emailAt(text, i, size); ok {
			spans = addSpan(spans, s)
			i = s.end
			continue
		}
		if s, ok := handleAt(text, i, size); ok {
			spans = addSpan(spans, s)
			i = s.end
			continue
		}
		i += size
	}
	return spans
}

// emailAt returns the e-mail address whose "@" (size bytes) is at at.
func emailAt(text string, at, size int) (span, bool) {
	start := at
	for start > 0 {
		r, n := utf8.DecodeLastRuneInString(text[:start])
		if !isWordRune(r) && !strings.ContainsRune("._%+-", r) {
			break
		}
		start -= n
	}
	for start < at && strings.IndexByte("._%+-", text[start]) >= 0 {
		start++ // "…budi@x.com" holds budi@x.com
	}
	if start == at {
		return span{}, false
	}
	end := at + size
	for end < len(text) {
		r, n := decodeRune(text, end)
		if !isWordRune(r) && r != '.' && r != '-' {
			break
		}
		end += n
	}
	for end > at+size && (text[end-1] == '.' || text[end-1] == '-') {
		end--
	}
	domain := text[at+size : end]
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || strings.Contains(domain, "..") || domain[0] == '-' {
		return span{}, false
	}
	tld := domain[dot+1:]
	if utf8.RuneCountInString(tld) < 2 {
		return span{}, false
	}
	for _, r := range tld {
		if !unicode.IsLetter(r) {
			return span{}, false
		}
	}
	return span{start, end}, true
}

// handleAt returns the @handle whose "@" (size bytes) is at at.
func handleAt(text string, at, size int) (span, bool) {
	if at > 0 && isWordRune(lastRune(text[:at])) {
		return span{}, false // "budi@rumah": no address, no handle
	}
	end, letter := at+size, false
	for end < len(text) {
		c := text[end]
		switch {
		case isASCIILetter(c) || c == '_':
			letter = true
		case '0' <= c && c <= '9' || c == '.':
		default:
			goto done
		}
		end++
	}
done:
	for end > at+size && text[end-1] == '.' {
		end--
	}
	return span{at, end}, letter
}

// ---- Phone numbers ----

// Bounds of a phone number.
const (
	maxPhoneDigits = 15 // E.164
	maxPhoneSeps   = 3  // separator runes between two groups: " - ", ") "
)

// findPhones tries a phone number at each rune that may start one.
func findPhones(text string, spans []span) []span {
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf && !('0' <= c && c <= '9' || c == '+' || c == '(') {
			i++ // the common case, in one comparison or two
			continue
		}
		r, size := decodeRune(text, i)
		if r != '+' && r != '＋' && r != '(' && digitValue(r) < 0 {
			i += size
			continue
		}
		if end, in := covered(spans, i); in {
			i = end
			continue
		}
		if phoneMayStart(text, i) {
			if s, ok := phoneAt(text, i); ok && !overlaps(spans, s) {
				spans = addSpan(spans, s)
				i = s.end
				continue
			}
		}
		i += size
	}
	return spans
}

// phoneMayStart: a number does not start inside a word, nor right after a joiner that
// continues one ("a456-0812…" of a UUID, "1.0812…").
func phoneMayStart(text string, i int) bool {
	if i == 0 {
		return true
	}
	prev, n := utf8.DecodeLastRuneInString(text[:i])
	if isWordRune(prev) {
		return false
	}
	if i-n == 0 {
		return true
	}
	before := lastRune(text[:i-n])
	switch prev {
	case '-', '_', '/':
		return !isWordRune(before)
	case '.':
		return digitValue(before) < 0
	}
	return true
}

// phoneAt reads digit groups from i and returns the longest run of them that is a phone
// number.
func phoneAt(text string, i int) (span, bool) {
	var digits [maxPhoneDigits]byte
	var ends [maxPhoneDigits]int // ends[k-1]: where the group closed by the k-th digit ends (0: none does)
	n, firstGroup := 0, 0
	pos, plus, paren := i, false, false
	// "+62 …", "(021) …", "(+62) …".
	for _, lead := range []struct {
		r1, r2 rune
		flag   *bool
	}{{'(', '(', &paren}, {'+', '＋', &plus}, {'(', '(', &paren}} {
		if pos < len(text) {
			if r, size := decodeRune(text, pos); r == lead.r1 || r == lead.r2 {
				*lead.flag, pos = true, pos+size
			}
		}
	}
	for pos < len(text) {
		count := 0
		for pos < len(text) {
			r, size := decodeRune(text, pos)
			d := digitValue(r)
			if d < 0 {
				break
			}
			if n+count == maxPhoneDigits {
				return pickPhone(text, i, digits[:n], ends[:n], firstGroup, plus, paren) // the groups before this one
			}
			digits[n+count] = byte('0' + d)
			count++
			pos += size
		}
		if count == 0 {
			break
		}
		if n == 0 {
			firstGroup = count
		}
		n += count
		ends[n-1] = pos
		// Up to maxPhoneSeps separators, and the next group must follow them.
		next, seps := pos, 0
		for next < len(text) && seps < maxPhoneSeps {
			r, size := decodeRune(text, next)
			if !isPhoneSep(r) {
				break
			}
			next, seps = next+size, seps+1
		}
		if seps == 0 || next == len(text) {
			break
		}
		if r, _ := decodeRune(text, next); digitValue(r) < 0 {
			break
		}
		pos = next
	}
	return pickPhone(text, i, digits[:n], ends[:n], firstGroup, plus, paren)
}

// pickPhone returns the longest prefix of the digit groups read from start that is a phone
// number and ends where a number may end. ends[k] is set where digit k closes a group.
func pickPhone(text string, start int, digits []byte, ends []int, firstGroup int, plus, paren bool) (span, bool) {
	for k := len(digits); k > 0; k-- {
		end := ends[k-1]
		if end == 0 || !isPhone(digits[:k], firstGroup, plus) || !phoneMayEnd(text, end) {
			continue
		}
		s := span{start, end}
		if paren && !strings.ContainsRune(text[start:end], ')') {
			// "(0812 3456 7890)": the "(" is the sentence's, not the number's.
			s.start += strings.IndexByte(text[start:], '(') + 1
		}
		return s, true
	}
	return span{}, false
}

// isPhone applies the rules of MaskContacts to the digits of a number (its first group
// has firstGroup digits).
func isPhone(d []byte, firstGroup int, plus bool) bool {
	n := len(d)
	switch {
	case plus:
		return n >= 8 && n <= maxPhoneDigits
	case d[0] == '6' && n >= 2 && d[1] == '2':
		return n >= 10 && n <= 14
	case d[0] == '0':
		return n >= 9 && n <= 13 && d[1] >= '2' && firstGroup != 2
	}
	return false
}

// phoneMayEnd: the number is not glued to a letter or digit, nor continued by a joiner
// ("…-1234-…" of a UUID).
func phoneMayEnd(text string, end int) bool {
	if end == len(text) {
		return true
	}
	next, n := decodeRune(text, end)
	if isWordRune(next) {
		return false
	}
	if end+n == len(text) {
		return true
	}
	after, _ := decodeRune(text, end+n)
	switch next {
	case '-', '_', '/':
		return !isWordRune(after)
	case '.':
		return digitValue(after) < 0
	}
	return true
}

// isPhoneSep: what people put between the groups of a phone number.
func isPhoneSep(r rune) bool {
	switch r {
	case ' ', '\u00a0', '-', '‐', '‑', '–', '—', '.', '(', ')':
		return true
	}
	return false
}

// digitValue is r's value as a decimal digit, ASCII or full-width (-1: not a digit).
func digitValue(r rune) int {
	switch {
	case '0' <= r && r <= '9':
		return int(r - '0')
	case '０' <= r && r <= '９':
		return int(r - '０')
	}
	return -1
}

func overlaps(spans []span, s span) bool {
	for _, o := range spans {
		if o.start < s.end && s.start < o.end {
			return true
		}
	}
	return false
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isHostByte(c byte) bool { return isASCIILetter(c) || '0' <= c && c <= '9' || c == '-' }
