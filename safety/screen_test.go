package safety_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

// The test vectors of the screening: what must be masked, exactly as it must come out, and
// what must come out as it went in.

// mustMask: each text and its masked form.
var mustMask = []struct{ name, in, want string }{
	// Phone numbers, in the forms people type.
	{"+62 with spaces and dashes", "+62 812-3456-7890", "[hidden]"},
	{"+62 glued", "+6281234567890", "[hidden]"},
	{"+62 in a sentence", "WA aku ya +62 812 3456 7890, makasih", "WA aku ya [hidden], makasih"},
	{"08 with spaces", "0812 3456 7890", "[hidden]"},
	{"08 with dashes", "0812-3456-7890", "[hidden]"},
	{"08 with dots", "hubungi aku di 0812.3456.7890 ya", "hubungi aku di [hidden] ya"},
	{"08 glued", "081234567890", "[hidden]"},
	{"08 eleven digits", "nomorku 0812345678", "nomorku [hidden]"},
	{"62 without plus", "6281234567890", "[hidden]"},
	{"62 with spaces", "62 812 3456 7890", "[hidden]"},
	{"digit by digit", "0 8 1 2 3 4 5 6 7 8 9 0", "[hidden]"},
	{"dashes with spaces", "0812 - 3456 - 7890", "[hidden]"},
	{"no-break spaces", "0812\u00a03456\u00a07890", "[hidden]"},
	{"en dashes", "0812–3456–7890", "[hidden]"},
	{"full-width digits", "０８１２３４５６７８９０", "[hidden]"},
	{"landline in parentheses", "(021) 555-1234", "[hidden]"},
	{"+62 in parentheses", "(+62) 812 3456 7890", "[hidden]"},
	{"other country", "call +1 (415) 555-0100", "call [hidden]"},
	{"after a colon", "WA:081234567890", "WA:[hidden]"},
	{"sentence parentheses stay", "hubungi (0812 3456 7890)", "hubungi ([hidden])"},
	{"sentence end stays", "nomorku 081234567890. Hubungi ya", "nomorku [hidden]. Hubungi ya"},
	{"a time before it", "jam 08.30 081234567890", "jam 08.30 [hidden]"},
	{"minutes after it", "0812 3456 7890 30 menit", "[hidden] 30 menit"},
	{"two numbers", "0812 3456 7890 atau 0813-1111-2222", "[hidden] atau [hidden]"},
	{"after an @", "@081234567890", "@[hidden]"},
	// E-mail addresses.
	{"e-mail", "email budi.santoso@gmail.com", "email [hidden]"},
	{"e-mail, sentence end", "kirim ke budi@mail.co.id.", "kirim ke [hidden]."},
	{"e-mail with plus and case", "Budi_S+curhat@Mail.COM", "[hidden]"},
	{"e-mail of digits", "081234567890@gmail.com", "[hidden]"},
	{"e-mail in brackets", "<budi@example.org>", "<[hidden]>"},
	// WhatsApp and Telegram links.
	{"wa.me", "wa.me/6281234567890", "[hidden]"},
	{"wa.me with scheme and query", "klik https://wa.me/6281234567890?text=halo ya", "klik [hidden] ya"},
	{"wa.me upper case", "WA.ME/6281234567890", "[hidden]"},
	{"api.whatsapp.com", "api.whatsapp.com/send?phone=6281234567890", "[hidden]"},
	{"chat.whatsapp.com", "gabung chat.whatsapp.com/AbCdEf123", "gabung [hidden]"},
	{"wa.link", "wa.link/abc123", "[hidden]"},
	{"t.me", "t.me/budi_s", "[hidden]"},
	{"t.me with scheme", "https://t.me/budi", "[hidden]"},
	{"t.me with www", "http://www.t.me/budi.", "[hidden]."},
	{"telegram.me", "telegram.me/budi", "[hidden]"},
	{"t.me in parentheses", "(t.me/budi)", "([hidden])"},
	{"app link", "tg://resolve?domain=budi", "[hidden]"},
	// @handles.
	{"handle", "ig @budi_ganteng", "ig [hidden]"},
	{"handle, sentence end", "follow @budi.", "follow [hidden]."},
	{"handle at the start", "@budi", "[hidden]"},
	{"handle with dot and digits", "telegram: @budi.s99 ya", "telegram: [hidden] ya"},
	{"handle in parentheses", "(@budi)", "([hidden])"},
	// Together.
	{"all kinds", "WA 0812-3456-7890, email a@b.co, t.me/budi, ig @budi", "WA [hidden], email [hidden], [hidden], ig [hidden]"},
}

