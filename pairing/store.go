package pairing

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
)

// Store is the durable truth of clients, pairings, offers, chat sessions and failures
// (Postgres: NewPostgresStore; in memory: NewMemoryStore). Every method is atomic, and
// every state change is guarded by the row's current status, so that concurrent callers on
// any number of instances end in exactly one transition. Times come from the caller (the
// Pairer's clock), never from the store. A row that refers to a client, a mitra or a
// payment that does not exist is refused with ErrNotFound, as the foreign keys of the
// schema refuse it, and a value outside a column's check (a status, minutes) with a
// *ValidationError naming the check.
type Store interface {
	// CreateClient inserts c, active whatever c.IsActive says (a client is registered
	// active). When c.ID exists it inserts nothing and returns the stored client if its
	// display name is c.DisplayName (a retried registration), else ErrConflict.
	CreateClient(ctx context.Context, c Client) (Client, error)
	// GetClient returns a client, or ErrNotFound.
	GetClient(ctx context.Context, id uuid.UUID) (Client, error)

	// CreatePairing inserts p. It fails with ErrNotFound when its client (or target mitra)
	// does not exist, with ErrClientSuspended when the client is suspended, with
	// ErrConflict when p.ID exists, and with ErrInvalidState when the client already has
	// an open pairing (see OpenStatuses); the checks and the insert are serialised per
	// client.
	CreatePairing(ctx context.Context, p Pairing) (Pairing, error)
	GetPairing(ctx context.Context, id uuid.UUID) (Pairing, error)
	// ListPairings returns the pairings matching q, oldest first.
	ListPairings(ctx context.Context, q PairingQuery) ([]Pairing, error)
	// AttachPayment sets the pairing's payment session when it has none (or has this
	// one already); another one attached → ErrInvalidState. The status is not checked.
	AttachPayment(ctx context.Context, pairingID, paymentID uuid.UUID, now time.Time) (Pairing, error)
	// Transition moves a pairing from one of t.From to t.To, closes its live offers and
	// writes the failure row, all at once; see PairingTransition.
	Transition(ctx context.Context, t PairingTransition) (TransitionResult, error)
	// FallbackToBlast turns a targeted_unavailable pairing into a blast in
	// awaiting_payment, with no payment, deadline or failure reason (else ErrInvalidState).
	FallbackToBlast(ctx context.Context, id uuid.UUID, now time.Time) (Pairing, error)

	// InsertOffers offers a waiting pairing (searching or targeted_waiting, deadline not
	// passed at now) to mitras that have no offer for it yet and are not blocked with its
	// client (BlockStore), and returns those offered, in the order of mitraIDs. A pairing
	// no longer waiting gets no offers (and no error): an offer never outlives its pairing.
	// An unknown pairing, or a mitra that does not exist, is ErrNotFound and offers nothing.
	InsertOffers(ctx context.Context, pairingID uuid.UUID, mitraIDs []uuid.UUID, now time.Time) ([]uuid.UUID, error)
	// OfferedMitras returns every mitra offered the pairing, whatever the offer's status.
	OfferedMitras(ctx context.Context, pairingID uuid.UUID) ([]uuid.UUID, error)
	// ListOffers returns the mitra's live offers at now — of waiting pairings, and of queued
	// ones before their own deadline — most urgent (earliest deadline) first, then oldest
	// first.
	ListOffers(ctx context.Context, mitraID uuid.UUID, now time.Time) ([]Offer, error)
	// DeclineOffer marks the mitra's live offer declined (counted in its answers, its
	// offers missed in a row back to 0) and returns the pairing; ErrNotFound when there is
	// no such live offer.
	DeclineOffer(ctx context.Context, mitraID, pairingID uuid.UUID, now time.Time) (Pairing, error)
	// PairingsToOffer returns searching blasts whose deadline is after now, that were
	// never offered to the mitra and whose client is not blocked with it, oldest first, at
	// most limit. Blasts offered ring by ring (Rings > 0) are not: their rings pick who is
	// offered next.
	PairingsToOffer(ctx context.Context, mitraID uuid.UUID, now time.Time, limit int) ([]Pairing, error)
	// AcceptOffer claims a pairing for a mitra; see AcceptParams for the checks. The
	// mitra's offer is counted in its answers and its offers missed in a row go back to 0.
	AcceptOffer(ctx context.Context, a AcceptParams) (AcceptResult, error)

	// MitraInfo returns what the store knows of a mitra's capacity (ErrNotFound if none).
	MitraInfo(ctx context.Context, mitraID uuid.UUID) (MitraInfo, error)

	GetChatSession(ctx context.Context, id uuid.UUID) (ChatSession, error)
	// ListChatSessions returns the sessions matching q, newest first.
	ListChatSessions(ctx context.Context, q ListSessionsParams) ([]ChatSession, error)
	// HasEndedSession reports whether the client has an ended chat session with the mitra.
	HasEndedSession(ctx context.Context, clientID, mitraID uuid.UUID) (bool, error)
	// CountOpenSessions counts the chat sessions holding a mitra's capacity, across every
	// mitra: those active and those pending_payment.
	CountOpenSessions(ctx context.Context) (OpenSessionCounts, error)
	// ActivateChatSession moves a pending_payment session to active with the given start
	// and end (else ErrInvalidState).
	ActivateChatSession(ctx context.Context, id uuid.UUID, startedAt, endsAt, now time.Time) (ChatSession, error)
	// EndChatSession moves a session from one of t.From to t.To (else ErrInvalidState).
	EndChatSession(ctx context.Context, t SessionTransition) (ChatSession, error)
	// Reroute ends an active session and inserts the prepaid blast that continues it, in
	// one transaction (ErrInvalidState when the session is not active, or its ends_at or
	// minutes are not the ones the caller read). The client's open-pairing rule does not
	// apply: the minutes are already paid for.
	Reroute(ctx context.Context, r RerouteParams) (ChatSession, Pairing, error)

	// ListFailures returns one page of the failures matching f, newest first, and how
	// many match in all.
	ListFailures(ctx context.Context, f FailureFilter) ([]Failure, int, error)
	GetFailure(ctx context.Context, id uuid.UUID) (Failure, error)
	// SetFailureRefunded marks a refund_failed failure refunded, open or resolved (else
	// ErrInvalidState).
	SetFailureRefunded(ctx context.Context, id uuid.UUID) (Failure, error)
	// ResolveFailure closes an open failure (else ErrInvalidState).
	ResolveFailure(ctx context.Context, id uuid.UUID, by, note string, at time.Time) (Failure, error)

	// CarryOver returns what the session a prepaid pairing continues handed to it when it
	// ended (the ledger's carry-over rows), per payment, newest payment first. kept is
	// false when the store keeps no ledger (a MemoryStore built alone).
	CarryOver(ctx context.Context, pairingID uuid.UUID) (parts []ledger.Part, kept bool, err error)

	// The pairing policies: the queue, rings, missed offers (see PolicyStore).
	PolicyStore
	// Clients for operators: suspension and search (see ClientStore).
	ClientStore
	// Operators' live work: waiting pairings and running chats (see LiveStore).
	LiveStore
	// Operators' lookups of a client's story (see LookupStore).
	LookupStore
	// Operators' end of a chat session, with its refund (see OperatorEndStore).
	OperatorEndStore
	// The no-show rule: sessions whose mitra never showed up (see NoShowStore).
	NoShowStore
	// A client's erasure and the pages of its export (see ErasureStore).
	ErasureStore
	// Blocks between clients and mitras, which every offer and accept honours (see
	// BlockStore).
	BlockStore
	// Ratings of chat sessions and each mitra's running total (see RatingStore).
	RatingStore
	// Routing steps and the ranking's acceptance counts (see RoutingStore).
	RoutingStore
	WrapupStore // when mitras' chat sessions ended: the wrap-up (wrapup.go)
}

