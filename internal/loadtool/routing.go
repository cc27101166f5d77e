package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// Routing quality (SPEC §26), in process over the SDK (curhat.NewClient on the dataset's
// schema and key prefix, sweeps off): how evenly a long run of blasts spreads its offers
// over equal mitras, and what filtering by labels adds to the offer path.
const (
	fairMitras       = 50               // equal mitras of the fairness run
	fairRingSize     = 3                // pairing_ring_size of the fairness run
	fairRingInterval = 1                // pairing_ring_interval_seconds: as short as allowed
	fairGoal         = 0.2              // the Gini coefficient of offers per mitra it must stay under
	routingMinutes   = 30               // the tier every blast buys
	routingCostGoal  = 1.10             // with / without preferences, p50 of the offer path
	routingWarm      = 10               // uncounted blasts per arm before the label-cost samples
	routingStale     = time.Hour        // heartbeats stay fresh for the whole run
	routingStop      = 30 * time.Second // bound on stopping a Client
)

// routingPrefs are the preferences of the label-cost blasts: the mitras' labels are spread
// so that exactly one in ten fits all of them (routing step 0, match all).
var routingPrefs = pairing.Preferences{Language: "jv", Topics: []string{"work"}, Gender: "female"}

// routingScenario prints the fairness table, then the label-filtering cost for each -routing-n.
func (t *tool) routingScenario(ctx context.Context) error {
	fmt.Printf("# routing\n\n")
	t.fairness(ctx)
	t.labelCost(ctx)
	return nil
}

// routingClient is a started Client over dataset d: fake gateway, in-process bus, the
// dataset's key prefix, the offer events recorded by log, Valkey round trips counted.
func (t *tool) routingClient(ctx context.Context, d *dataset, fanoutCap int, log *offerLog) (*curhat.Client, *countingClient, error) {
	cc := &countingClient{Client: t.valkey}
	c, err := curhat.NewClient(d.pool, cc, &curhat.Config{
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		KeyNames:       curhat.NewKeyNames(d.prefix, false),
		Gateway:        payment.NewFakeGateway(),
		Notifier:       log,
		Bus:            curhat.NewMemoryBus(),
		StaleThreshold: routingStale,
		FanoutCap:      fanoutCap,
		Sweeps:         curhat.SweepsConfig{Disabled: true},
	})
	if err != nil {
		return nil, nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, nil, err
	}
	if _, err := c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: routingMinutes, Price: 25000, ChangedBy: "loadtool"}); err != nil {
		stopClient(c)
		return nil, nil, fmt.Errorf("create the price tier: %w", err)
	}
	return c, cc, nil
}

func stopClient(c *curhat.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), routingStop)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		logf("routing: stop the client: %v", err)
	}
}

// setConfig sets runtime settings, each a JSON value.
func setConfig(ctx context.Context, c *curhat.Client, kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if _, err := c.Runtime().Set(ctx, kv[i], json.RawMessage(kv[i+1]), "loadtool"); err != nil {
			return fmt.Errorf("set %s: %w", kv[i], err)
		}
	}
	return nil
}

// offerLog keeps, for each pairing, the mitras of its first offer event in the order the
// Pairer sent them (a ring's are in ranking order); every other event is dropped.
type offerLog struct {
	mu    sync.Mutex
	first map[uuid.UUID][]uuid.UUID
}

func newOfferLog() *offerLog { return &offerLog{first: map[uuid.UUID][]uuid.UUID{}} }

func (l *offerLog) Notify(_ context.Context, e pairing.Event) {
	if e.MitraID != nil {
		l.add(e, []uuid.UUID{*e.MitraID})
	}
}

func (l *offerLog) NotifyMitras(_ context.Context, e pairing.Event, mitras []uuid.UUID) {
	l.add(e, mitras)
}

func (l *offerLog) add(e pairing.Event, mitras []uuid.UUID) {
	o, ok := e.Payload.(pairing.PairingOfferEvent)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, seen := l.first[o.PairingID]; !seen {
		l.first[o.PairingID] = slices.Clone(mitras)
	}
}

