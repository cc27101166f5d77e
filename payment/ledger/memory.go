package ledger

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/memdb"
)

// MemoryStore is an in-memory Store over a memdb database: its tables ledger_txns,
// ledger_entries and ledger_carry_overs, and what its Postgres twin reads of the other
// domains' tables (payments, refunds, pairings, chat sessions, extensions) in the same
// transaction. Every method is one transaction. The payment and pairing memory stores
// over the same database post their events into it (PostIn, PostSessionValueIn,
// PostRefundIn); a database with no ledger store posts nothing.
type MemoryStore struct {
	db *memdb.DB
}

var _ Store = (*MemoryStore)(nil)

// memTxn is a row of ledger_txns.
type memTxn struct {
	Kind      Kind
	CreatedAt time.Time
}

type carryKey struct{ pairing, payment uuid.UUID }

// memLedger is the ledger's tables inside one transaction.
type memLedger struct {
	tx      *memdb.Tx
	txns    memdb.Table[uuid.UUID, memTxn]
	entries memdb.Table[int64, Entry]
	seq     memdb.Table[bool, int64]
	carry   memdb.Table[carryKey, int64]
}

// NewMemoryStore returns an empty store over a database of its own.
func NewMemoryStore() *MemoryStore { return NewMemoryStoreIn(memdb.New()) }

// NewMemoryStoreIn returns a MemoryStore over db, whose tables it shares with the other
// domains' stores over it (curhat.NewMemoryClient).
func NewMemoryStoreIn(db *memdb.DB) *MemoryStore {
	memdb.NewTable[uuid.UUID, memTxn](db, "ledger_txns", nil)
	memdb.NewTable[int64, Entry](db, "ledger_entries", nil)
	memdb.NewTable[bool, int64](db, "ledger_entries_seq", nil)
	memdb.NewTable[carryKey, int64](db, "ledger_carry_overs", nil)
	return &MemoryStore{db: db}
}

// open returns the ledger's tables in tx (false: no ledger store over its database).
func open(tx *memdb.Tx) (memLedger, bool) {
	txns, ok := memdb.Open[uuid.UUID, memTxn](tx, "ledger_txns")
	if !ok {
		return memLedger{}, false
	}
	entries, _ := memdb.Open[int64, Entry](tx, "ledger_entries")
	seq, _ := memdb.Open[bool, int64](tx, "ledger_entries_seq")
	carry, _ := memdb.Open[carryKey, int64](tx, "ledger_carry_overs")
	return memLedger{tx: tx, txns: txns, entries: entries, seq: seq, carry: carry}, true
}

func (s *MemoryStore) begin() (memLedger, func()) {
	tx := s.db.Begin()
	l, _ := open(tx)
	return l, tx.End
}

// post appends t, validated; false when its id exists.
func (l memLedger) post(t Txn) (bool, error) {
	if err := t.Validate(); err != nil {
		return false, err
	}
	if _, ok := l.txns[t.ID]; ok {
		return false, nil
	}
	for _, ln := range t.Lines {
		if (ln.MitraID != nil && l.tx.Missing("mitras", *ln.MitraID)) ||
			(ln.PaymentID != nil && l.tx.Missing("payment_sessions", *ln.PaymentID)) ||
			(ln.ChatSessionID != nil && l.tx.Missing("chat_sessions", *ln.ChatSessionID)) {
			return false, errors.Join(ErrNotFound, errors.New("a ledger line refers to a row that does not exist"))
		}
	}
	at := t.At.UTC().Truncate(time.Microsecond)
	t.At = at
	l.txns[t.ID] = memTxn{Kind: t.Kind, CreatedAt: at}
	for _, e := range t.entries() {
		l.seq[true]++
		l.entries[l.seq[true]] = e
	}
	return true, nil
}

// PostIn posts t inside tx, a transaction of the in-memory database of
// curhat.NewMemoryClient (what PostTx does in a Postgres transaction). A database with no
// ledger store posts nothing.
func PostIn(tx *memdb.Tx, t Txn) (bool, error) {
	l, ok := open(tx)
	if !ok {
		return false, nil
	}
	return l.post(t)
}