// PairingQuery selects pairings (for sweeps and timer restore). Zero fields do not filter.
type PairingQuery struct {
	Statuses []Status
	// DueBy keeps pairings whose deadline is at or before it.
	DueBy *time.Time
	// UpdatedBefore keeps pairings last changed strictly before it.
	UpdatedBefore *time.Time
	// WithoutPayment keeps pairings with no payment session.
	WithoutPayment bool
	// RingDueBy keeps pairings whose next ring is due at or before it.
	RingDueBy *time.Time
	// StepDueBy keeps pairings whose widening to the next routing step is due at or
	// before it.
	StepDueBy *time.Time
	// Limit bounds the result (0 = no bound).
	Limit int
}

// PairingTransition is one guarded status change of a pairing. Entering StatusQueued
// stamps QueuedAt (the first time only) and PaidAt if the pairing has none; every status
// but StatusSearching clears NextRingAt and NextStepAt.
type PairingTransition struct {
	ID uuid.UUID
	// From: the pairing must be in one of these, else ErrInvalidState and nothing changes.
	From []Status
	To   Status
	// DueBy, when set, also requires the pairing's deadline to be at or before it (a
	// timeout never fires for a deadline that has moved).
	DueBy *time.Time
	// ExpiresAt, when set, becomes the pairing's deadline.
	ExpiresAt *time.Time
	// PaidAt, when set, becomes the pairing's PaidAt.
	PaidAt *time.Time
	// Routing, when set, becomes the pairing's routing steps, step and widening time.
	Routing *RoutingState
	// FailureReason, when set, is written to pairings.failure_reason.
	FailureReason Reason
	// OfferStatus, when set, is what the pairing's live offers become.
	OfferStatus OfferStatus
	// Failure, when set, is inserted in the same transaction; the store fills its ID
	// (when zero), PairingID, ClientID, Type, TargetMitraID, OfferedCount (every offer of
	// the pairing), Status (open) and CreatedAt (Now). With Refund, its Amount is what the
	// refunds recorded add up to, and its RefundStatus refund_failed when that is more than
	// 0 (until they went through: SetFailureRefunded).
	Failure *Failure
	// Refund, when set, is recorded in the same transaction (the Postgres store calls
	// payment.RecordRefundTx, the in-memory one payment.RecordRefundIn — or its
	// RecordRefunds hook when it is built alone, without payment tables): the money a
	// pairing owes when it fails or is cancelled goes back even if the process dies right
	// after the commit. TransitionResult.Refunds lists what was recorded.
	Refund *payment.RefundOrder
	Now    time.Time
}

