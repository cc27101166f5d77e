package pairing

import (
	"errors"
	"fmt"

	"github.com/curhat/curhat/internal/core"
)

// Errors returned by the Pairer and its stores. The shared ones are the curhat sentinels,
// so errors.Is works with either name. The HTTP layer maps each to one error code of the HTTP API.
var (
	// ErrNotFound: no such pairing, offer, chat session or failure — or it belongs to
	// somebody else (callers never learn that another client's row exists).
	ErrNotFound = core.ErrNotFound
	// ErrInvalidState: the row's current status does not allow the operation (for example
	// cancelling a failed pairing, or starting a blast while another pairing is open).
	ErrInvalidState = core.ErrInvalidState
	// ErrDeactivated: the mitra was deactivated by an operator.
	ErrDeactivated = core.ErrDeactivated
	// ErrConflict: a row with the same id already exists (a concurrent identical request).
	ErrConflict = core.ErrConflict
	// ErrUnavailable: a dependency (store, payment provider) cannot be reached; retry later.
	ErrUnavailable = core.ErrUnavailable
	// ErrPaymentDeclined: the payment provider declined the chat_start charge (HTTP 402
	// PAYMENT_DECLINED). A blast's pairing is then cancelled (ReasonPaymentDeclined), and
	// a retry with the same idempotency key gets this error again; a new key is a new try.
	ErrPaymentDeclined = core.ErrPaymentDeclined

	// ErrAlreadyMatched: another mitra accepted the pairing first (HTTP 409 ALREADY_MATCHED);
	// also returned by Cancel once the pairing is matched.
	ErrAlreadyMatched = errors.New("pairing already matched")
	// ErrExpired: the offer is no longer live — its deadline passed, or the pairing was
	// cancelled or failed meanwhile (HTTP 410 EXPIRED).
	ErrExpired = errors.New("offer expired")
	// ErrAtCapacity: the mitra already holds as many active or pending_payment chat
	// sessions as it may (HTTP 409 AT_CAPACITY).
	ErrAtCapacity = errors.New("mitra is at capacity")
	// ErrNoTier: no active session price tier for the requested minutes (the reference
	// server answers 400 VALIDATION_FAILED, field minutes); the value
	// pricing.PricingStore.Quote returns, so a Quoter passes it on as is.
	ErrNoTier = core.ErrNoTier
	// ErrNoPreviousSession: "Curhat lagi" needs an ended chat session between the client
	// and that mitra (HTTP 409 NO_PREVIOUS_SESSION).
	ErrNoPreviousSession = errors.New("no previous chat session with this mitra")
	// ErrMitraUnavailable: the requested mitra cannot take a chat at all — it has been
	// deactivated (HTTP 409 MITRA_UNAVAILABLE). A mitra that is merely offline or busy gets
	// a targeted_unavailable pairing instead, from which the client may fall back to a blast.
	ErrMitraUnavailable = errors.New("mitra is not available")
	// ErrQueueFull: the queue of paid blasts holds pairing_queue_max_length pairings
	// already; nothing was created or charged (HTTP 409 QUEUE_FULL).
	ErrQueueFull = errors.New("the pairing queue is full")
	// ErrClientSuspended: an operator suspended the client (SetClientActive): it cannot
	// start a chat until it is reinstated (HTTP 403 CLIENT_SUSPENDED).
	ErrClientSuspended = errors.New("the client is suspended")
	// ErrBlocked: the client and the mitra are blocked — one of them blocked the other
	// (Pairer.Block) — so no chat is offered between them: "Curhat lagi" with that mitra,
	// or an accept of an offer the block overtook (HTTP 409 BLOCKED).
	ErrBlocked = errors.New("the client and the mitra are blocked")
	// ErrAlreadyRated: the chat session has a rating already — each is rated once, and of
	// two ratings sent at once only one is kept (HTTP 409 ALREADY_RATED).
	ErrAlreadyRated = errors.New("the chat session is rated already")
	// ErrSessionNotEnded: the chat session may be rated once it ended only (it is active,
	// waits for its payment, or was cancelled before it started). It is an ErrInvalidState
	// (HTTP 409 INVALID_STATE).
	ErrSessionNotEnded = fmt.Errorf("only an ended chat session may be rated: %w", core.ErrInvalidState)
	// ErrRatingWindowClosed: the chat session ended more than RatingWindow ago. It is an
	// ErrInvalidState (HTTP 409 INVALID_STATE).
	ErrRatingWindowClosed = fmt.Errorf("a chat session may be rated within 7 days of its end only: %w", core.ErrInvalidState)
)