// take returns and forgets the mitras of a pairing's first offer event.
func (l *offerLog) take(pairingID uuid.UUID) []uuid.UUID {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.first[pairingID]
	delete(l.first, pairingID)
	return m
}

// gini is the Gini coefficient of counts: 0 when every count is equal (or all are 0),
// (n-1)/n when one holds everything. From the counts sorted ascending x₁ ≤ … ≤ xₙ:
// G = 2 Σ i·xᵢ / (n Σ xᵢ) − (n+1)/n.
func gini(counts []float64) float64 {
	n := len(counts)
	if n == 0 {
		return 0
	}
	s := slices.Clone(counts)
	slices.Sort(s)
	var total, weighted float64
	for i, x := range s {
		total += x
		weighted += float64(i+1) * x
	}
	if total == 0 {
		return 0
	}
	return max(2*weighted/(float64(n)*total)-float64(n+1)/float64(n), 0)
}

// fairArm is one run of the fairness table: an offer policy and who accepts.
type fairArm struct {
	policy  string // pairing_offer_policy
	accepts string // "first": the first mitra of the offer event; "random": any offered one
	why     string
}

var fairArms = []fairArm{
	{pairing.OfferPolicyRing, "first", "the first of the ring (ranking order) accepts"},
	{pairing.OfferPolicyRing, "random", "a random mitra of the ring accepts"},
	{pairing.OfferPolicyBlast, "random", "blast policy (everyone offered: the floor); a random offered mitra accepts, as in a race among equals"},
}

