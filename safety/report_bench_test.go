package safety_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

// BenchmarkReports files a report naming two messages, reads the queue's first page with
// 1,000 open reports, and resolves a report with a warning, on each backend. They print
// figures; nothing fails on timing.
func BenchmarkReports(b *testing.B) {
	for _, be := range reportBackends {
		b.Run(be.name, func(b *testing.B) {
			store, f := be.open(b)
			reports, err := safety.NewReports(store, safety.ReportsDeps{}, nil)
			require.NoError(b, err)
			ctx := reportCtx(b)
			// session returns a fresh session with two messages of its mitra (made with the
			// timer stopped).
			session := func(b *testing.B) (pairing.ChatSession, []uuid.UUID) {
				b.StopTimer()
				defer b.StartTimer()
				s := f.startSession(b, reportT0)
				var ids []uuid.UUID
				for range 2 {
					ids = append(ids, sendMessage(b, f, s, pairing.PartyMitra, reportT0.Add(time.Second)).ID)
				}
				return s, ids
			}
			var filed []uuid.UUID
			b.Run("File", func(b *testing.B) {
				for b.Loop() {
					s, msgs := session(b)
					r, err := reports.File(ctx, safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyClient,
						ReporterID: s.ClientID, Reason: safety.ReasonHarassment, MessageIDs: msgs, Note: "dia kasar"})
					require.NoError(b, err)
					filed = append(filed, r.ID)
				}
			})
			for len(filed) < 1000 {
				s, _ := session(b)
				r, err := reports.File(ctx, safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyClient,
					ReporterID: s.ClientID, Reason: safety.ReasonSpam})
				require.NoError(b, err)
				filed = append(filed, r.ID)
			}
			b.Run("ListOpenFirstPage", func(b *testing.B) {
				for b.Loop() {
					_, _, err := reports.List(ctx, safety.ReportQuery{Status: safety.ReportOpen, PageSize: 20})
					require.NoError(b, err)
				}
			})
			b.Run("ResolveWarned", func(b *testing.B) {
				i := 0
				for b.Loop() {
					if i == len(filed) {
						s, _ := session(b)
						b.StopTimer()
						r, err := reports.File(ctx, safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyClient,
							ReporterID: s.ClientID, Reason: safety.ReasonSpam})
						require.NoError(b, err)
						filed = append(filed, r.ID)
						b.StartTimer()
					}
					_, err := reports.Resolve(ctx, safety.ResolveParams{ReportID: filed[i], Outcome: safety.OutcomeWarned, Note: "jaga"})
					require.NoError(b, err)
					i++
				}
			})
		})
	}
}
