package safety_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

func TestReportsFiledBy_ListsAPartysOwnReportsAndNoOneElses(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)
	for _, b := range reportBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store, f := b.open(t)
			filed, ok := store.(safety.FiledReports)
			require.True(t, ok, "the SDK's report stores list a party's reports")
			ctx := reportCtx(t)
			file := func(s pairing.ChatSession, by pairing.Party, id uuid.UUID, at time.Time) safety.Report {
				res, err := store.FileReport(ctx, safety.Report{ID: uuid.New(), ChatSessionID: s.ID, Reporter: by, ReporterID: id,
					Reason: safety.ReasonSpam, MessageIDs: []uuid.UUID{}, Note: "catatan", DueAt: at.Add(72 * time.Hour), CreatedAt: at})
				require.NoError(t, err)
				require.Equal(t, safety.Filed, res.Outcome)
				return res.Report
			}
			a, b2 := f.startSession(t, t0), f.startSession(t, t0)
			later := file(a, pairing.PartyClient, a.ClientID, t0.Add(time.Minute))
			byMitra := file(a, pairing.PartyMitra, a.MitraID, t0)
			file(b2, pairing.PartyClient, b2.ClientID, t0) // another client's

			got, err := filed.ReportsFiledBy(ctx, pairing.PartyClient, a.ClientID)
			require.NoError(t, err)
			require.Equal(t, []safety.Report{later}, got, "the client's own only, not the mitra's of its session")
			got, err = filed.ReportsFiledBy(ctx, pairing.PartyMitra, a.MitraID)
			require.NoError(t, err)
			require.Equal(t, []safety.Report{byMitra}, got)
			got, err = filed.ReportsFiledBy(ctx, pairing.PartyClient, uuid.New())
			require.NoError(t, err)
			require.Empty(t, got)
		})
	}
}
