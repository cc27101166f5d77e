package availability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curhat/curhat/internal/pgutil"
)

// PostgresStore is the Store over the tables mitras, chat_sessions and auth_sessions. It
// works inside the shared database where other packages write chat_sessions: capacity is
// always counted from the rows (status active or pending_payment), never kept aside.
type PostgresStore struct {
	db DB
	// mirrorSplit: a heartbeat mirror of at least this many rows is written by parallel
	// statements (see MirrorHeartbeats).
	mirrorSplit int
}

// NewPostgresStore returns a Store over db: a *pgxpool.Pool, or a pgx.Tx whose commit or
// rollback decides the store's writes.
func NewPostgresStore(db DB) *PostgresStore {
	return &PostgresStore{db: db, mirrorSplit: mirrorParallelMin}
}

// WithTx returns a copy of s whose every statement runs in tx, the caller's transaction.
func (s *PostgresStore) WithTx(tx pgx.Tx) Store {
	return &PostgresStore{db: tx, mirrorSplit: s.mirrorSplit}
}

var _ TxStore = (*PostgresStore)(nil)

const mitraColumns = `id, display_name, is_active, is_online, last_heartbeat_at, max_concurrent_sessions, away_reason, labels, profile_updated_at, created_at, updated_at`

// bumpUpdatedAt makes updated_at strictly increase on every write, so that it can serve as
// a token (RestoreOnline) even for two writes within one microsecond.
const bumpUpdatedAt = `updated_at = GREATEST(now(), updated_at + interval '1 microsecond')`

// openSessionsJoin counts the capacity in use per mitra.
const openSessionsJoin = `LEFT JOIN (
	SELECT mitra_id, count(*) AS n FROM chat_sessions
	WHERE status IN ('active', 'pending_payment') GROUP BY mitra_id
) s ON s.mitra_id = m.id`

const stateColumns = `m.id, m.is_active, m.is_online, m.last_heartbeat_at, m.max_concurrent_sessions, COALESCE(s.n, 0)`

// lockNamespace is the first key of the per-mitra advisory locks ("avl1").
const lockNamespace = 0x61766c31

func scanMitra(row pgx.Row) (Mitra, error) {
	var m Mitra
	var away *string
	var labels []byte
	err := row.Scan(&m.ID, &m.DisplayName, &m.IsActive, &m.IsOnline, &m.LastHeartbeatAt,
		&m.MaxConcurrentSessions, &away, &labels, &m.ProfileUpdatedAt, &m.CreatedAt, &m.UpdatedAt)
	if err != nil {
		return Mitra{}, pgutil.Translate(err)
	}
	if m.Labels, err = decodeLabels(labels); err != nil {
		return Mitra{}, fmt.Errorf("mitra %s: %w", m.ID, err)
	}
	m.AwayReason = pgutil.Deref(away)
	utcPtr(m.LastHeartbeatAt)
	m.ProfileUpdatedAt, m.CreatedAt, m.UpdatedAt = m.ProfileUpdatedAt.UTC(), m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, nil
}

func utcPtr(t *time.Time) {
	if t != nil {
		*t = t.UTC()
	}
}

func (s *PostgresStore) CreateMitra(ctx context.Context, p CreateMitraParams) (Mitra, error) {
	p.DisplayName = strings.TrimSpace(p.DisplayName)
	if err := p.Validate(); err != nil {
		return Mitra{}, err
	}
	m, err := scanMitra(s.db.QueryRow(ctx,
		`INSERT INTO mitras (display_name, max_concurrent_sessions) VALUES ($1, $2) RETURNING `+mitraColumns,
		p.DisplayName, p.MaxConcurrentSessions))
	if err != nil {
		return Mitra{}, fmt.Errorf("create mitra: %w", err)
	}
	return m, nil
}

func (s *PostgresStore) GetMitra(ctx context.Context, id uuid.UUID) (Mitra, error) {
	return scanMitra(s.db.QueryRow(ctx, `SELECT `+mitraColumns+` FROM mitras WHERE id = $1`, id))
}

