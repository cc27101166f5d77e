package main

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat"
)

// Operators as people (SPEC §24): accounts with a role, their own tokens, and an audit row
// for every write they make (audit.go). The OPERATOR_TOKEN of the environment is the
// bootstrap admin: it has no row, and acts as the nil UUID.

// Operator is an operator account, as the API shows it.
type Operator struct {
	ID          uuid.UUID `json:"id"`
	DisplayName string    `json:"display_name"`
	Role        string    `json:"role"`
	IsActive    bool      `json:"is_active"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// bootstrapOperatorName is the display name of the OPERATOR_TOKEN's operator.
const bootstrapOperatorName = "Bootstrap admin"

// operatorRoles are the roles an operator account may have, by name.
var operatorRoles = map[string]role{"viewer": roleViewer, "support": roleSupport, "admin": roleAdmin}

// operatorUpdate is a PATCH of an operator: the fields to change (nil: unchanged).
type operatorUpdate struct {
	Role     *string
	IsActive *bool
	At       time.Time
}

// operatorStore keeps the operator accounts and their audit.
type operatorStore interface {
	CreateOperator(ctx context.Context, o Operator) error
	GetOperator(ctx context.Context, id uuid.UUID) (Operator, error)
	// ListOperators returns a page of operators, oldest first, and how many there are.
	ListOperators(ctx context.Context, page, pageSize int) ([]Operator, int, error)
	// UpdateOperator applies u and returns the operator before and after it. A
	// deactivation revokes every token of the operator with it (in one transaction).
	UpdateOperator(ctx context.Context, id uuid.UUID, u operatorUpdate) (before, after Operator, err error)

	AppendAudit(ctx context.Context, e auditEntry) error
	// ListAudit returns a page of audit rows matching f, newest first, and how many match.
	ListAudit(ctx context.Context, f auditFilter) ([]auditEntry, int, error)
}

// ---- Postgres ----

const operatorColumns = `id, display_name, role, is_active, created_at, updated_at`

func scanOperator(row pgx.Row) (Operator, error) {
	var o Operator
	err := row.Scan(&o.ID, &o.DisplayName, &o.Role, &o.IsActive, &o.CreatedAt, &o.UpdatedAt)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, curhat.TranslatePostgresError(err)
}

func (s pgAccounts) CreateOperator(ctx context.Context, o Operator) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO operators (`+operatorColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		o.ID, o.DisplayName, o.Role, o.IsActive, o.CreatedAt, o.UpdatedAt)
	return curhat.TranslatePostgresError(err)
}

func (s pgAccounts) GetOperator(ctx context.Context, id uuid.UUID) (Operator, error) {
	return scanOperator(s.pool.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id = $1`, id))
}

func (s pgAccounts) ListOperators(ctx context.Context, page, pageSize int) ([]Operator, int, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+operatorColumns+`, count(*) OVER () FROM operators
		ORDER BY created_at, id LIMIT $1 OFFSET $2`, pageSize, (page-1)*pageSize)
	if err != nil {
		return nil, 0, curhat.TranslatePostgresError(err)
	}
	defer rows.Close()
	var out []Operator
	total := 0
	for rows.Next() {
		var o Operator
		if err := rows.Scan(&o.ID, &o.DisplayName, &o.Role, &o.IsActive, &o.CreatedAt, &o.UpdatedAt, &total); err != nil {
			return nil, 0, err
		}
		o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, curhat.TranslatePostgresError(err)
	}
	if len(out) == 0 && page > 1 {
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM operators`).Scan(&total)
		return nil, total, curhat.TranslatePostgresError(err)
	}
	return out, total, nil
}

