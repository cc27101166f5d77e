package safety_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

// BenchmarkScreener_Screen is the screening's cost per message, on the path of every send:
// the crisis terms (the default list, read from settings that serve one slice, as the
// runtime config's cache does) and the contact scan. Clean messages allocate nothing; a
// masked one allocates its new text and its flags.
//
//	go test -run '^$' -bench Screen -benchmem ./safety/
func BenchmarkScreener_Screen(b *testing.B) {
	long := strings.Repeat("aku cuma mau cerita soal kerjaan yang bikin capek, ", 80) // ~4000 characters
	for _, c := range []struct {
		name   string
		sender pairing.Party
		text   string
	}{
		{"client-clean-short", pairing.PartyClient, "halo, kak — boleh cerita sebentar?"},
		{"client-clean-emoji", pairing.PartyClient, "makasih ya kak, lega banget rasanya 🙏😊"},
		{"client-clean-4000", pairing.PartyClient, long[:4000]},
		{"client-time-and-price", pairing.PartyClient, "jam 08.30 ya kak, harganya Rp 30.000 untuk 60 menit kan?"},
		{"client-contact", pairing.PartyClient, "WA aku aja 0812-3456-7890 atau @budi_s"},
		{"client-crisis", pairing.PartyClient, "aku ingin mati rasanya"},
		{"mitra-clean-short", pairing.PartyMitra, "boleh banget, ceritakan pelan-pelan ya"},
	} {
		b.Run(c.name, func(b *testing.B) {
			sc := safety.NewScreener(&settings{terms: safety.DefaultCrisisTerms()})
			in := chat.Screening{ChatSessionID: uuid.New(), Sender: c.sender, Text: c.text, Flags: []chat.Flag{}}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(len(c.text)))
			for b.Loop() {
				if _, err := sc.Screen(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
