package safety

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/curhat/curhat/internal/core"
)

// DefaultResourcesText is the default of the safety_resources_text setting: what a client
// whose message matched a crisis term is sent (SafetyResourcesEvent). It names Indonesia's
// emergency number (112) and the Ministry of Health's mental-health line (SEJIWA, 119
// extension 8); a deployment elsewhere sets its own on the Config page.
const DefaultResourcesText = "Kamu tidak sendirian. Kalau kamu sedang berpikir untuk menyakiti diri sendiri atau " +
	"merasa dalam bahaya, hubungi layanan darurat 112 atau Layanan SEJIWA 119 ext 8 (24 jam). " +
	"Kamu juga bisa meminta orang yang kamu percaya untuk menemanimu sekarang."

// Bounds of the safety settings, checked when they are written (curhat's runtime config).
const (
	// MaxCrisisTerms is the most terms safety_crisis_terms may hold (at least 1).
	MaxCrisisTerms = 200
	// MaxCrisisTermLength is the longest term, in characters (at least 1).
	MaxCrisisTermLength = 100
	// MaxResourcesTextLength is the longest safety_resources_text, in characters (at
	// least 1).
	MaxResourcesTextLength = 2000
)

// defaultCrisisTerms are chosen for a strong signal in a chat where people vent: each
// says that the writer thinks of dying or of hurting themselves. Phrases that are common
// in ordinary talk are left out, so that operators are not trained to ignore the alerts:
// the bare "mau mati" ("about to die") is mostly a phone's battery or the lights ("hp-ku
// mau mati"), so only "mau mati aja/saja" ("I just want to die") is in; "capek hidup"
// ("tired of life") is distress more often than danger. Operators add and remove terms on
// the Config page (safety_crisis_terms).
var defaultCrisisTerms = []string{
	// Indonesian, formal and colloquial.
	"bunuh diri", "bundir", "ingin mati", "pengen mati", "pingin mati", "kepingin mati", "mau mati aja", "mau mati saja",
	"lebih baik mati", "mending mati", "mengakhiri hidup", "mengakhiri hidupku", "akhiri hidup", "akhiri hidupku",
	"tidak ingin hidup lagi", "tidak mau hidup lagi", "gak mau hidup lagi", "nggak mau hidup lagi", "ga mau hidup lagi",
	"menyakiti diri", "melukai diri", "gantung diri", "sayat tangan", "nyayat tangan",
	// English.
	"suicide", "suicidal", "kill myself", "killing myself", "end my life", "ending my life", "want to die",
	"wanna die", "take my own life", "better off dead", "self harm", "selfharm", "hurt myself", "cut myself",
}

// DefaultCrisisTerms returns the default of the safety_crisis_terms setting: Indonesian
// and English words and phrases that say the writer thinks of suicide or self-harm (a new
// slice each call).
func DefaultCrisisTerms() []string { return slices.Clone(defaultCrisisTerms) }

// CheckTerm reports why term cannot be a crisis term: it must hold at least one word (a
// letter or a digit), since a term matches whole words only.
func CheckTerm(term string) error {
	if len(termWords(term)) == 0 {
		return core.Invalid("value", "the crisis term %q holds no word (letters or digits)", term)
	}
	return nil
}

// How crisis terms match: the text and the terms are NFKC-normalised (so that "ｓｕｉｃｉｄｅ"
// and the ligature "ﬁ" match their plain letters) and compared ignoring case, word by word.
// A word is a run of letters, digits and combining marks; everything else separates words,
// and any number of separators may stand between the words of a phrase ("bunuh diri",
// "Bunuh-diri", "bunuh   diri!"). A term matches whole words only: "mati" is not found in
// "matikan", nor "bunuh diri" in "bunuhdiri" (add such a spelling as a term of its own).

// termSet is a compiled list of crisis terms, built once per list the settings serve.
type termSet struct {
	// src is the list it was built from: the settings serve one slice until the value
	// changes, so the common check is one comparison of two slice headers.
	src   []string
	terms []term
	// byFirst indexes the terms by the hash of their first word; firstBloom is a Bloom
	// filter of those hashes, so that most words of a text are passed over without a map
	// lookup.
	byFirst    map[uint64][]int32
	firstBloom bloom
}

// bloom is a 1024-bit Bloom filter of word hashes, two bits each: with the 40 or so first
// words of the default terms about 1 word in 200 that is none of them passes.
type bloom [16]uint64

func (b *bloom) add(h uint64) {
	b[h>>6&15] |= 1 << (h & 63)
	b[h>>16&15] |= 1 << (h >> 10 & 63)
}

func (b *bloom) has(h uint64) bool {
	return b[h>>6&15]&(1<<(h&63)) != 0 && b[h>>16&15]&(1<<(h>>10&63)) != 0
}

type term struct {
	text  string   // as configured
	words []string // NFKC, lower case
}