func (s *MemoryStore) Post(_ context.Context, t Txn) (bool, error) {
	l, end := s.begin()
	defer end()
	return l.post(t)
}

// clientFunds is the sum of a payment's client_funds lines.
func (l memLedger) clientFunds(paymentID uuid.UUID) int64 {
	var n int64
	for _, e := range l.entries {
		if e.Account == AccountClientFunds && *e.PaymentID == paymentID {
			n += e.Amount
		}
	}
	return n
}

// unsettledRefunds sums a payment's refunds that have not gone through.
func (l memLedger) unsettledRefunds(paymentID uuid.UUID) int64 {
	var n int64
	for r := range l.tx.Rows("payment_refunds") {
		if memdb.Col[uuid.UUID](r, "payment_id") == paymentID && memdb.Col[string](r, "status") != "succeeded" {
			n += memdb.Col[int64](r, "amount")
		}
	}
	return n
}

// PostSessionValueIn posts the value of a chat session that ends now, inside tx (the
// twin of PostSessionValueTx and of the SQL function ledger_post_session_value).
func PostSessionValueIn(tx *memdb.Tx, e SessionEnd) error {
	if err := e.Validate(); err != nil {
		return err
	}
	l, ok := open(tx)
	if !ok {
		return nil
	}
	return l.postSessionValue(e, KindSessionValue)
}

func (l memLedger) postSessionValue(e SessionEnd, kind Kind) error {
	id := TxnID(KindSessionValue, e.SessionID)
	if _, ok := l.txns[id]; ok {
		return nil
	}
	type attr struct {
		payment memdb.Row
		amount  int64
		// rank: the session's own extensions (0) come before what it started with (1).
		rank int
	}
	var as []attr
	rank := 1
	add := func(paymentID uuid.UUID, amount int64) {
		p, ok := l.tx.Lookup("payment_sessions", paymentID)
		if ok && memdb.Col[*time.Time](p, "paid_at") != nil && amount > 0 {
			as = append(as, attr{payment: p, amount: amount, rank: rank})
		}
	}
	if pr, ok := l.tx.Lookup("pairings", e.PairingID); ok {
		if pid := memdb.Col[*uuid.UUID](pr, "payment_session_id"); pid != nil && !memdb.Col[bool](pr, "prepaid") {
			if p, ok := l.tx.Lookup("payment_sessions", *pid); ok {
				add(*pid, memdb.Col[int64](p, "amount"))
			}
		}
	}
	for k, amount := range l.carry {
		if k.pairing == e.PairingID {
			add(k.payment, amount)
		}
	}
	rank = 0
	for x := range l.tx.Rows("extensions") {
		pid := memdb.Col[*uuid.UUID](x, "payment_session_id")
		if pid == nil || memdb.Col[uuid.UUID](x, "chat_session_id") != e.SessionID || memdb.Col[string](x, "status") != "paid" {
			continue
		}
		if p, ok := l.tx.Lookup("payment_sessions", *pid); ok {
			add(*pid, memdb.Col[int64](p, "amount"))
		}
	}
	// The extensions, then the rest, newest payment first: as the SQL function orders them.
	slices.SortFunc(as, func(a, b attr) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), memdb.Col[time.Time](b.payment, "created_at").Compare(memdb.Col[time.Time](a.payment, "created_at")),
			compareIDs(memdb.Col[uuid.UUID](b.payment, "id"), memdb.Col[uuid.UUID](a.payment, "id")))
	})
	cs := make([]Contribution, len(as))
	for i, a := range as {
		pid := memdb.Col[uuid.UUID](a.payment, "id")
		held := -l.clientFunds(pid) - l.unsettledRefunds(pid)
		pct := 0
		if p := memdb.Col[*int](a.payment, "platform_fee_percent"); p != nil {
			pct = *p
		}
		cs[i] = Contribution{PaymentID: pid, Attributed: a.amount, Gives: min(a.amount, max(held, 0)), FeePercent: pct,
			Currency: memdb.Col[string](a.payment, "currency")}
	}
	t, ok, carry := sessionValue(e, kind, cs)
	if e.CarryTo != nil {
		for _, c := range carry {
			k := carryKey{pairing: *e.CarryTo, payment: c.PaymentID}
			if _, exists := l.carry[k]; !exists {
				l.carry[k] = c.Amount
			}
		}
	}
	if !ok {
		return nil
	}
	_, err := l.post(t)
	return err
}