func (s *PostgresStore) SetOnline(ctx context.Context, id uuid.UUID, at time.Time) (Mitra, error) {
	m, err := scanMitra(s.db.QueryRow(ctx, `UPDATE mitras
		SET is_online = true, last_heartbeat_at = GREATEST(last_heartbeat_at, $2), away_reason = NULL, `+bumpUpdatedAt+`
		WHERE id = $1 AND is_active RETURNING `+mitraColumns, id, at))
	if errors.Is(err, ErrNotFound) {
		// Deactivated, or unknown: tell which.
		var active bool
		if err := s.db.QueryRow(ctx, `SELECT is_active FROM mitras WHERE id = $1`, id).Scan(&active); err != nil {
			return Mitra{}, pgutil.Translate(err)
		}
		if !active {
			return Mitra{}, ErrDeactivated
		}
		return Mitra{}, ErrStaleWrite // reactivated in between: the caller may retry
	}
	return m, err
}

func (s *PostgresStore) SetOffline(ctx context.Context, id uuid.UUID) (Mitra, error) {
	return scanMitra(s.db.QueryRow(ctx, `UPDATE mitras SET is_online = false, `+bumpUpdatedAt+`
		WHERE id = $1 RETURNING `+mitraColumns, id))
}

func (s *PostgresStore) SetActive(ctx context.Context, id uuid.UUID, active bool) (Mitra, error) {
	var m Mitra
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		m, err = scanMitra(tx.QueryRow(ctx, `UPDATE mitras
			SET is_active = $2, is_online = is_online AND $2, `+bumpUpdatedAt+`
			WHERE id = $1 RETURNING `+mitraColumns, id, active))
		if err != nil || active {
			return err
		}
		// Revoking every session bounds how long a deactivated mitra's app can still act
		// to the lifetime of the tokens it already verified.
		_, err = tx.Exec(ctx, `UPDATE auth_sessions SET revoked_at = now()
			WHERE subject_kind = 'mitra' AND subject_id = $1 AND revoked_at IS NULL`, id)
		return err
	})
	if err != nil {
		return Mitra{}, pgutil.Translate(err)
	}
	return m, nil
}

func (s *PostgresStore) Heartbeat(ctx context.Context, id uuid.UUID, at time.Time) (bool, error) {
	// One round trip: the outer SELECT reads the row as it was before the UPDATE, which
	// changes neither flag.
	var active, online bool
	err := s.db.QueryRow(ctx, `WITH u AS (
			UPDATE mitras SET last_heartbeat_at = GREATEST(last_heartbeat_at, $2)
			WHERE id = $1 AND is_active AND is_online RETURNING id)
		SELECT is_active, is_online FROM mitras WHERE id = $1`, id, at).Scan(&active, &online)
	if err != nil {
		return false, pgutil.Translate(err)
	}
	if !active {
		return false, ErrDeactivated
	}
	return online, nil
}

func scanStates(rows pgx.Rows) ([]MitraState, error) {
	defer rows.Close()
	var out []MitraState
	wrapup := len(rows.FieldDescriptions()) > 6 // the statements that read the wrap-up
	// One set of scan targets for every row (a seed reads every mitra). The id is scanned as
	// its 16 bytes: as a uuid.UUID (an sql.Scanner) pgx would format it as text and parse it
	// back.
	var st MitraState
	var max *int32
	var n int64
	dest := []any{(*[16]byte)(&st.ID), &st.IsActive, &st.IsOnline, &st.LastHeartbeatAt, &max, &n}
	if wrapup {
		dest = append(dest, &st.InWrapup)
	}
	for rows.Next() {
		// Each row from zero values: the previous row's pointers are in out.
		st, max = MitraState{}, nil
		if err := rows.Scan(dest...); err != nil {
			return nil, pgutil.Translate(err)
		}
		utcPtr(st.LastHeartbeatAt)
		if max != nil {
			v := int(*max)
			st.MaxConcurrentSessions = &v
		}
		st.OpenSessions = int(n)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, pgutil.Translate(err)
	}
	return out, nil
}