// TransitionResult is what a successful PairingTransition did.
type TransitionResult struct {
	Pairing Pairing
	// Closed are the mitras whose live offers were closed.
	Closed []uuid.UUID
	// Failure is the inserted failure row, if any.
	Failure *Failure
	// Refunds are the refunds recorded for PairingTransition.Refund (none: nothing was
	// left to give back).
	Refunds []payment.Refund
}

// AcceptParams claims a pairing for a mitra. In one transaction serialised per mitra, the
// store checks, in this order: the mitra exists (ErrNotFound); it holds an offer for the
// pairing that it did not decline (ErrNotFound); the pairing is not matched
// (ErrAlreadyMatched — unless matched to this very mitra, which replays the result); the
// pairing's client and the mitra are not blocked (ErrBlocked); the pairing is waiting (or queued), the offer live and the deadlines — the pairing's, and
// the offer's own for a queued pairing — after Now (ErrExpired); the mitra is active
// (ErrDeactivated); its active + pending_payment sessions are fewer than its maximum, or
// DefaultMaxSessions when it has none (ErrAtCapacity). Then it inserts the chat session —
// active from Now for a blast, pending_payment for a targeted pairing — marks the pairing
// matched, the offer accepted and every other live offer dismissed. Last, when the mitra's
// live offers of queued pairings now outnumber its free slots, those furthest back in the
// queue are dismissed (AcceptResult.Released): an offer of a queued pairing holds a slot.
type AcceptParams struct {
	MitraID            uuid.UUID
	PairingID          uuid.UUID
	SessionID          uuid.UUID
	ReroutedFromID     *uuid.UUID
	DefaultMaxSessions int
	Now                time.Time
}