// RefundPosting is a refund that went through: what PostRefundTx and PostRefundIn post.
type RefundPosting struct {
	RefundID, PaymentID uuid.UUID
	Amount              int64
	Currency            string
	// FeePercent is the payment's platform_fee_percent (what a reversal takes back from
	// the platform).
	FeePercent int
	At         time.Time
}

// PostRefundIn posts a refund that went through inside tx and, when the payment's
// client_funds no longer cover it, the reversal of the earnings it had become (the twin
// of PostRefundTx).
func PostRefundIn(tx *memdb.Tx, r RefundPosting) error {
	l, ok := open(tx)
	if !ok {
		return nil
	}
	posted, err := l.post(RefundSucceeded(r.RefundID, r.PaymentID, r.Amount, r.Currency, r.At))
	if err != nil || !posted {
		return err
	}
	short := l.clientFunds(r.PaymentID)
	if short <= 0 {
		return nil
	}
	consumed := l.consumed(r.PaymentID)
	available := map[uuid.UUID]int64{}
	for _, c := range consumed {
		available[c.MitraID] = AccountMitraAvailable.Held(l.mitraSum(c.MitraID, AccountMitraAvailable))
	}
	t, ok := reversal(r.RefundID, r.PaymentID, short, r.FeePercent, r.Currency, r.At, consumed, available)
	if !ok {
		return nil
	}
	_, err = l.post(t)
	return err
}

// consumed lists the session values that took money of a payment, newest first.
func (l memLedger) consumed(paymentID uuid.UUID) []Consumed {
	type item struct {
		c   Consumed
		seq int64
	}
	bySession := map[uuid.UUID]*item{}
	for seq, e := range l.entries {
		if e.Account != AccountClientFunds || *e.PaymentID != paymentID || e.ChatSessionID == nil {
			continue
		}
		it, ok := bySession[*e.ChatSessionID]
		if !ok {
			it = &item{c: Consumed{ChatSessionID: *e.ChatSessionID}}
			bySession[*e.ChatSessionID] = it
		}
		switch e.Kind {
		case KindSessionValue, KindBackfill:
			it.c.Value += e.Amount
			it.seq = max(it.seq, seq)
		case KindEarningReversed:
			it.c.Reversed -= e.Amount
		}
	}
	var items []item
	for sid, it := range bySession {
		for _, e := range l.entries {
			if e.ChatSessionID != nil && *e.ChatSessionID == sid && e.Account == AccountMitraPending &&
				(e.Kind == KindSessionValue || e.Kind == KindBackfill) {
				it.c.MitraID = *e.MitraID
			}
		}
		it.c.Pending = l.unclearedEarning(sid)
		if it.c.Value > 0 {
			items = append(items, *it)
		}
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(b.seq, a.seq) })
	out := make([]Consumed, len(items))
	for i, it := range items {
		out[i] = it.c
	}
	return out
}

// HeldIn returns what a mitra's account holds (Account.Held of its lines) inside tx, the
// twin of reading it under LockMitraTx (0 when no ledger store is over tx's database).
func HeldIn(tx *memdb.Tx, mitraID uuid.UUID, a Account) int64 {
	l, ok := open(tx)
	if !ok {
		return 0
	}
	return a.Held(l.mitraSum(mitraID, a))
}

// unclearedEarning is what is left in mitra_pending of a session's earning: its value's
// mitra_pending credit less what reversals took from it, 0 once it cleared.
func (l memLedger) unclearedEarning(sessionID uuid.UUID) int64 {
	var left int64
	for _, e := range l.entries {
		if e.ChatSessionID == nil || *e.ChatSessionID != sessionID || e.Account != AccountMitraPending {
			continue
		}
		if e.Kind == KindEarningCleared {
			return 0
		}
		left -= e.Amount // the value's credit (−E) and the reversals' debits (+)
	}
	return max(left, 0)
}