func nonNil(ids []uuid.UUID) []uuid.UUID {
	if ids == nil {
		return []uuid.UUID{}
	}
	return ids
}

const statesByIDs = `SELECT ` + stateColumns + ` FROM mitras m ` + openSessionsJoin + ` WHERE m.id = ANY($1)`

// The wrap-up (wrapup.go): a mitra with a chat session that ended after a time ($2 of
// statesByIDsWrapup, $1 of allStatesWrapup, $4 of the available queries). Read by mitra
// (chat_sessions_mitra_ended_idx) for a few mitras, as one hashed set of the recent ends
// (chat_sessions_ended_idx) for all of them; only when the wrap-up is on, so that the
// statements above cost what they did without it.
const (
	statesByIDsWrapup = `SELECT ` + stateColumns + `, EXISTS (SELECT 1 FROM chat_sessions e
		WHERE e.mitra_id = m.id AND e.status = 'ended' AND e.ended_at > $2)
		FROM mitras m ` + openSessionsJoin + ` WHERE m.id = ANY($1)`
	allStatesWrapup = `SELECT ` + stateColumns + `, ` + inWrapupSet + `$1) FROM mitras m ` + openSessionsJoin
	inWrapupSet     = `m.id IN (SELECT e.mitra_id FROM chat_sessions e WHERE e.status = 'ended' AND e.ended_at > `
)

func (s *PostgresStore) States(ctx context.Context, ids []uuid.UUID) ([]MitraState, error) {
	rows, err := s.db.Query(ctx, statesByIDs, nonNil(ids))
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	return scanStates(rows)
}