// mustNotMask: texts that hold no contact detail.
var mustNotMask = []struct{ name, in string }{
	{"time", "08:30"},
	{"time with dots", "jam 08.30 ya"},
	{"time range", "jam 08.30-10.00"},
	{"evening time", "pukul 20.00 WIB"},
	{"price", "Rp 30.000"},
	{"price glued", "Rp30.000"},
	{"price bare", "30.000"},
	{"big price", "Rp 1.500.000.000"},
	{"price in a sentence", "harganya Rp 30.000 untuk 60 menit"},
	{"hours", "2 jam"},
	{"minutes", "30 menit lagi ya"},
	{"date", "tanggal 02-02-2026"},
	{"date with slashes", "12/05/2026"},
	{"ISO date", "2026-05-03"},
	{"date and time", "02-02-2026 08:30"},
	{"session id", "sesi 0190f3a2-7c1e-7b4d-9a8e-1f2e3d4c5b6a"},
	{"UUID of digits", "12345678-1234-1234-1234-123456789012"},
	{"UUID starting like a phone", "08123456-1234-4234-9234-123456789012"},
	{"UUID glued to letters", "0812d4a0-1234-4234-9234-123456789012"},
	{"short number", "kamar 0812"},
	{"code starting 01", "kode 0123456789"},
	{"bank account", "rekening 1234567890"},
	{"too long to be a phone", "0812345678901234567"},
	{"sixteen digits with plus", "+62 812-3456-7890-1234"},
	{"glued to letters", "0812-3456-7890abc"},
	{"date with 2-digit start", "08 1234 5678"},
	{"not a link", "cat.me/x"},
	{"not a link: path", "https://example.com/t.me/x"},
	{"a host without a path", "pakai wa.me aja"},
	{"no TLD", "budi@rumah"},
	{"at sign with a space", "ketemu @ 10"},
	{"at sign and digits", "@10"},
	{"e-mail without a domain", "budi@"},
	{"plain text", "Kak, aku mau cerita. Boleh?"},
	{"emoji", "makasih ya 🙏😊"},
	{"a plus number", "+5 menit"},
	{"a score", "skor 3-2"},
}

func TestMaskContacts_Vectors(t *testing.T) {
	t.Parallel()
	for _, v := range mustMask {
		got, found := safety.MaskContacts(v.in)
		require.True(t, found, "%s: %q", v.name, v.in)
		require.Equal(t, v.want, got, "%s: %q", v.name, v.in)
	}
	for _, v := range mustNotMask {
		got, found := safety.MaskContacts(v.in)
		require.False(t, found, "%s: %q came out %q", v.name, v.in, got)
		require.Equal(t, v.in, got, v.name)
	}
}

// crisisVectors: client messages and the default crisis terms each holds (none: not a
// crisis message).
var crisisVectors = []struct {
	in    string
	terms []string
}{
	{"aku ingin mati", []string{"ingin mati"}},
	{"Aku INGIN   MATI!!!", []string{"ingin mati"}},
	{"pengen bunuh-diri rasanya", []string{"bunuh diri"}},
	{"kadang aku mau mati aja", []string{"mau mati aja"}},
	{"lebih baik mati. mau bunuh diri", []string{"lebih baik mati", "bunuh diri"}},
	{"I want to kill myself", []string{"kill myself"}},
	{"SUICIDE", []string{"suicide"}},
	{"ｓｕｉｃｉｄｅ", []string{"suicide"}}, // full-width: NFKC
	{"thinking about self-harm again", []string{"self harm"}},
	{"aku pernah menyakiti diri sendiri", []string{"menyakiti diri"}},
	{"bundir aja lah", []string{"bundir"}},
	// Not crisis messages.
	{"hp aku mau mati, baterainya habis", nil},
	{"tolong matikan lampunya", nil},
	{"bunuhdiri", nil}, // whole words only
	{"suicides", nil},
	{"aku capek hidup", nil},
	{"I'll kill my cat myself", nil},
	{"Kak, aku mau cerita", nil},
}

func TestScreener_CrisisTermsMatchWholeWordsIgnoringCaseAndWidth(t *testing.T) {
	t.Parallel()
	sc := safety.NewScreener(nil)
	for _, v := range crisisVectors {
		require.Equal(t, v.terms, sc.CrisisTerms(context.Background(), v.in), "%q", v.in)
	}
}

func screen(t *testing.T, sc *safety.Screener, sender pairing.Party, text string) chat.Screening {
	t.Helper()
	out, err := sc.Screen(context.Background(), chat.Screening{ChatSessionID: uuid.New(), Sender: sender, Text: text, Flags: []chat.Flag{}})
	require.NoError(t, err)
	return out
}

