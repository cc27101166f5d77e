package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"

	"github.com/curhat/curhat"
)

// The operator audit (SPEC §24): every operator write is one row — who (operator_id), what
// (action), on what (target_kind, target_id), the target before and after, and when. Rows
// are never changed (a trigger refuses it). GET /api/internal/audit reads them.
//
// A handler records its write with s.audit once the write committed. The write and its
// row are not one transaction (the SDK commits the write itself), so a row that cannot be
// stored is logged at error level and counted (curhat_audit_failures_total); the write is
// not undone. The route wrapper logs any operator write that answered 2xx without a row,
// and the authorization matrix test fails on one.

// auditEntry is one audit row.
type auditEntry struct {
	ID           uuid.UUID       `json:"id"`
	OperatorID   uuid.UUID       `json:"operator_id"`
	OperatorName string          `json:"operator_name"` // the operator's display name when read
	Action       string          `json:"action"`
	TargetKind   string          `json:"target_kind"`
	TargetID     string          `json:"target_id"`
	Before       json.RawMessage `json:"before"`
	After        json.RawMessage `json:"after"`
	At           time.Time       `json:"at"`

	seq int64 // the order rows were written in (memory store)
}

// auditFilter selects audit rows; empty fields match every row.
type auditFilter struct {
	TargetID   string
	OperatorID *uuid.UUID
	Action     string
	TargetKind string
	Page       int
	PageSize   int
}

func (f auditFilter) match(e auditEntry) bool {
	return (f.TargetID == "" || e.TargetID == f.TargetID) &&
		(f.OperatorID == nil || e.OperatorID == *f.OperatorID) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.TargetKind == "" || e.TargetKind == f.TargetKind)
}

// auditMark tells the route wrapper that a write's audit row was recorded.
type auditMark struct{ recorded bool }

// audit records an operator write: before and after are the target's API shapes (nil
// when there is none: a creation has no before).
func (s *Server) audit(r *http.Request, c caller, action, targetKind, targetID string, before, after any) {
	if c.audited != nil {
		c.audited.recorded = true
	}
	e := auditEntry{ID: uuid.New(), OperatorID: c.ID, Action: action, TargetKind: targetKind, TargetID: targetID,
		Before: auditJSON(before), After: auditJSON(after), At: s.app.clock.Now().UTC().Truncate(time.Microsecond)}
	// The write committed: its row is stored even if the caller went away meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.app.accounts.AppendAudit(ctx, e); err != nil {
		s.app.hooks.AuditFailed()
		s.log.ErrorContext(r.Context(), "audit row not stored: the write stands without it",
			"request_id", r.Header.Get(requestIDHeader), "operator_id", c.ID, "action", action,
			"target_kind", targetKind, "target_id", targetID, "after", string(e.After), "err", err)
	}
}

func auditJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{"unencodable":true}`)
	}
	return b
}

func (s *Server) auditRoutes() {
	s.handle("GET", "/api/internal/audit", roleViewer, s.listAudit)
}

// listAudit is GET /api/internal/audit?target_id=&operator_id=&action=&target_kind=&page=&page_size=,
// newest first.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, _ caller) error {
	page, size, err := pageQuery(r, 50, 200)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := auditFilter{TargetID: q.Get("target_id"), Action: q.Get("action"), TargetKind: q.Get("target_kind"), Page: page, PageSize: size}
	for _, p := range []struct{ name, v string }{{"target_id", f.TargetID}, {"action", f.Action}, {"target_kind", f.TargetKind}} {
		if len(p.v) > 200 {
			return curhat.Invalid(p.name, "must be at most 200 characters")
		}
		if err := validText(p.name, p.v); err != nil {
			return err
		}
	}
	if v := q.Get("operator_id"); v != "" {
		id, err := bodyID("operator_id", v)
		if err != nil {
			return err
		}
		f.OperatorID = &id
	}
	items, total, err := s.app.accounts.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	for i := range items {
		if items[i].OperatorID == uuid.Nil {
			items[i].OperatorName = bootstrapOperatorName
		}
	}
	if items == nil {
		items = []auditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "page": page, "page_size": size, "total": total})
	return nil
}

// ---- Postgres ----

func (s pgAccounts) AppendAudit(ctx context.Context, e auditEntry) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO operator_audit (id, operator_id, action, target_kind, target_id, before, after, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, e.OperatorID, e.Action, e.TargetKind, e.TargetID, nullJSON(e.Before), nullJSON(e.After), e.At)
	return curhat.TranslatePostgresError(err)
}

func nullJSON(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	return string(raw)
}

func (s pgAccounts) ListAudit(ctx context.Context, f auditFilter) ([]auditEntry, int, error) {
	where := sq.And{}
	if f.TargetID != "" {
		where = append(where, sq.Eq{"a.target_id": f.TargetID})
	}
	if f.OperatorID != nil {
		where = append(where, sq.Eq{"a.operator_id": *f.OperatorID})
	}
	if f.Action != "" {
		where = append(where, sq.Eq{"a.action": f.Action})
	}
	if f.TargetKind != "" {
		where = append(where, sq.Eq{"a.target_kind": f.TargetKind})
	}
	q, args, err := sq.StatementBuilder.PlaceholderFormat(sq.Dollar).
		Select("a.id", "a.operator_id", "coalesce(o.display_name, '')", "a.action", "a.target_kind", "a.target_id",
			"a.before", "a.after", "a.at", "count(*) OVER ()").
		From("operator_audit a").LeftJoin("operators o ON o.id = a.operator_id").
		Where(where).OrderBy("a.seq DESC").
		Limit(uint64(f.PageSize)).Offset(uint64((f.Page - 1) * f.PageSize)).ToSql()
	if err != nil {
		return nil, 0, err
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, curhat.TranslatePostgresError(err)
	}
	defer rows.Close()
	var out []auditEntry
	total := 0
	for rows.Next() {
		var e auditEntry
		var before, after []byte
		if err := rows.Scan(&e.ID, &e.OperatorID, &e.OperatorName, &e.Action, &e.TargetKind, &e.TargetID,
			&before, &after, &e.At, &total); err != nil {
			return nil, 0, err
		}
		e.Before, e.After, e.At = nilIfEmpty(before), nilIfEmpty(after), e.At.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, curhat.TranslatePostgresError(err)
	}
	if len(out) == 0 && f.Page > 1 {
		q, args, err := sq.StatementBuilder.PlaceholderFormat(sq.Dollar).Select("count(*)").
			From("operator_audit a").Where(where).ToSql()
		if err != nil {
			return nil, 0, err
		}
		err = s.pool.QueryRow(ctx, q, args...).Scan(&total)
		return nil, total, curhat.TranslatePostgresError(err)
	}
	return out, total, nil
}

func nilIfEmpty(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// ---- memory ----

func (s *memAccounts) AppendAudit(_ context.Context, e auditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auditSeq++
	e.seq = s.auditSeq
	s.audit = append(s.audit, e)
	return nil
}

func (s *memAccounts) ListAudit(_ context.Context, f auditFilter) ([]auditEntry, int, error) {
	s.mu.Lock()
	var match []auditEntry
	for _, e := range s.audit {
		if f.match(e) {
			if o, ok := s.operators[e.OperatorID]; ok {
				e.OperatorName = o.DisplayName
			}
			match = append(match, e)
		}
	}
	s.mu.Unlock()
	slices.Reverse(match) // newest first
	return slices.Clone(pageOf(match, f.Page, f.PageSize)), len(match), nil
}