func (s pgAccounts) UpdateOperator(ctx context.Context, id uuid.UUID, u operatorUpdate) (before, after Operator, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		before, err = scanOperator(tx.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		after = u.apply(before)
		if after == before {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE operators SET role = $2, is_active = $3, updated_at = $4 WHERE id = $1`,
			id, after.Role, after.IsActive, after.UpdatedAt); err != nil {
			return err
		}
		if before.IsActive && !after.IsActive {
			_, err = tx.Exec(ctx, `UPDATE auth_sessions SET revoked_at = $3
				WHERE subject_kind = $1 AND subject_id = $2 AND revoked_at IS NULL`, SubjectOperator, id, u.At)
		}
		return err
	})
	return before, after, curhat.TranslatePostgresError(err)
}

// apply returns o with u applied; o itself when u changes nothing.
func (u operatorUpdate) apply(o Operator) Operator {
	next := o
	if u.Role != nil {
		next.Role = *u.Role
	}
	if u.IsActive != nil {
		next.IsActive = *u.IsActive
	}
	if next == o {
		return o
	}
	next.UpdatedAt = u.At.UTC().Truncate(time.Microsecond)
	return next
}

// ---- memory ----

func (s *memAccounts) CreateOperator(_ context.Context, o Operator) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.operators[o.ID]; dup {
		return curhat.ErrConflict
	}
	s.operators[o.ID] = o
	return nil
}

func (s *memAccounts) GetOperator(_ context.Context, id uuid.UUID) (Operator, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.operators[id]
	if !ok {
		return Operator{}, curhat.ErrNotFound
	}
	return o, nil
}

func (s *memAccounts) ListOperators(_ context.Context, page, pageSize int) ([]Operator, int, error) {
	s.mu.Lock()
	all := make([]Operator, 0, len(s.operators))
	for _, o := range s.operators {
		all = append(all, o)
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b Operator) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID.String(), b.ID.String())
	})
	return pageOf(all, page, pageSize), len(all), nil
}

func (s *memAccounts) UpdateOperator(_ context.Context, id uuid.UUID, u operatorUpdate) (before, after Operator, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before, ok := s.operators[id]
	if !ok {
		return Operator{}, Operator{}, curhat.ErrNotFound
	}
	after = u.apply(before)
	s.operators[id] = after
	if before.IsActive && !after.IsActive {
		for _, a := range s.sessions {
			if a.SubjectKind == SubjectOperator && a.SubjectID == id && a.RevokedAt == nil {
				t := u.At
				a.RevokedAt = &t
			}
		}
	}
	return before, after, nil
}

// pageOf returns the page'th page (from 1) of pageSize items of all.
func pageOf[T any](all []T, page, pageSize int) []T {
	from := min((page-1)*pageSize, len(all))
	return all[from:min(from+pageSize, len(all))]
}

// ---- routes ----

func (s *Server) operatorRoutes() {
	s.handle("GET", "/api/internal/operators/me", roleViewer, s.me)
	s.handle("GET", "/api/internal/operators", roleAdmin, s.listOperators)
	s.handle("POST", "/api/internal/operators", roleAdmin, s.createOperator)
	s.handle("PATCH", "/api/internal/operators/{id}", roleAdmin, s.updateOperator)
}

// me is GET /api/internal/operators/me: the signed-in operator, so that the console knows
// the role it shows pages for.
func (s *Server) me(w http.ResponseWriter, r *http.Request, c caller) error {
	if c.ID == uuid.Nil {
		writeJSON(w, http.StatusOK, Operator{ID: uuid.Nil, DisplayName: bootstrapOperatorName, Role: "admin",
			IsActive: true, CreatedAt: s.app.started, UpdatedAt: s.app.started})
		return nil
	}
	o, err := s.app.accounts.GetOperator(r.Context(), c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (s *Server) listOperators(w http.ResponseWriter, r *http.Request, _ caller) error {
	page, size, err := pageQuery(r, 50, 200)
	if err != nil {
		return err
	}
	items, total, err := s.app.accounts.ListOperators(r.Context(), page, size)
	if err != nil {
		return err
	}
	if items == nil {
		items = []Operator{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "page": page, "page_size": size, "total": total})
	return nil
}

func validRole(field, name string) error {
	if _, ok := operatorRoles[name]; !ok {
		return curhat.Invalid(field, "must be admin, support or viewer")
	}
	return nil
}

func (s *Server) createOperator(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		DisplayName string `json:"display_name"`
		Role        string `json:"role"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := validDisplayName(body.DisplayName); err != nil {
		return err
	}
	if err := validRole("role", body.Role); err != nil {
		return err
	}
	now := s.app.clock.Now().UTC().Truncate(time.Microsecond)
	o := Operator{ID: uuid.New(), DisplayName: strings.TrimSpace(body.DisplayName), Role: body.Role, IsActive: true,
		CreatedAt: now, UpdatedAt: now}
	if err := s.app.accounts.CreateOperator(r.Context(), o); err != nil {
		return err
	}
	s.audit(r, c, "operator.create", "operator", o.ID.String(), nil, o)
	writeJSON(w, http.StatusCreated, o)
	return nil
}

// errChangeSelf answers an operator's change of its own role or activity: an admin who
// demoted or deactivated itself by mistake would need another admin to undo it.
var errChangeSelf = newAPIError(http.StatusConflict, "INVALID_STATE",
	"an operator cannot change its own role or deactivate itself; ask another admin")

func (s *Server) updateOperator(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Role     *string `json:"role"`
		IsActive *bool   `json:"is_active"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Role == nil && body.IsActive == nil {
		return curhat.Invalid("role", "role or is_active is required")
	}
	if body.Role != nil {
		if err := validRole("role", *body.Role); err != nil {
			return err
		}
	}
	if id == c.ID {
		return errChangeSelf
	}
	before, after, err := s.app.accounts.UpdateOperator(r.Context(), id, operatorUpdate{Role: body.Role, IsActive: body.IsActive, At: s.app.clock.Now()})
	if err != nil {
		return err
	}
	if after != before {
		// Every instance forgets what it remembers of the operator's tokens: the next
		// request reads the new role, or is refused (deactivated: its tokens were revoked).
		s.app.auth.revoked(r.Context(), SubjectOperator, id)
	}
	s.audit(r, c, "operator.update", "operator", id.String(), before, after)
	writeJSON(w, http.StatusOK, after)
	return nil
}

// pageQuery reads ?page= (from 1) and ?page_size= (1..maxSize, default defSize).
func pageQuery(r *http.Request, defSize, maxSize int) (page, size int, err error) {
	page, size = 1, defSize
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &page, 1_000_000}, {"page_size", &size, maxSize}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > p.max {
				return 0, 0, curhat.Invalid(p.name, "must be an integer in 1..%d", p.max)
			}
			*p.dst = n
		}
	}
	return page, size, nil
}

// errOperatorDeactivated refuses a token for a deactivated operator.
var errOperatorDeactivated = newAPIError(http.StatusConflict, "INVALID_STATE",
	"this operator account is deactivated: reactivate it before minting a token")

var errOperatorInactive = newAPIError(http.StatusUnauthorized, "UNAUTHENTICATED",
	"this operator account does not exist or is deactivated")