// fairness: fairMitras equal mitras, -routing-blasts blasts one after another, each paid,
// accepted and ended at once; offers and matches per mitra, and their Gini coefficients.
func (t *tool) fairness(ctx context.Context) {
	fmt.Printf("## Fairness\n\n")
	fmt.Printf("%d equal mitras (capacity 1, online, heartbeats kept fresh), default rank weights (longest idle first), %d blasts one after another, each from its own client: "+
		"paid, accepted at once by one offered mitra, the session ended at once by the mitra (so it is idle again, and last in the idle order). "+
		"Ring policy: ring size %d, a ring every %d s. Offers and matches per mitra from `pairing_offers` and `chat_sessions`; "+
		"Gini coefficient 0 = perfectly even, %.2f = one mitra gets everything. In process over the SDK (`curhat.NewClient`, sweeps off).\n\n",
		fairMitras, t.o.routingBlasts, fairRingSize, fairRingInterval, float64(fairMitras-1)/fairMitras)
	fmt.Println("| policy | who accepts | blasts matched | offers per blast | offers per mitra (min–max) | **Gini of offers** | matches per mitra (min–max) | Gini of matches | blasts/s |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	var ringGini []float64
	rings := 0
	for _, arm := range fairArms {
		if arm.policy == pairing.OfferPolicyRing {
			rings++
		}
	}
	for _, arm := range fairArms {
		if ctx.Err() != nil {
			fmt.Printf("| %s | skipped: %v | | | | | | | |\n", arm.policy, context.Cause(ctx))
			continue
		}
		logf("routing: fairness, %s policy, %s accepts (%d blasts)", arm.policy, arm.accepts, t.o.routingBlasts)
		row, g, err := t.fairRun(ctx, arm)
		if err != nil {
			fmt.Printf("| %s | skipped: %v | | | | | | | |\n", arm.policy, oneLine(err))
			continue
		}
		fmt.Println(row)
		if arm.policy == pairing.OfferPolicyRing {
			ringGini = append(ringGini, g)
		}
	}
	fmt.Println()
	for _, arm := range fairArms {
		fmt.Printf("- %s, %s: %s.\n", arm.policy, arm.accepts, arm.why)
	}
	fmt.Printf("\nGini of offers per mitra under the ring policy ≤ %.1f: %s.\n\n", fairGoal,
		check(len(ringGini) == rings && slices.Max(ringGini) <= fairGoal))
}

func (t *tool) fairRun(ctx context.Context, arm fairArm) (string, float64, error) {
	blasts := t.o.routingBlasts
	d, err := createDataset(ctx, t.admin, t.o.databaseURL, fairMitras, 0, 0, blasts)
	if d != nil {
		defer d.drop(t.admin, t.valkey)
	}
	if err != nil {
		return "", 0, err
	}
	log := newOfferLog()
	c, _, err := t.routingClient(ctx, d, 0, log)
	if err != nil {
		return "", 0, err
	}
	defer stopClient(c)
	if err := setConfig(ctx, c, "pairing_offer_policy", `"`+arm.policy+`"`,
		"pairing_ring_size", fmt.Sprint(fairRingSize), "pairing_ring_interval_seconds", fmt.Sprint(fairRingInterval)); err != nil {
		return "", 0, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pp := c.Pairing()
	var matched int
	began := time.Now()
	for k := range blasts {
		if ctx.Err() != nil {
			return "", 0, ctx.Err()
		}
		client := d.clients[k]
		pr, pay, err := pp.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: routingMinutes})
		if err != nil {
			return "", 0, fmt.Errorf("blast %d: start: %w", k+1, err)
		}
		if _, err := c.Payments().MarkPaid(ctx, pay.ID, pay.ProviderRef); err != nil {
			return "", 0, fmt.Errorf("blast %d: pay: %w", k+1, err)
		}
		offered := log.take(pr.ID)
		if len(offered) == 0 {
			logf("routing: blast %d offered to nobody", k+1)
			continue
		}
		who := offered[0]
		if arm.accepts == "random" {
			who = offered[rng.IntN(len(offered))]
		}
		s, err := pp.Accept(ctx, who, pr.ID)
		if err != nil {
			logf("routing: blast %d: accept: %v", k+1, err)
			_, _ = pp.Cancel(ctx, client, pr.ID)
			continue
		}
		matched++
		if _, err := pp.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyMitra, CallerID: who}); err != nil {
			return "", 0, fmt.Errorf("blast %d: end the session: %w", k+1, err)
		}
	}
	took := time.Since(began)
	offers, err := perMitra(ctx, d, `SELECT m.id, count(o.mitra_id) FROM mitras m LEFT JOIN pairing_offers o ON o.mitra_id = m.id GROUP BY m.id`)
	if err != nil {
		return "", 0, err
	}
	matches, err := perMitra(ctx, d, `SELECT m.id, count(s.id) FROM mitras m LEFT JOIN chat_sessions s ON s.mitra_id = m.id GROUP BY m.id`)
	if err != nil {
		return "", 0, err
	}
	var perBlast []float64
	rows, err := d.pool.Query(ctx, `SELECT count(*) FROM pairing_offers GROUP BY pairing_id`)
	if err != nil {
		return "", 0, err
	}
	if perBlast, err = pgx.CollectRows(rows, pgx.RowTo[float64]); err != nil {
		return "", 0, err
	}
	g := gini(offers)
	return fmt.Sprintf("| %s | %s | %d of %d | %s | %s | **%.3f** | %s | %.3f | %.0f/s |", arm.policy, arm.accepts, matched, blasts, minMax(perBlast),
		minMax(offers), g, minMax(matches), gini(matches), float64(blasts)/took.Seconds()), g, nil
}

// perMitra reads one count per mitra (query: id, count).
func perMitra(ctx context.Context, d *dataset, query string) ([]float64, error) {
	rows, err := d.pool.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	type row struct {
		ID uuid.UUID
		N  float64
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.N
	}
	return out, nil
}

// costArm is one side of a label-cost row.
type costArm struct {
	prefs  *pairing.Preferences
	lat    []time.Duration
	offers []float64
	pg, vk int64 // Postgres statements and Valkey round trips of the pays
}