func (s *PostgresStore) LockStates(ctx context.Context, ids []uuid.UUID, endedAfter time.Time, fn func([]MitraState) error) error {
	return pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		// Transaction-scoped advisory locks, taken in key order so that two overlapping
		// batches cannot deadlock; they never block the row locks other packages take.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($2, k) FROM (
				SELECT DISTINCT hashtext(x::text) AS k FROM unnest($1::uuid[]) AS x ORDER BY 1) AS keys`,
			nonNil(ids), int32(lockNamespace)); err != nil {
			return err
		}
		// A new statement, hence (READ COMMITTED) a snapshot taken after the locks: it sees
		// every write whose mirror update was applied by the previous holder.
		query, args := statesByIDs, []any{nonNil(ids)}
		if !endedAfter.IsZero() {
			query, args = statesByIDsWrapup, append(args, endedAfter)
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		states, err := scanStates(rows)
		if err != nil {
			return err
		}
		return fn(states)
	})
}

func (s *PostgresStore) AllStates(ctx context.Context, endedAfter time.Time) ([]MitraState, error) {
	query, args := `SELECT `+stateColumns+` FROM mitras m `+openSessionsJoin, []any(nil)
	if !endedAfter.IsZero() {
		query, args = allStatesWrapup, []any{endedAfter}
	}
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	return scanStates(rows)
}

func (s *PostgresStore) OfflineStale(ctx context.Context, ids []uuid.UUID, staleBefore time.Time) (OfflineResult, error) {
	// One statement. The final SELECT reads mitras as they were before the UPDATE, so the
	// three classes are disjoint: offlined now, offline already, or fresh in Postgres.
	rows, err := s.db.Query(ctx, `WITH cand AS (
			SELECT id FROM mitras WHERE $1::uuid[] IS NULL AND is_online
			UNION SELECT unnest($1::uuid[])
		), upd AS (
			UPDATE mitras m SET is_online = false, `+bumpUpdatedAt+`
			FROM cand WHERE m.id = cand.id AND m.is_online
				AND (m.last_heartbeat_at IS NULL OR m.last_heartbeat_at < $2)
			RETURNING m.id, m.updated_at)
		SELECT cand.id,
			CASE WHEN upd.id IS NOT NULL THEN 'offlined'
				WHEN m.id IS NULL OR NOT m.is_online OR NOT m.is_active THEN 'offline'
				ELSE 'fresh' END,
			upd.updated_at
		FROM cand LEFT JOIN mitras m ON m.id = cand.id LEFT JOIN upd ON upd.id = cand.id`,
		ids, staleBefore)
	if err != nil {
		return OfflineResult{}, pgutil.Translate(err)
	}
	defer rows.Close()
	var res OfflineResult
	for rows.Next() {
		var id uuid.UUID
		var kind string
		var at *time.Time
		if err := rows.Scan(&id, &kind, &at); err != nil {
			return OfflineResult{}, pgutil.Translate(err)
		}
		switch kind {
		case "offlined":
			res.Offlined = append(res.Offlined, OfflinedMitra{ID: id, UpdatedAt: at.UTC()})
		case "offline":
			res.Offline = append(res.Offline, id)
		default:
			res.Fresh = append(res.Fresh, id)
		}
	}
	if err := rows.Err(); err != nil {
		return OfflineResult{}, pgutil.Translate(err)
	}
	return res, nil
}

func (s *PostgresStore) RestoreOnline(ctx context.Context, rows []OfflinedMitra) ([]uuid.UUID, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]uuid.UUID, len(rows))
	stamps := make([]time.Time, len(rows))
	for i, r := range rows {
		ids[i], stamps[i] = r.ID, r.UpdatedAt
	}
	res, err := s.db.Query(ctx, `UPDATE mitras m SET is_online = true, `+bumpUpdatedAt+`
		FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, stamp)
		WHERE m.id = v.id AND m.updated_at = v.stamp AND NOT m.is_online AND m.is_active
		RETURNING m.id`, ids, stamps)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	restored, err := pgx.CollectRows(res, pgx.RowTo[uuid.UUID])
	return restored, pgutil.Translate(err)
}

func (s *PostgresStore) MirrorHeartbeats(ctx context.Context, hbs []HeartbeatAt) (int, error) {
	if len(hbs) == 0 {
		return 0, nil
	}
	// In primary-key order, the row updates walk the table in order (measured: about a
	// fifth faster at 100k rows). The arrays are unnested in the select list (ProjectSet)
	// rather than by a two-array unnest in FROM, which materialises every row into a
	// tuplestore first (a 4 MB temporary file at 90k rows).
	sorted := slices.Clone(hbs)
	slices.SortFunc(sorted, func(a, b HeartbeatAt) int { return bytes.Compare(a.MitraID[:], b.MitraID[:]) })
	ids := make([]uuid.UUID, len(sorted))
	ats := make([]time.Time, len(sorted))
	for i, h := range sorted {
		ids[i], ats[i] = h.MitraID, h.At
	}
	// A large mirror on a pool is cut into contiguous runs of the key order, one statement
	// each on its own connection, at once: the row updates are Postgres CPU, and one
	// statement uses one core. Each run still locks its rows in key order, so two
	// instances mirroring at once cannot deadlock; a run that fails leaves the others
	// written, which the next mirror (or the reseed) completes, as after any failed mirror.
	parts := 1
	if _, pooled := s.db.(*pgxpool.Pool); pooled && s.mirrorSplit > 0 && len(sorted) >= s.mirrorSplit {
		parts = min(mirrorParallelMax, max(2, runtime.NumCPU()))
	}
	size := (len(sorted) + parts - 1) / parts
	counts := make([]int, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := min(i*size, len(sorted)), min((i+1)*size, len(sorted))
		wg.Go(func() { counts[i], errs[i] = s.mirrorRun(ctx, ids[lo:hi], ats[lo:hi]) })
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	return total, errors.Join(errs...)
}

// mirrorParallelMin is the size from which a heartbeat mirror is written by parallel
// statements; mirrorParallelMax bounds how many.
const (
	mirrorParallelMin = 20_000
	mirrorParallelMax = 4
)

// mirrorRun writes one run of heartbeats, sorted by id, in one statement.
func (s *PostgresStore) mirrorRun(ctx context.Context, ids []uuid.UUID, ats []time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := s.db.Exec(ctx, `UPDATE mitras m SET last_heartbeat_at = v.at
		FROM (SELECT unnest($1::uuid[]) AS id, unnest($2::timestamptz[]) AS at) AS v
		WHERE m.id = v.id AND (m.last_heartbeat_at IS NULL OR m.last_heartbeat_at < v.at)`, ids, ats)
	if err != nil {
		return 0, pgutil.Translate(err)
	}
	return int(tag.RowsAffected()), nil
}

func (s *PostgresStore) LowerHeartbeat(ctx context.Context, id uuid.UUID, at time.Time) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE mitras SET last_heartbeat_at = $2 WHERE id = $1 AND last_heartbeat_at > $2`, id, at)
	if err != nil {
		return false, pgutil.Translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

func (s *PostgresStore) IsReachable(ctx context.Context, id uuid.UUID, freshAfter time.Time) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT is_online AND is_active AND last_heartbeat_at >= $2
		FROM mitras WHERE id = $1`, id, freshAfter).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return ok, pgutil.Translate(err)
}

// availableWhere is the definition of an available mitra, in SQL ($1 fresh after, $2
// default maximum, $3 excluded ids).
const availableWhere = `m.is_online AND m.is_active AND m.last_heartbeat_at >= $1
	AND COALESCE(s.n, 0) < COALESCE(m.max_concurrent_sessions, $2)
	AND NOT (m.id = ANY($3))`

// availableQuery is the WHERE clause and arguments of q, the wrap-up's set excluded when
// q has one.
func availableQuery(q AvailableQuery) (string, []any) {
	where, args := availableWhere, []any{q.FreshAfter, q.DefaultMax, nonNil(q.Exclude)}
	if !q.EndedAfter.IsZero() {
		args = append(args, q.EndedAfter)
		where += ` AND NOT ` + inWrapupSet + `$` + strconv.Itoa(len(args)) + `)`
	}
	return where, args
}

func (s *PostgresStore) FindAvailable(ctx context.Context, q AvailableQuery) ([]uuid.UUID, error) {
	var limit *int
	if q.Limit > 0 {
		limit = &q.Limit
	}
	where, args := availableQuery(q)
	args = append(args, limit)
	rows, err := s.db.Query(ctx, `SELECT m.id FROM mitras m `+openSessionsJoin+`
		WHERE `+where+` ORDER BY m.last_heartbeat_at DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	return ids, pgutil.Translate(err)
}

func (s *PostgresStore) CountAvailable(ctx context.Context, q AvailableQuery) (int, error) {
	where, args := availableQuery(q)
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM mitras m `+openSessionsJoin+` WHERE `+where, args...).Scan(&n)
	return n, pgutil.Translate(err)
}

func (s *PostgresStore) OnlineCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM mitras WHERE is_online AND is_active`).Scan(&n)
	return n, pgutil.Translate(err)
}

func (s *PostgresStore) SetAway(ctx context.Context, id uuid.UUID, reason string) (Mitra, bool, error) {
	if err := ValidAwayReason(reason); err != nil {
		return Mitra{}, false, err
	}
	m, err := scanMitra(s.db.QueryRow(ctx, `UPDATE mitras SET is_online = false, away_reason = $2, `+bumpUpdatedAt+`
		WHERE id = $1 AND is_online RETURNING `+mitraColumns, id, reason))
	if errors.Is(err, ErrNotFound) {
		m, err = s.GetMitra(ctx, id) // offline already (or unknown: ErrNotFound)
		return m, false, err
	}
	return m, err == nil, err
}
