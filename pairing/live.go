package pairing

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// LiveStore is the operators' view of live work: the clients waiting for a mitra (or for
// their own payment) and the chats running. It is part of Store.
type LiveStore interface {
	// ListWaitingPairings returns one page of the waiting pairings matching q, oldest first
	// (created_at, then id): the client waiting longest on top. q is normalised already.
	ListWaitingPairings(ctx context.Context, q WaitingQuery) ([]WaitingPairing, int, error)
	// ListActiveSessions returns one page of the active chat sessions, soonest end first
	// (ends_at, then id), and how many are active in all. q is normalised already.
	ListActiveSessions(ctx context.Context, q ActiveSessionQuery) ([]ActiveSession, int, error)
}

// WaitingStatuses are what a pairing can wait in, as operators list them: the open
// statuses (see OpenStatuses). StatusAwaitingPayment stands for every pairing waiting for
// its client's payment: a blast before it is paid, and a targeted pairing the mitra
// accepted whose chat session waits for the payment (the pairing is matched then, its
// session pending_payment, and the mitra's slot held).
var WaitingStatuses = slices.Clone(OpenStatuses)

// WaitingQuery selects waiting pairings.
type WaitingQuery struct {
	// Statuses keeps the pairings waiting in any of these (see WaitingStatuses); empty:
	// every one.
	Statuses []Status
	// ClientID keeps the pairings of one client (nil: every client's).
	ClientID *uuid.UUID
	// Page starts at 1 (0 means 1); PageSize defaults to 20 and is at most 100.
	Page, PageSize int
}

// WaitingPairing is one row of the list of waiting pairings.
type WaitingPairing struct {
	Pairing
	// Waiting is the status the pairing waits in: its Status, or StatusAwaitingPayment for
	// a targeted pairing whose accepted chat waits for the payment (Status matched).
	Waiting Status
	// ClientName is the client's display name.
	ClientName string
	// Offers counts the mitras offered the pairing so far, whatever became of each offer.
	Offers int
}

// ActiveSessionQuery pages the active chat sessions.
type ActiveSessionQuery struct {
	// Page starts at 1 (0 means 1); PageSize defaults to 20 and is at most 100.
	Page, PageSize int
}

// ActiveSession is one row of the list of running chats.
type ActiveSession struct {
	ChatSession
	ClientName string
	MitraName  string
}

// normalize validates q and fills its defaults (every waiting status, the paging).
func (q WaitingQuery) normalize() (WaitingQuery, error) {
	for _, s := range q.Statuses {
		if !slices.Contains(WaitingStatuses, s) {
			return q, core.Invalid("status", "must be one of %s, not %q", joinStatuses(WaitingStatuses), s)
		}
	}
	if len(q.Statuses) == 0 {
		q.Statuses = WaitingStatuses
	}
	var err error
	q.Page, q.PageSize, err = core.NormalizePage(q.Page, q.PageSize)
	return q, err
}

func joinStatuses(ss []Status) string {
	return strings.Join(statusStrings(ss), ", ")
}

// ListWaitingPairings returns one page of the pairings waiting in q.Statuses (every
// waiting status when empty), oldest first, with their client's name and how many mitras
// were offered each so far, and how many match in all. An unknown status or a page size
// above 100 is a validation error.
func (p *Pairer) ListWaitingPairings(ctx context.Context, q WaitingQuery) ([]WaitingPairing, int, error) {
	q, err := q.normalize()
	if err != nil {
		return nil, 0, err
	}
	items, total, err := p.store.ListWaitingPairings(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("list waiting pairings: %w", err)
	}
	return items, total, nil
}

// ListActiveSessions returns one page of the chat sessions running now, soonest end
// first, with the names of both parties, and how many are running in all. A page size
// above 100 is a validation error.
func (p *Pairer) ListActiveSessions(ctx context.Context, q ActiveSessionQuery) ([]ActiveSession, int, error) {
	var err error
	q.Page, q.PageSize, err = core.NormalizePage(q.Page, q.PageSize)
	if err != nil {
		return nil, 0, err
	}
	items, total, err := p.store.ListActiveSessions(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("list active chat sessions: %w", err)
	}
	return items, total, nil
}