func (l memLedger) mitraSum(mitraID uuid.UUID, a Account) int64 {
	var n int64
	for _, e := range l.entries {
		if e.Account == a && e.MitraID != nil && *e.MitraID == mitraID {
			n += e.Amount
		}
	}
	return n
}

func (s *MemoryStore) Balance(_ context.Context) (Balance, error) {
	l, end := s.begin()
	defer end()
	b := Balance{Accounts: map[Account]int64{}}
	sums := map[Account]int64{}
	for _, e := range l.entries {
		sums[e.Account] += e.Amount
		b.Imbalance += e.Amount
		b.Currency = e.Currency
	}
	for _, a := range Accounts {
		b.Accounts[a] = a.Held(sums[a])
	}
	return b, nil
}

func (s *MemoryStore) Earnings(_ context.Context, mitraID uuid.UUID) (Earnings, error) {
	l, end := s.begin()
	defer end()
	var out Earnings
	sums := map[Account]int64{}
	for _, e := range l.entries {
		if e.MitraID == nil || *e.MitraID != mitraID {
			continue
		}
		out.Currency = e.Currency
		sums[e.Account] += e.Amount
		switch {
		case e.Kind == KindPayoutSucceeded && e.Account == AccountPayoutsInFlight:
			out.PaidOut += e.Amount
		case e.Kind == KindPayoutReversed && e.Account == AccountMitraAvailable:
			out.PaidOut += e.Amount
		}
		if e.ClearsAt != nil && e.Account == AccountMitraPending && l.unclearedEarning(*e.ChatSessionID) > 0 &&
			(out.NextClearanceAt == nil || e.ClearsAt.Before(*out.NextClearanceAt)) {
			t := *e.ClearsAt
			out.NextClearanceAt = &t
		}
	}
	out.Pending = AccountMitraPending.Held(sums[AccountMitraPending])
	out.Available = AccountMitraAvailable.Held(sums[AccountMitraAvailable])
	out.InFlight = AccountPayoutsInFlight.Held(sums[AccountPayoutsInFlight])
	out.Receivable = AccountMitraReceivable.Held(sums[AccountMitraReceivable])
	return out, nil
}

func (s *MemoryStore) Entries(_ context.Context, f EntryFilter) ([]Entry, int, error) {
	f, err := f.normalize()
	if err != nil {
		return nil, 0, err
	}
	l, end := s.begin()
	defer end()
	type item struct {
		e   Entry
		seq int64
	}
	var all []item
	for seq, e := range l.entries {
		if e.MitraID != nil && *e.MitraID == f.MitraID {
			all = append(all, item{e, seq})
		}
	}
	slices.SortFunc(all, func(a, b item) int { return cmp.Or(b.e.CreatedAt.Compare(a.e.CreatedAt), cmp.Compare(b.seq, a.seq)) })
	page := memdb.Page(all, f.Page, f.PageSize, f.PageSize)
	out := make([]Entry, len(page))
	for i, it := range page {
		out[i] = it.e
	}
	return out, len(all), nil
}

// dueEarning is a session's earning waiting for its clearance.
type dueEarning struct {
	sessionID, mitraID uuid.UUID
	earning            int64
	currency           string
	clearsAt           time.Time
}