// AcceptResult is what a successful accept did.
type AcceptResult struct {
	Pairing Pairing
	Session ChatSession
	// Dismissed are the mitras whose offers were dismissed.
	Dismissed []uuid.UUID
	// Released are the offers of queued pairings the mitra held that the accept left
	// without a free slot, dismissed.
	Released []OfferRef
	// Replayed: the pairing was already matched to this mitra; nothing changed.
	Replayed bool
	// ClientDisplayName is the display name of the pairing's client, read with the accept
	// (the mitra app shows it at once).
	ClientDisplayName string
}

// MitraInfo is a mitra's capacity as the durable store sees it.
type MitraInfo struct {
	Active bool
	// MaxConcurrentSessions is the mitra's own maximum; 0 means the runtime default.
	MaxConcurrentSessions int
	// OpenSessions counts its active and pending_payment chat sessions.
	OpenSessions int
}

// ListSessionsParams selects chat sessions. Zero fields do not filter.
type ListSessionsParams struct {
	ClientID *uuid.UUID
	MitraID  *uuid.UUID
	Status   SessionStatus
	// Statuses keeps sessions in any of these (with Status, in either).
	Statuses []SessionStatus
	// EndReasons keeps sessions that ended for one of these reasons.
	EndReasons []EndReason
	// EndsBy keeps sessions whose ends_at is at or before it.
	EndsBy *time.Time
	// Limit bounds the result (0 = no bound).
	Limit int
}

// OpenSessionCounts counts the chat sessions holding capacity, by status.
type OpenSessionCounts struct {
	// Active counts the sessions running.
	Active int
	// PendingPayment counts the targeted sessions a mitra accepted that wait for the
	// client's payment.
	PendingPayment int
}

// SessionTransition is one guarded status change of a chat session.
type SessionTransition struct {
	ID   uuid.UUID
	From []SessionStatus
	To   SessionStatus
	// Reason is written to end_reason; ended_at becomes Now.
	Reason EndReason
	// DueBy, when set, also requires ends_at at or before it (expiry never ends a session
	// that was extended meanwhile).
	DueBy *time.Time
	// EndsAt, when set, also requires ends_at to be exactly it: the caller decided on the
	// session as it read it, and a paid extension that moved ends_at since changes the
	// decision.
	EndsAt *time.Time
	Now    time.Time
	// ClearsAt is when the earning of a session that ends (To SessionEnded) becomes
	// available: its value is posted to the ledger in the same transaction (zero: at Now).
	ClearsAt time.Time
}

// RerouteParams ends an active session and starts the prepaid blast that continues it.
type RerouteParams struct {
	SessionID uuid.UUID
	Reason    EndReason
	Now       time.Time
	// EndsAt and Minutes are the session's as the caller read them to count the minutes
	// the blast carries: the session must still have exactly these, else ErrInvalidState
	// and nothing changes. An extension paid between the read and the write moved them,
	// and the blast would carry minutes (and a refund) counted without it.
	EndsAt  time.Time
	Minutes int
	// Pairing is the new prepaid blast, inserted as given. The session's value less the
	// carry-over the blast takes (its minutes of the session's) is posted to the ledger in
	// the same transaction, the earning clearing at ClearsAt (zero: at Now).
	Pairing  Pairing
	ClearsAt time.Time
}

// Paging of ListFailures: FailureFilter.PageSize defaults to DefaultFailurePageSize and is
// at most MaxFailurePageSize (the paging of every operator list).
const (
	DefaultFailurePageSize = core.DefaultPageSize
	MaxFailurePageSize     = core.MaxPageSize
)

// FailureFilter selects failed pairings for operators. Zero fields do not filter.
type FailureFilter struct {
	Reason string
	Status string
	Type   string
	// PairingID keeps the failure of one pairing.
	PairingID *uuid.UUID
	// RefundStatus keeps failures whose refund is in that state.
	RefundStatus RefundStatus
	// From (inclusive) and To (exclusive) bound created_at.
	From, To *time.Time
	// Page starts at 1 (0 means 1); PageSize defaults to 20 and is at most 100.
	Page, PageSize int
}

// DB is what NewPostgresStore takes: a *pgxpool.Pool, or a pgx.Tx (curhat.DB). Its
// methods are pgx's: Exec, Query and QueryRow run a statement; Begin starts a transaction
// (a savepoint inside a pgx.Tx).
type DB = pgutil.DB