func compileTerms(src []string) *termSet {
	ts := &termSet{src: src, byFirst: make(map[uint64][]int32, len(src))}
	for _, t := range src {
		words := termWords(t)
		if len(words) == 0 {
			continue
		}
		h := foldHash(words[0])
		ts.byFirst[h] = append(ts.byFirst[h], int32(len(ts.terms)))
		ts.firstBloom.add(h)
		ts.terms = append(ts.terms, term{text: t, words: words})
	}
	return ts
}

// termWords splits a term into its words, normalised and in lower case.
func termWords(t string) []string {
	t = norm.NFKC.String(t)
	var words []string
	for start, end := nextWord(t, 0); start < end; start, end = nextWord(t, end) {
		words = append(words, lower(t[start:end]))
	}
	return words
}

// any reports whether text holds any of the terms.
func (ts *termSet) any(text string) bool {
	_, _, ok := ts.next(normalized(text), 0)
	return ok
}

// all returns the terms text holds, as configured, in the order of their first occurrence
// (nil: none).
func (ts *termSet) all(text string) []string {
	text = normalized(text)
	var out []string
	for from := 0; ; {
		start, cands, ok := ts.next(text, from)
		if !ok {
			return out
		}
		end := wordEnd(text, start)
		for _, i := range cands {
			if t := &ts.terms[i]; ts.matchesAt(text, start, end, t) && !slices.Contains(out, t.text) {
				out = append(out, t.text)
			}
		}
		from = end
	}
}

// next finds the first word of text at or after from where a term matches: its start and
// the terms whose first word it is (at least one of them matches there).
func (ts *termSet) next(text string, from int) (start int, cands []int32, ok bool) {
	if len(ts.terms) == 0 {
		return 0, nil, false
	}
	for i := from; ; {
		start, end, h := scanWord(text, i)
		if start == end {
			return 0, nil, false
		}
		i = end
		if !ts.firstBloom.has(h) {
			continue
		}
		for _, c := range ts.byFirst[h] {
			if ts.matchesAt(text, start, end, &ts.terms[c]) {
				return start, ts.byFirst[h], true
			}
		}
	}
}

// normalized is text in NFKC: text itself when it is (all ASCII text is), without
// allocating; a normalised copy otherwise.
func normalized(text string) string {
	if isASCII(text) || norm.NFKC.QuickSpanString(text) == len(text) {
		return text
	}
	return norm.NFKC.String(text)
}

// matchesAt reports whether t's words are the words of text from the one at [start, end).
func (ts *termSet) matchesAt(text string, start, end int, t *term) bool {
	for k, w := range t.words {
		if k > 0 {
			if start, end = nextWord(text, end); start == end {
				return false
			}
		}
		if !equalLower(text[start:end], w) {
			return false
		}
	}
	return true
}

// A word is a run of letters, digits and combining marks (Mn); asciiWord marks the ASCII
// ones, asciiLower maps ASCII to lower case.
var asciiWord, asciiLower = func() (w [utf8.RuneSelf]bool, l [utf8.RuneSelf]byte) {
	for c := range utf8.RuneSelf {
		w[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		l[c] = byte(c)
		if 'A' <= c && c <= 'Z' {
			l[c] = byte(c + 'a' - 'A')
		}
	}
	return w, l
}()

const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

// scanWord returns the bounds of the first word of s at or after byte from (start == end
// == len(s) when there is none) and the fold hash of the word (foldHash): one pass, no
// allocation.
func scanWord(s string, from int) (start, end int, h uint64) {
	i := from
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiWord[c] {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if isWordRune(r) {
			break
		}
		i += size
	}
	start, h = i, fnvOffset
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if !asciiWord[c] {
				break
			}
			h = (h ^ uint64(asciiLower[c])) * fnvPrime
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			break
		}
		h = (h ^ uint64(unicode.ToLower(r))) * fnvPrime
		i += size
	}
	return start, i, h
}

// nextWord returns the bounds of the first word of s at or after byte from.
func nextWord(s string, from int) (start, end int) {
	start, end, _ = scanWord(s, from)
	return start, end
}

// wordEnd returns the end of the word that starts at start.
func wordEnd(s string, start int) int {
	_, end := nextWord(s, start)
	return end
}

func decodeRune(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiWord[r]
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func toLower(r rune) rune {
	if r < utf8.RuneSelf {
		return rune(asciiLower[r])
	}
	return unicode.ToLower(r)
}

// lower is strings.ToLower rune by rune (unicode.ToLower, as foldHash and equalLower).
func lower(s string) string { return strings.Map(toLower, s) }

// foldHash is FNV-1a over the lower-case runes of s (as scanWord computes it).
func foldHash(s string) uint64 {
	_, _, h := scanWord(s, 0)
	return h
}

// equalLower reports whether s in lower case is w (already lower case).
func equalLower(s, w string) bool {
	i, j := 0, 0
	for i < len(s) && j < len(w) {
		r1, n1 := decodeRune(s, i)
		r2, n2 := decodeRune(w, j)
		if toLower(r1) != r2 {
			return false
		}
		i, j = i+n1, j+n2
	}
	return i == len(s) && j == len(w)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
