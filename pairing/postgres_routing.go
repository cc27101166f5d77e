package pairing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// countAnswers is the part of a statement that counts the offers its CTE d decided (d
// returns a mitra_id per offer) into pairing_mitra_stats.column, at now (a placeholder):
// the ranking's acceptance rate is kept in the statement that decides, never in one more.
// Rows are upserted in mitra order, as every writer of pairing_mitra_stats does. An
// accepted or declined offer is the mitra's answer: it also starts its count of offers
// missed in a row again (what ResetMissedOffers does), in the same statement.
func countAnswers(column, now string) string {
	reset := "missed_offers = 0, "
	if column == "offers_lapsed" {
		reset = ""
	}
	return `, counted AS (INSERT INTO pairing_mitra_stats (mitra_id, ` + column + `, updated_at)
		SELECT mitra_id, count(*), ` + now + ` FROM d GROUP BY mitra_id ORDER BY mitra_id
		ON CONFLICT (mitra_id) DO UPDATE SET ` + column + ` = pairing_mitra_stats.` + column + ` + EXCLUDED.` + column + `,
			` + reset + `updated_at = EXCLUDED.updated_at)`
}

// storedPreferences and storedStep are the JSON of pairings.preferences and
// pairings.routing_steps (the SDK's types carry no JSON tags).
type storedPreferences struct {
	Language string   `json:"language,omitempty"`
	Topics   []string `json:"topics,omitempty"`
	Gender   string   `json:"gender,omitempty"`
}

type storedStep struct {
	Match   RouteMatch `json:"match"`
	Seconds int        `json:"seconds,omitempty"`
}

// jsonOrNull is v as JSON, or SQL NULL for nil preferences or steps.
func jsonOrNull(v any) any {
	var out any
	switch x := v.(type) {
	case *Preferences:
		if x == nil {
			return nil
		}
		out = storedPreferences(*x)
	case []RoutingStep:
		if x == nil {
			return nil
		}
		steps := make([]storedStep, len(x))
		for i, s := range x {
			steps[i] = storedStep(s)
		}
		out = steps
	default:
		panic(fmt.Sprintf("pairing: no stored JSON for %T", v))
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic(err) // plain structs of strings and numbers always marshal
	}
	return b
}

func decodeRouting(p *Pairing, prefs, steps []byte) error {
	if prefs != nil {
		var sp storedPreferences
		if err := json.Unmarshal(prefs, &sp); err != nil {
			return fmt.Errorf("decode preferences of pairing %s: %w", p.ID, err)
		}
		p.Preferences = (*Preferences)(&sp)
	}
	if steps != nil {
		var ss []storedStep
		if err := json.Unmarshal(steps, &ss); err != nil {
			return fmt.Errorf("decode routing steps of pairing %s: %w", p.ID, err)
		}
		p.RoutingSteps = make([]RoutingStep, len(ss))
		for i, s := range ss {
			p.RoutingSteps[i] = RoutingStep(s)
		}
	}
	return nil
}

func (s *PostgresStore) AdvanceStep(ctx context.Context, r StepParams) (Pairing, error) {
	p, err := queryOne(ctx, s.db, pgutil.SQL.Update("pairings").
		Set("routing_step", r.To).Set("next_step_at", r.NextStepAt).Set("updated_at", r.Now).
		Where(sq.Eq{"id": r.ID, "status": string(StatusSearching), "routing_step": r.From}).
		Suffix("RETURNING "+pairingColumns), scanPairing)
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := s.GetPairing(ctx, r.ID)
		if gerr != nil {
			return Pairing{}, gerr
		}
		return Pairing{}, fmt.Errorf("pairing %s is %s at routing step %d: %w", r.ID, cur.Status, cur.RoutingStep, ErrInvalidState)
	}
	return p, pgutil.Translate(err)
}

func (s *PostgresStore) OfferAnswers(ctx context.Context, mitraIDs []uuid.UUID) (map[uuid.UUID]OfferAnswers, error) {
	out := map[uuid.UUID]OfferAnswers{}
	if len(mitraIDs) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT mitra_id, offers_accepted, offers_declined, offers_lapsed
		FROM pairing_mitra_stats WHERE mitra_id = ANY($1)`, uuidArray(mitraIDs))
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var a OfferAnswers
		if err := rows.Scan(&id, &a.Accepted, &a.Declined, &a.Lapsed); err != nil {
			return nil, pgutil.Translate(err)
		}
		out[id] = a
	}
	return out, pgutil.Translate(rows.Err())
}
