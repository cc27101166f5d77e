package availability

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/curhat/curhat/internal/core"
)

// Limits of ListMitrasParams.
const (
	// DefaultListPageSize is the page size of ListMitras when none is given.
	DefaultListPageSize = 20
	// MaxListPageSize bounds a page of ListMitras: every row of a page costs a Valkey
	// round trip for its reachability.
	MaxListPageSize = 100
	// MaxListQueryLength bounds ListMitrasParams.Query, in characters.
	MaxListQueryLength = 200
)

// ListMitrasParams narrows and pages Mirror.ListMitras. Nil filters match every mitra.
type ListMitrasParams struct {
	// Query matches mitras whose display name contains it, ignoring case, and the mitra
	// whose id it is. Empty matches every mitra.
	Query string
	// IsActive keeps the mitras that are (true) or are not (false) deactivated.
	IsActive *bool
	// Online keeps the mitras that are (true) or are not (false) online: online and not
	// deactivated, as OnlineCount counts them.
	Online *bool
	// AtCapacity keeps the mitras whose every slot is (true) or is not (false) taken.
	AtCapacity *bool
	// Page counts from 1; 0 means 1.
	Page int
	// PageSize is 1..MaxListPageSize; 0 means DefaultListPageSize.
	PageSize int
}

// MitraListQuery is ListMitrasParams resolved by the Mirror for its Store.
type MitraListQuery struct {
	Query                        string
	IsActive, Online, AtCapacity *bool
	// DefaultMax is the capacity of a mitra without its own maximum.
	DefaultMax int
	// Offset rows are skipped, then at most Limit returned.
	Offset, Limit int
}

// ListedMitra is one row of a mitra list.
type ListedMitra struct {
	Mitra
	// OpenSessions is the capacity in use: chat sessions in active or pending_payment.
	OpenSessions int
	// MaxSessions is the effective maximum (the mitra's own, or the default).
	MaxSessions int
	// Reachable: online, active and pinged within the stale threshold, as the mirror
	// (Valkey, Postgres when Valkey fails) says now.
	Reachable bool
}

// MitraList is one page of mitras, newest first, and how many match in all.
type MitraList struct {
	Items []ListedMitra
	Total int
}

// ListMitras returns one page of the mitras matching p, newest first, for operators. The
// rows and the total come from Postgres in one query; reachability from the mirror, one
// Valkey round trip per row (the page size is bounded), falling back to what Postgres
// says when Valkey fails.
func (m *Mirror) ListMitras(ctx context.Context, p ListMitrasParams) (MitraList, error) {
	p.Query = strings.TrimSpace(p.Query)
	switch {
	case utf8.RuneCountInString(p.Query) > MaxListQueryLength:
		return MitraList{}, core.Invalid("q", "must be at most %d characters", MaxListQueryLength)
	case p.Page < 0:
		return MitraList{}, core.Invalid("page", "must be at least 1")
	case p.PageSize < 0 || p.PageSize > MaxListPageSize:
		return MitraList{}, core.Invalid("page_size", "must be 1..%d", MaxListPageSize)
	}
	page, size := max(p.Page, 1), p.PageSize
	if size == 0 {
		size = DefaultListPageSize
	}
	defaultMax := m.defaultMax(ctx)
	rows, total, err := m.store.ListMitras(ctx, MitraListQuery{
		Query: p.Query, IsActive: p.IsActive, Online: p.Online, AtCapacity: p.AtCapacity,
		DefaultMax: defaultMax, Offset: (page - 1) * size, Limit: size,
	})
	if err != nil {
		return MitraList{}, fmt.Errorf("list mitras: %w", err)
	}
	fresh := m.freshAfter()
	for i := range rows {
		r := &rows[i]
		st := MitraState{ID: r.ID, IsActive: r.IsActive, IsOnline: r.IsOnline, LastHeartbeatAt: r.LastHeartbeatAt,
			MaxConcurrentSessions: r.MaxConcurrentSessions, OpenSessions: r.OpenSessions}
		r.MaxSessions = st.MaxSessions(defaultMax)
		// Pings reach Postgres only every heartbeat mirror interval: the live answer is
		// Valkey's, Postgres's the fallback.
		r.Reachable, err = readThrough(ctx, m, "list_mitras",
			func(ctx context.Context) (bool, error) { return m.cache.IsReachable(ctx, r.ID, fresh) },
			func(context.Context) (bool, error) { return st.Reachable(fresh), nil })
		if err != nil {
			return MitraList{}, err
		}
	}
	return MitraList{Items: rows, Total: total}, nil
}
