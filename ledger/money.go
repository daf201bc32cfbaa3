package ledger

import (
	"context"
	"errors"
	"time"
)

// ErrStale: the order changed since it was read (its Version moved on):
// another writer, maybe another instance, got there first. Read it again
// and decide again.
var ErrStale = errors.New("order changed since it was read")

// ErrInsufficientFunds: a wallet reservation or adjustment would take the
// tenant's available balance below zero.
var ErrInsufficientFunds = errors.New("insufficient funds")

// WalletState is where an order's money stands in its tenant's wallet.
type WalletState string

const (
	WalletNone     WalletState = ""         // operator mode: no wallet movement
	WalletReserved WalletState = "reserved" // TenantPrice held: neither spent nor given back
	WalletCaptured WalletState = "captured" // spent: a code was delivered
	WalletReleased WalletState = "released" // given back: ended without a code
)

// Movement is the wallet movement a state change makes.
type Movement string

const (
	MoveNone    Movement = ""
	MoveCapture Movement = "capture" // reserved → spent (first delivered code)
	MoveRelease Movement = "release" // reserved → available again (ended without a code)
)

// ActionKind is an upstream side effect the outbox owes.
type ActionKind string

const (
	ActCancel  ActionKind = "cancel"
	ActFinish  ActionKind = "finish"
	ActAnother ActionKind = "another"
	ActBan     ActionKind = "ban"
	ActWebhook ActionKind = "webhook"
)

// ActionState is where an outbox row stands.
type ActionState string

const (
	ActionPending ActionState = "pending" // to run at NextAt
	ActionDone    ActionState = "done"    // the upstream did it
	ActionFinal   ActionState = "final"   // the upstream answered definitively that it will not (nothing left to do)
	ActionGaveUp  ActionState = "gave_up" // GiveUpAt passed without either
)

// Action is one outbox row: a side effect owed to an upstream (or a
// webhook receiver), written in the same transaction as the state change
// that owes it, run by the outbox worker until done, final or given up.
type Action struct {
	ID         int64
	OrderID    int64 // 0 for an orphan cancel (a number bought but never recorded)
	Tenant     string
	Platform   string
	UpstreamID string
	Kind       ActionKind
	State      ActionState
	Attempts   int
	LastError  string // never a secret: adapters' errors name no key
	Payload    string // kind-specific (a webhook's body); "" for upstream calls
	CreatedAt  time.Time
	UpdatedAt  time.Time
	NextAt     time.Time // when a pending action is due
	GiveUpAt   time.Time // a pending action still undone then is given up
}

// IntentState is where a purchase intent stands.
type IntentState string

const (
	IntentOpen    IntentState = "open"    // the upstream may have sold a number; no order yet
	IntentBought  IntentState = "bought"  // its order is recorded (Create closed it)
	IntentAborted IntentState = "aborted" // the upstream sold nothing
	IntentOrphan  IntentState = "orphan"  // a number was bought but never recorded; a cancel is queued
	IntentUnknown IntentState = "unknown" // looked for and never found; given up
)