// labelCost: for each -routing-n, N available labelled mitras, one mitra in ten fitting
// routingPrefs; the offer path (the payment's MarkPaid: the payment, the search, the
// offers inserted and sent) of blasts with preferences beside blasts without, alternating.
func (t *tool) labelCost(ctx context.Context) {
	fmt.Printf("## Label filtering on the offer path\n\n")
	fmt.Printf("N available mitras (capacity 1, heartbeats kept fresh), all labelled: languages `id` and, for half of them, `jv`; gender `female` or `male`; two of five topics — so that one in ten fits "+
		"the preferences `{language: jv, topics: [work], gender: female}` at routing step 0 (`all`; labels last edited a day before, the steady state). "+
		"Each sample is a blast started with those preferences and one without, alternating which goes first; timed: the webhook side's `Payments().MarkPaid` — the payment, "+
		"the search started, the available mitras found (filtered by labels at step 0), the offers inserted and their event sent — from its call to its return; "+
		"then the blast is cancelled (its offers dismissed: every mitra stays free). "+
		"Blast policy with `FanoutCap` %d, so that both sides offer %d mitras (without preferences the cap applies to `FindAvailable`, with them to the mitras that fit); "+
		"ring policy (ring of %d, default rank weights): both offer a ring. %d samples per side after %d uncounted; in process over the SDK.\n\n",
		t.o.routingFanout, t.o.routingFanout, fairRingSize, t.o.routingSamples, routingWarm)
	fmt.Println("| N | policy | offers per blast (without / with) | without preferences p50 / p99 | with preferences p50 / p99 | ratio p50 (p99) | extra at p50 | Postgres statements per pay (without / with) | Valkey round trips per pay (without / with) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	var ratios []float64
	for _, n := range t.o.routingSizes {
		if ctx.Err() != nil {
			fmt.Printf("| %d | skipped: %v | | | | | | | |\n", n, context.Cause(ctx))
			continue
		}
		logf("routing: label cost at N = %d", n)
		rows, rs, err := t.labelCostAt(ctx, n)
		for _, r := range rows {
			fmt.Println(r)
		}
		if err != nil {
			fmt.Printf("| %d | skipped: %v | | | | | | | |\n", n, oneLine(err))
			continue
		}
		ratios = append(ratios, rs...)
	}
	fmt.Printf("\nWith preferences within %.0f%% of without (p50 ratio ≤ %.2f) at every N and policy: %s.\n\n", (routingCostGoal-1)*100, routingCostGoal,
		check(len(ratios) == 2*len(t.o.routingSizes) && slices.Max(ratios) <= routingCostGoal))
}

func (t *tool) labelCostAt(ctx context.Context, n int) ([]string, []float64, error) {
	per := routingWarm + t.o.routingSamples
	policies := []string{pairing.OfferPolicyBlast, pairing.OfferPolicyRing}
	d, err := createDataset(ctx, t.admin, t.o.databaseURL, n, 0, 0, 2*per*len(policies))
	if d != nil {
		defer d.drop(t.admin, t.valkey)
	}
	if err != nil {
		return nil, nil, err
	}
	// Mitra i (in id order): jv when i is even; female when i/2 is even; topics k and k+1
	// of five, k = i/4 mod 5, holding "work" for k = 0 and k = 4. Over i mod 20 the three
	// are independent: 1/2 × 1/2 × 2/5 = 1/10 fit all.
	if _, err := d.pool.Exec(ctx, `UPDATE mitras m SET labels = jsonb_build_object(
			'languages', CASE WHEN r.i % 2 = 0 THEN '["id", "jv"]'::jsonb ELSE '["id"]'::jsonb END,
			'topics', jsonb_build_array(t.a[(r.i / 4) % 5 + 1], t.a[(r.i / 4 + 1) % 5 + 1]),
			'gender', CASE WHEN (r.i / 2) % 2 = 0 THEN 'female' ELSE 'male' END),
			profile_updated_at = now() - interval '1 day'
		FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM mitras) r,
			(SELECT ARRAY['work', 'family', 'grief', 'study', 'love'] AS a) t
		WHERE m.id = r.id`); err != nil {
		return nil, nil, fmt.Errorf("label the mitras: %w", err)
	}
	var fit int
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM mitras WHERE labels->'languages' ? 'jv' AND labels->>'gender' = 'female' AND labels->'topics' ? 'work'`).Scan(&fit); err != nil {
		return nil, nil, err
	}
	if _, err := d.pool.Exec(ctx, `ANALYZE mitras`); err != nil {
		return nil, nil, err
	}
	log := newOfferLog()
	c, cc, err := t.routingClient(ctx, d, t.o.routingFanout, log)
	if err != nil {
		return nil, nil, err
	}
	defer stopClient(c)
	var rows []string
	var ratios []float64
	clients := d.clients
	for _, policy := range policies {
		if err := setConfig(ctx, c, "pairing_offer_policy", `"`+policy+`"`,
			"pairing_ring_size", fmt.Sprint(fairRingSize), "pairing_ring_interval_seconds", "300"); err != nil {
			return rows, ratios, err
		}
		arms := []*costArm{{}, {prefs: &routingPrefs}}
		for k := range per {
			if ctx.Err() != nil {
				return rows, ratios, ctx.Err()
			}
			order := []*costArm{arms[0], arms[1]}
			if k%2 == 1 {
				order[0], order[1] = order[1], order[0]
			}
			for _, a := range order {
				client := clients[0]
				clients = clients[1:]
				took, offered, pg, vk, err := offerPath(ctx, c, cc, d, log, client, a.prefs)
				if err != nil {
					return rows, ratios, fmt.Errorf("%s policy: %w", policy, err)
				}
				if k >= routingWarm {
					a.lat = append(a.lat, took)
					a.offers = append(a.offers, float64(offered))
					a.pg += pg
					a.vk += vk
				}
			}
		}
		without, with := sortedCopy(arms[0].lat), sortedCopy(arms[1].lat)
		r50 := float64(percentile(with, 50)) / float64(percentile(without, 50))
		r99 := float64(percentile(with, 99)) / float64(percentile(without, 99))
		ratios = append(ratios, r50)
		samples := float64(len(without))
		rows = append(rows, fmt.Sprintf("| %d (%d fit) | %s | %s / %s | %s | %s | **%.2f** (%.2f) %s | %s | %.1f / %.1f | %.1f / %.1f |",
			n, fit, policy, minMax(arms[0].offers), minMax(arms[1].offers), p50p99(without), p50p99(with), r50, r99, check(r50 <= routingCostGoal),
			signedMs(percentile(with, 50)-percentile(without, 50)),
			float64(arms[0].pg)/samples, float64(arms[1].pg)/samples, float64(arms[0].vk)/samples, float64(arms[1].vk)/samples))
	}
	return rows, ratios, nil
}

// offerPath starts a blast for client (with prefs, or none), times its payment's
// MarkPaid, then cancels it. It returns the time, the mitras offered, and the Postgres
// statements and Valkey round trips of the MarkPaid.
func offerPath(ctx context.Context, c *curhat.Client, cc *countingClient, d *dataset, log *offerLog, client uuid.UUID, prefs *pairing.Preferences) (time.Duration, int, int64, int64, error) {
	pp := c.Pairing()
	pr, pay, err := pp.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: routingMinutes, Preferences: prefs})
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("start: %w", err)
	}
	pg0, vk0 := d.queries.Count(), cc.snapshot()
	began := time.Now()
	_, err = c.Payments().MarkPaid(ctx, pay.ID, pay.ProviderRef)
	took := time.Since(began)
	pg, vk := d.queries.Count()-pg0, cc.snapshot().since(vk0).trips
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("pay: %w", err)
	}
	offered := len(log.take(pr.ID))
	if offered == 0 {
		return 0, 0, 0, 0, errors.New("a blast was offered to nobody")
	}
	if _, err := pp.Cancel(ctx, client, pr.ID); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("cancel: %w", err)
	}
	return took, offered, pg, vk, nil
}

// signedMs formats a difference of durations with its sign.
func signedMs(d time.Duration) string {
	if d < 0 {
		return "−" + ms(-d)
	}
	return "+" + ms(d)
}