func TestScreener_FlagsAClientsCrisisMessageAndMasksEveryonesContacts(t *testing.T) {
	t.Parallel()
	sc := safety.NewScreener(nil)
	for _, c := range []struct {
		sender pairing.Party
		in     string
		text   string
		flags  []chat.Flag
	}{
		{pairing.PartyClient, "halo kak", "halo kak", []chat.Flag{}},
		{pairing.PartyClient, "aku ingin mati", "aku ingin mati", []chat.Flag{safety.FlagCrisis}},
		{pairing.PartyClient, "aku ingin mati, WA 0812 3456 7890", "aku ingin mati, WA [hidden]",
			[]chat.Flag{safety.FlagContact, safety.FlagCrisis}},
		{pairing.PartyClient, "WA aku 0812-3456-7890", "WA aku [hidden]", []chat.Flag{safety.FlagContact}},
		// The mitra's messages are masked, never flagged crisis (SPEC: a client's message).
		{pairing.PartyMitra, "kamu ingin mati? ceritakan", "kamu ingin mati? ceritakan", []chat.Flag{}},
		{pairing.PartyMitra, "ig aku @mitra_ayu", "ig aku [hidden]", []chat.Flag{safety.FlagContact}},
	} {
		out := screen(t, sc, c.sender, c.in)
		require.Equal(t, c.text, out.Text, "%s: %q", c.sender, c.in)
		require.Equal(t, c.flags, out.Flags, "%s: %q", c.sender, c.in)
	}
}

func TestScreener_RefusesAMaskedTextPastTheLimit(t *testing.T) {
	t.Parallel()
	text := strings.TrimSpace(strings.Repeat("@a ", chat.MaxTextLength/3))
	_, err := safety.NewScreener(nil).Screen(context.Background(), chat.Screening{Sender: pairing.PartyClient, Text: text, Flags: []chat.Flag{}})
	check.Invalid(t, err, "text")
}

// settings serves crisis terms a test changes, as the runtime config would.
type settings struct {
	mu    sync.Mutex
	terms []string
	text  string
	reads int
}

func (s *settings) SafetyCrisisTerms(context.Context) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.terms
}

func (s *settings) SafetyResourcesText(context.Context) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.text
}

func (s *settings) set(terms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.terms = terms
}

func TestScreener_AppliesANewListOfTermsFromTheNextMessage(t *testing.T) {
	t.Parallel()
	st := &settings{terms: []string{"mau mati"}}
	sc := safety.NewScreener(st)
	require.Equal(t, []chat.Flag{safety.FlagCrisis}, screen(t, sc, pairing.PartyClient, "aku mau mati").Flags)
	require.Empty(t, screen(t, sc, pairing.PartyClient, "aku putus asa").Flags)
	st.set("putus asa")
	require.Equal(t, []chat.Flag{safety.FlagCrisis}, screen(t, sc, pairing.PartyClient, "aku putus asa").Flags)
	require.Empty(t, screen(t, sc, pairing.PartyClient, "aku mau mati").Flags)
	// The same terms in a new slice (the cache read them again): still the same rules.
	st.set(slices.Clone([]string{"putus asa"})...)
	require.Equal(t, []string{"putus asa"}, sc.CrisisTerms(context.Background(), "Putus-asa."))
	// Mitra messages never read the terms.
	reads := st.reads
	screen(t, sc, pairing.PartyMitra, "aku putus asa")
	require.Equal(t, reads, st.reads)
}

func TestCheckTerm_RefusesATermWithoutWords(t *testing.T) {
	t.Parallel()
	require.NoError(t, safety.CheckTerm("bunuh diri"))
	require.NoError(t, safety.CheckTerm("ｓｕｉｃｉｄｅ"))
	require.Error(t, safety.CheckTerm("!!!"))
	require.Error(t, safety.CheckTerm(" - "))
}

func TestDefaultCrisisTerms_AreValidAndWithinBounds(t *testing.T) {
	t.Parallel()
	terms := safety.DefaultCrisisTerms()
	require.NotEmpty(t, terms)
	require.LessOrEqual(t, len(terms), safety.MaxCrisisTerms)
	for _, term := range terms {
		require.NoError(t, safety.CheckTerm(term))
		require.LessOrEqual(t, len([]rune(term)), safety.MaxCrisisTermLength)
		require.Equal(t, strings.TrimSpace(term), term)
	}
	terms[0] = "changed"
	require.NotEqual(t, "changed", safety.DefaultCrisisTerms()[0], "a copy each call")
	require.LessOrEqual(t, len([]rune(safety.DefaultResourcesText)), safety.MaxResourcesTextLength)
}

// Masking never fails on any input: the output is UTF-8 when the input is, and what it
// keeps of the input comes in order around the masks.
func FuzzMaskContacts(f *testing.F) {
	for _, v := range mustMask {
		f.Add(v.in)
	}
	for _, v := range mustNotMask {
		f.Add(v.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, found := safety.MaskContacts(in)
		if !found {
			require.Equal(t, in, out)
			return
		}
		if utf8.ValidString(in) {
			require.True(t, utf8.ValidString(out), "%q → %q", in, out)
		}
		rest := in
		for _, kept := range strings.Split(out, safety.Mask) {
			i := strings.Index(rest, kept)
			require.GreaterOrEqual(t, i, 0, "%q → %q: %q is not in the input", in, out, kept)
			rest = rest[i+len(kept):]
		}
		safety.NewScreener(nil).CrisisTerms(context.Background(), in)
	})
}