func (s *MemoryStore) Clear(_ context.Context, at time.Time, limit int) (int, error) {
	l, end := s.begin()
	defer end()
	var due []dueEarning
	for _, e := range l.entries {
		if e.Account != AccountMitraPending || e.ClearsAt == nil || e.ClearsAt.After(at) {
			continue
		}
		if left := l.unclearedEarning(*e.ChatSessionID); left > 0 {
			due = append(due, dueEarning{sessionID: *e.ChatSessionID, mitraID: *e.MitraID, earning: left,
				currency: e.Currency, clearsAt: *e.ClearsAt})
		}
	}
	slices.SortFunc(due, func(a, b dueEarning) int {
		return cmp.Or(a.clearsAt.Compare(b.clearsAt), slices.Compare(a.sessionID[:], b.sessionID[:]))
	})
	n := 0
	for _, d := range due {
		if limit > 0 && n >= limit {
			break
		}
		pending := AccountMitraPending.Held(l.mitraSum(d.mitraID, AccountMitraPending))
		receivable := AccountMitraReceivable.Held(l.mitraSum(d.mitraID, AccountMitraReceivable))
		t, ok := clearance(d.sessionID, d.mitraID, d.earning, pending, receivable, d.currency, at)
		if !ok {
			continue
		}
		if _, err := l.post(t); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *MemoryStore) CarryOver(_ context.Context, pairingID uuid.UUID) ([]Part, error) {
	l, end := s.begin()
	defer end()
	return l.carryOver(pairingID), nil
}

// CarryOverIn returns the carry-over of a prepaid pairing inside tx (Store.CarryOver);
// false when no ledger store is over tx's database.
func CarryOverIn(tx *memdb.Tx, pairingID uuid.UUID) ([]Part, bool) {
	l, ok := open(tx)
	if !ok {
		return nil, false
	}
	return l.carryOver(pairingID), true
}

func (l memLedger) carryOver(pairingID uuid.UUID) []Part {
	type item struct {
		p       Part
		created time.Time
	}
	var items []item
	for k, amount := range l.carry {
		if k.pairing != pairingID {
			continue
		}
		var created time.Time
		if p, ok := l.tx.Lookup("payment_sessions", k.payment); ok {
			created = memdb.Col[time.Time](p, "created_at")
		}
		items = append(items, item{Part{PaymentID: k.payment, Amount: amount}, created})
	}
	slices.SortFunc(items, func(a, b item) int {
		return cmp.Or(b.created.Compare(a.created), slices.Compare(b.p.PaymentID[:], a.p.PaymentID[:]))
	})
	var out []Part
	for _, it := range items {
		out = append(out, it.p)
	}
	return out
}

func (s *MemoryStore) Revenue(_ context.Context, from, to time.Time) (int64, error) {
	l, end := s.begin()
	defer end()
	var n int64
	for _, e := range l.entries {
		if e.Account == AccountPlatformRevenue && !e.CreatedAt.Before(from) && e.CreatedAt.Before(to) {
			n -= e.Amount
		}
	}
	return n, nil
}

func (s *MemoryStore) Check(_ context.Context, cutoff time.Time) ([]Finding, error) {
	l, end := s.begin()
	defer end()
	var out []Finding
	byTxn := map[uuid.UUID]int64{}
	perMitra := map[uuid.UUID]map[Account]int64{}
	perPayment := map[uuid.UUID]int64{}
	var gateway, payouts int64 // payouts: what succeeded payouts took from the provider
	for _, e := range l.entries {
		byTxn[e.TxnID] += e.Amount
		if e.MitraID != nil {
			if perMitra[*e.MitraID] == nil {
				perMitra[*e.MitraID] = map[Account]int64{}
			}
			perMitra[*e.MitraID][e.Account] += e.Amount
		}
		switch e.Account {
		case AccountClientFunds:
			perPayment[*e.PaymentID] += e.Amount
		case AccountGateway:
			gateway += e.Amount
		}
	}
	for id, sum := range byTxn {
		if sum != 0 {
			out = append(out, Finding{Reason: ReasonUnbalanced, TxnID: ptr(id), Amount: sum})
		}
	}
	for id, sums := range perMitra {
		for _, a := range []Account{AccountMitraPending, AccountMitraAvailable, AccountPayoutsInFlight} {
			if held := a.Held(sums[a]); held < 0 {
				out = append(out, Finding{Reason: ReasonNegativeBalance, MitraID: ptr(id), Account: a, Amount: held})
			}
		}
	}
	var paid, refunded int64
	for p := range l.tx.Rows("payment_sessions") {
		if memdb.Col[*time.Time](p, "paid_at") != nil {
			paid += memdb.Col[int64](p, "amount")
		}
	}
	for r := range l.tx.Rows("payment_refunds") {
		if memdb.Col[string](r, "status") == "succeeded" {
			refunded += memdb.Col[int64](r, "amount")
		}
	}
	for p := range l.tx.Rows("payouts") {
		if memdb.Col[string](p, "status") == "succeeded" {
			payouts += memdb.Col[int64](p, "amount")
		}
	}
	if want := paid - refunded - payouts; gateway != want {
		out = append(out, Finding{Reason: ReasonGatewayMismatch, Account: AccountGateway, Amount: gateway - want})
	}
	for id, sum := range perPayment {
		if f, ok := l.holding(id, -sum, cutoff); ok {
			out = append(out, f)
		}
	}
	sortFindings(out)
	return out, nil
}

// holding says why payment id holds held in client_funds when it should not (false: it
// may: something it paid for is still open, or it changed after cutoff).
func (l memLedger) holding(id uuid.UUID, held int64, cutoff time.Time) (Finding, bool) {
	if held == 0 {
		return Finding{}, false
	}
	if held < 0 {
		return Finding{Reason: ReasonOverdrawn, PaymentID: ptr(id), Account: AccountClientFunds, Amount: held}, true
	}
	p, ok := l.tx.Lookup("payment_sessions", id)
	if !ok {
		return Finding{}, false
	}
	if paidAt := memdb.Col[*time.Time](p, "paid_at"); paidAt == nil || paidAt.After(cutoff) {
		return Finding{}, false
	}
	for r := range l.tx.Rows("payment_refunds") {
		if memdb.Col[uuid.UUID](r, "payment_id") == id && memdb.Col[string](r, "status") != "succeeded" {
			if memdb.Col[time.Time](r, "created_at").After(cutoff) {
				return Finding{}, false
			}
			return Finding{Reason: ReasonRefundNotSucceeded, PaymentID: ptr(id), Account: AccountClientFunds, Amount: held}, true
		}
	}
	if l.inUse(p, id) {
		return Finding{}, false
	}
	return Finding{Reason: ReasonHoldsFunds, PaymentID: ptr(id), Account: AccountClientFunds, Amount: held}, true
}

// sessionOpen reports whether a chat session is not final.
func (l memLedger) sessionOpen(id *uuid.UUID) bool {
	if id == nil {
		return false
	}
	s, ok := l.tx.Lookup("chat_sessions", *id)
	if !ok {
		return false
	}
	st := memdb.Col[string](s, "status")
	return st != "ended" && st != "cancelled"
}

// pairingOpen reports whether a pairing still waits, or matched a session not final.
func (l memLedger) pairingOpen(id uuid.UUID) bool {
	pr, ok := l.tx.Lookup("pairings", id)
	if !ok {
		return false
	}
	switch memdb.Col[string](pr, "status") {
	case "failed", "cancelled":
		return false
	case "matched":
		return l.sessionOpen(memdb.Col[*uuid.UUID](pr, "chat_session_id"))
	}
	return true
}

// inUse reports whether what payment p (id) pays for is still under way: its pairing, its
// session, or a continuation it carries into.
func (l memLedger) inUse(p memdb.Row, id uuid.UUID) bool {
	if pid := memdb.Col[*uuid.UUID](p, "pairing_id"); pid != nil && l.pairingOpen(*pid) {
		return true
	}
	if l.sessionOpen(memdb.Col[*uuid.UUID](p, "chat_session_id")) {
		return true
	}
	for k := range l.carry {
		if k.payment == id && l.pairingOpen(k.pairing) {
			return true
		}
	}
	return false
}

func compareIDs(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) }

func sortFindings(fs []Finding) {
	key := func(p *uuid.UUID) []byte {
		if p == nil {
			return nil
		}
		return p[:]
	}
	slices.SortFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Reason, b.Reason), slices.Compare(key(a.PaymentID), key(b.PaymentID)),
			slices.Compare(key(a.MitraID), key(b.MitraID)), slices.Compare(key(a.TxnID), key(b.TxnID)),
			cmp.Compare(a.Account, b.Account))
	})
}