// Intent is written before an upstream purchase, so that a number bought
// by a process that died before recording it can be found and cancelled
// after a restart: an open intent without an order is exactly that.
type Intent struct {
	ID       int64
	Tenant   string
	Platform string
	Country  string
	Service  string
	// Hold is the wallet reservation (micro-units of Currency) made with
	// the intent; 0 when the tenant has no wallet.
	Hold       int64
	Currency   string
	State      IntentState
	UpstreamID string // the orphan's, once known
	OrderID    int64  // the order, once bought
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Wallet is a tenant's prepaid balance: Balance is what it has paid in
// less what it has spent; Reserved is held for orders still waiting for a
// code. Available = Balance − Reserved, never negative.
type Wallet struct {
	Tenant    string
	Currency  string
	Balance   int64 // micro-units
	Reserved  int64 // micro-units
	UpdatedAt time.Time
}

// Available is what the tenant can still spend.
func (w Wallet) Available() int64 { return w.Balance - w.Reserved }

// EntryKind is the kind of a journal row.
type EntryKind string

const (
	EntryTopup   EntryKind = "topup"   // Balance += Amount (admin, positive)
	EntryAdjust  EntryKind = "adjust"  // Balance += Amount (admin, either sign)
	EntryReserve EntryKind = "reserve" // Reserved += Amount
	EntryCapture EntryKind = "capture" // Balance −= Amount, Reserved −= Amount
	EntryRelease EntryKind = "release" // Reserved −= Amount
)

// Entry is one journal row: every wallet movement has exactly one, so
// Balance = Σtopup + Σadjust − Σcapture and Reserved = Σreserve −
// Σcapture − Σrelease, to the micro-unit, always. Amount is positive
// except for a downward adjust.
type Entry struct {
	ID       int64
	Tenant   string
	Kind     EntryKind
	Amount   int64 // micro-units of the wallet's currency
	Currency string
	OrderID  int64 // 0 when none (a top-up, or a reservation whose purchase sold nothing)
	IntentID int64 // 0 when none
	Note     string
	At       time.Time
}

// Change is what Apply writes with an order's new fields, all in one
// transaction: the wallet movement and the outbox actions the transition
// owes.
type Change struct {
	Move Movement // done only while the order's Wallet is WalletReserved; it then becomes captured or released
	// Actions are inserted pending; OrderID, Tenant, Platform, UpstreamID
	// are filled from the order, and a zero CreatedAt, UpdatedAt or NextAt
	// is the order's UpdatedAt (due at once).
	Actions []Action
	// Events are the order events the change records (see Events), in
	// order; Webhook also queues a webhook delivery for each.
	Events  []EventNote
	Webhook bool
}

// Money is the ledger's money, outbox and intent half.
type Money interface {
	// Apply writes o's mutable fields (as Update) only if the stored order
	// still has o.Version, then increments o.Version; ErrStale if it has
	// moved on, ErrNotFound if absent. In the same transaction it makes
	// c.Move (when o is WalletReserved: capture or release TenantPrice,
	// with its journal row; o.Wallet is updated) and inserts c.Actions.
	// The movement also requires the stored order to be WalletReserved,
	// which the version already implies: a copy whose Wallet was edited
	// cannot move money either (ErrStale). On any error nothing is
	// written and o is unchanged.
	Apply(ctx context.Context, o *Order, c Change) error

	// OpenIntent records in before an upstream purchase and assigns in.ID.
	// With in.Hold > 0 it reserves that much of the tenant's wallet in the
	// same transaction (a journal reserve row with the intent id), or
	// fails with ErrInsufficientFunds and records nothing; a tenant
	// without a wallet row has nothing available.
	OpenIntent(ctx context.Context, in *Intent) error
	// CloseIntent ends an open intent that has no order: state is
	// IntentAborted, IntentOrphan or IntentUnknown. Its hold is released
	// (journal release row). With orphan non-nil (IntentOrphan) the cancel
	// is inserted in the same transaction and the intent keeps its
	// UpstreamID. An intent no longer open (or unknown): ErrNotFound,
	// nothing changed. A zero now is the current time.
	CloseIntent(ctx context.Context, id int64, state IntentState, orphan *Action, now time.Time) error
	// StaleIntents returns open intents created before before, oldest
	// first, at most limit (limit <= 0: none).
	StaleIntents(ctx context.Context, before time.Time, limit int) ([]Intent, error)
	// Intent returns one intent by id, or ErrNotFound.
	Intent(ctx context.Context, id int64) (Intent, error)

	// Enqueue inserts outbox actions outside any order change, all or
	// none: pending whatever their State says, a zero CreatedAt now, a
	// zero UpdatedAt or NextAt their CreatedAt (due at once).
	Enqueue(ctx context.Context, a ...Action) error
	// LeaseActions hands out at most limit pending actions due at now
	// (NextAt <= now) that no live lease holds, leasing them to owner until
	// now+lease (SKIP LOCKED where the dialect has it), soonest first. A
	// lease is live while its end is after now: an owner that died is
	// replaced once its leases pass. owner must not be empty and lease
	// must be positive; limit <= 0 returns nothing.
	// With kinds given, only actions of those kinds are leased.
	LeaseActions(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, kinds ...ActionKind) ([]Action, error)
	// EarlierPending reports whether a pending action of a's kind for a's
	// order (for an order 0: a's tenant) with a lower ID exists: webhooks
	// of one order are delivered in order.
	EarlierPending(ctx context.Context, a Action) (bool, error)
	// ActionsOf lists the tenant's actions of one kind newest first, IDs
	// below before (0 = from the newest), at most limit: the webhook
	// delivery log.
	ActionsOf(ctx context.Context, tenant string, kind ActionKind, before int64, limit int) ([]Action, error)
	// SettleAction writes a leased action's outcome (State, Attempts,
	// LastError, NextAt, UpdatedAt) and drops the lease; ErrNotFound
	// unless owner still holds it (an expired lease that nobody else took
	// is still its owner's). A pending outcome runs again at NextAt.
	SettleAction(ctx context.Context, owner string, a Action) error
	// Actions lists an order's actions, oldest first.
	Actions(ctx context.Context, orderID int64) ([]Action, error)
	// PendingActions counts pending actions by kind.
	PendingActions(ctx context.Context) (map[ActionKind]int, error)

	// Wallet returns the tenant's wallet, or ErrNotFound if it has none.
	Wallet(ctx context.Context, tenant string) (Wallet, error)
	// AdjustWallet adds amount (EntryTopup: > 0; EntryAdjust: either sign)
	// to the tenant's balance with its journal row, creating the wallet in
	// currency at the first top-up. A wallet's currency never changes (a
	// different one is an error). A balance that would fall below Reserved
	// is ErrInsufficientFunds, and so is a negative adjustment of a tenant
	// that has no wallet. A zero at is the current time.
	AdjustWallet(ctx context.Context, tenant, currency string, kind EntryKind, amount int64, note string, at time.Time) (Wallet, error)
	// Journal returns the tenant's journal newest first, rows with ID <
	// before (0 = from the newest), at most limit (limit <= 0: none). A
	// page's last ID is the next page's before.
	Journal(ctx context.Context, tenant string, before int64, limit int) ([]Entry, error)

	// Batch returns the stored answer of a tenant's batch purchase, or
	// ErrNotFound.
	Batch(ctx context.Context, tenant, key string) (string, error)
	// PutBatch stores a batch purchase's answer once; a second put of the
	// same (tenant, key) is ErrConflict.
	PutBatch(ctx context.Context, tenant, key, answer string, at time.Time) error
}
