package safety

import (
	"context"
	"slices"
	"sync/atomic"
	"unicode/utf8"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

// The flags the Screener sets on a message (chat.Message.Flags), in this order.
const (
	// FlagContact: contact details were masked in the message's text (MaskContacts).
	FlagContact chat.Flag = "contact"
	// FlagCrisis: the client's message matched a crisis term (safety_crisis_terms). The
	// message is delivered as it is (contact details masked); Alerts acts on the flag.
	FlagCrisis chat.Flag = "crisis"
)

// Screener is the safety screening of chat messages, a chat.Screener: the chat service runs
// it on every message before the store, and what it returns is what is stored, delivered
// and answered to every replay.
//
//   - Contact details (MaskContacts) are replaced by Mask in every message, the client's
//     and the mitra's alike, and the message is flagged FlagContact: the parties keep
//     their conversation on the platform.
//   - A client's message that matches a crisis term (the safety_crisis_terms setting,
//     matched as CrisisTerms says) is flagged FlagCrisis and delivered. A mitra's messages
//     are not matched: the rule protects the client who writes them, and a mitra quoting
//     or answering them must not raise alerts of its own.
//
// Screening never refuses a message for what it says, and never ends a session. It costs
// a few hundred nanoseconds for a short message and allocates only what it changes (the
// masked text, the flags): the terms are compiled once per value of the setting, which it
// reads at every client message from the settings' cache, so that a new list applies from
// the next message after the runtime config sees it.
//
// It is safe for concurrent use.
type Screener struct {
	settings Settings
	compiled atomic.Pointer[termSet]
}

var _ chat.Screener = (*Screener)(nil)

// NewScreener returns a Screener reading its crisis terms from settings
// (*curhat.RuntimeConfig; nil: DefaultSettings).
func NewScreener(settings Settings) *Screener {
	if settings == nil {
		settings = DefaultSettings{}
	}
	return &Screener{settings: settings}
}

// Screen masks the contact details of s.Text and flags the message (see Screener). The
// only error is a masked text longer than chat.MaxTextLength (a text of little else than
// very short handles): a *ValidationError on "text", nothing stored.
func (sc *Screener) Screen(ctx context.Context, s chat.Screening) (chat.Screening, error) {
	crisis := s.Sender == pairing.PartyClient && sc.terms(ctx).any(s.Text)
	if masked, found := MaskContacts(s.Text); found {
		if utf8.RuneCountInString(masked) > chat.MaxTextLength {
			return s, core.Invalid("text", "holds too many contact details: masked, it would be longer than %d characters",
				chat.MaxTextLength)
		}
		s.Text = masked
		s.Flags = appendFlag(s.Flags, FlagContact)
	}
	if crisis {
		s.Flags = appendFlag(s.Flags, FlagCrisis)
	}
	return s, nil
}

// CrisisTerms returns the crisis terms text holds, as configured, in the order of their
// first occurrence (nil: none). Text and terms are NFKC-normalised and compared ignoring
// case, on whole words: a term matches a run of whole words of the text ("Bunuh-diri!"
// holds "bunuh diri"; "matikan" does not hold "mati"), whatever separates them.
func (sc *Screener) CrisisTerms(ctx context.Context, text string) []string {
	return sc.terms(ctx).all(text)
}

// terms returns the compiled crisis terms of the settings' current list: the one compiled
// before while the list is the same.
func (sc *Screener) terms(ctx context.Context) *termSet {
	src := sc.settings.SafetyCrisisTerms(ctx)
	cur := sc.compiled.Load()
	if cur != nil && sameSlice(cur.src, src) {
		return cur
	}
	if cur != nil && slices.Equal(cur.src, src) {
		// The same list read again (the cache's MaxAge): keep the compiled terms.
		sc.compiled.CompareAndSwap(cur, &termSet{src: src, terms: cur.terms, byFirst: cur.byFirst})
		return cur
	}
	next := compileTerms(src)
	sc.compiled.Store(next)
	return next
}

func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func appendFlag(flags []chat.Flag, f chat.Flag) []chat.Flag {
	if slices.Contains(flags, f) {
		return flags
	}
	return append(flags, f)
}
