package unified

import (
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// walletView is a wallet as the API shows it: decimals in its currency.
type walletView struct {
	Tenant    string      `json:"tenant"`
	Currency  string      `json:"currency"`
	Balance   string      `json:"balance"`
	Reserved  string      `json:"reserved"`
	Available string      `json:"available"`
	Journal   []entryView `json:"journal,omitempty"`
	// Next is the "before" of the next journal page ("" when none).
	Next string `json:"next,omitempty"`
}

type entryView struct {
	ID      int64  `json:"id"`
	Kind    string `json:"kind"`
	Amount  string `json:"amount"`
	OrderID int64  `json:"orderId,omitempty"`
	Note    string `json:"note,omitempty"`
	At      string `json:"at"`
}

// money formats micro-units with the six places a wallet keeps: the
// journal is exact, and so is what it shows.
func money(micros int64) string { return adapters.FormatDecimal(micros, 6) }

// apiWallet: a tenant's own wallet and journal page.
func (s *API) apiWallet(c *call) (any, error) { return s.walletOf(c, c.t) }

// apiAdminWallet: any tenant's wallet and journal page.
func (s *API) apiAdminWallet(c *call) (any, error) {
	t, err := s.walletTenant(c)
	if err != nil {
		return nil, err
	}
	return s.walletOf(c, t)
}

// apiAdminFund tops a tenant's wallet up (or adjusts it down).
func (s *API) apiAdminFund(c *call) (any, error) {
	t, err := s.walletTenant(c)
	if err != nil {
		return nil, err
	}
	var b struct {
		Amount string `json:"amount"`
		Note   string `json:"note"`
	}
	if err := c.decode(&b); err != nil {
		return nil, err
	}
	amount, err := adapters.ParseDecimal(b.Amount)
	if err != nil || amount == 0 {
		return nil, badRequest("amount must be a non-zero decimal string, e.g. \"10.00\" or \"-2.50\"")
	}
	if len(b.Note) > 500 {
		return nil, badRequest("note longer than 500 characters")
	}
	w, err := s.orders.Fund(c.cctx, t, amount, b.Note)
	if errors.Is(err, ledger.ErrInsufficientFunds) {
		return nil, &apiErr{fasthttp.StatusConflict, codeInsufficientFunds, "adjustment would take the balance below what is reserved", nil}
	}
	if err != nil {
		return nil, err
	}
	return viewWallet(w), nil
}

// walletTenant is the {name} of an admin wallet path, which must be a
// wallet tenant.
func (s *API) walletTenant(c *call) (*tenant.Tenant, error) {
	t, ok := s.tenants.ByName(c.params["name"])
	if !ok {
		return nil, &apiErr{fasthttp.StatusNotFound, codeNotFound, "unknown tenant", nil}
	}
	return t, nil
}

// walletOf answers t's wallet with a journal page (?before=ID&limit=N).
func (s *API) walletOf(c *call, t *tenant.Tenant) (any, error) {
	limit, before := 50, int64(0)
	if v := c.query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return nil, badRequest("limit must be 1..500")
		}
		limit = n
	}
	if v := c.query("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return nil, badRequest("before must be a journal id")
		}
		before = n
	}
	w, err := s.orders.Wallet(c.cctx, t)
	if err != nil {
		return nil, err
	}
	j, err := s.orders.Journal(c.cctx, t, before, limit)
	if err != nil {
		return nil, err
	}
	v := viewWallet(w)
	for _, e := range j {
		v.Journal = append(v.Journal, entryView{ID: e.ID, Kind: string(e.Kind), Amount: money(e.Amount), OrderID: e.OrderID,
			Note: e.Note, At: e.At.UTC().Format(time.RFC3339Nano)})
	}
	if len(j) == limit {
		v.Next = strconv.FormatInt(j[len(j)-1].ID, 10)
	}
	return v, nil
}

func viewWallet(w ledger.Wallet) walletView {
	return walletView{Tenant: w.Tenant, Currency: w.Currency, Balance: money(w.Balance), Reserved: money(w.Reserved),
		Available: money(w.Available())}
}

// apiAdminActions lists what the outbox owes (or owed) for one order.
func (s *API) apiAdminActions(c *call) (any, error) {
	id, err := strconv.ParseInt(c.params["id"], 10, 64)
	if err != nil || id < 1 {
		return nil, badRequest("order id must be a positive integer")
	}
	list, err := s.orders.Actions(c.cctx, id)
	if err != nil {
		return nil, err
	}
	type actionView struct {
		ID        int64  `json:"id"`
		Kind      string `json:"kind"`
		State     string `json:"state"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"lastError,omitempty"`
		NextAt    string `json:"nextAt,omitempty"`
		CreatedAt string `json:"createdAt"`
		UpdatedAt string `json:"updatedAt"`
	}
	out := make([]actionView, 0, len(list))
	for _, a := range list {
		v := actionView{ID: a.ID, Kind: string(a.Kind), State: string(a.State), Attempts: a.Attempts, LastError: a.LastError,
			CreatedAt: a.CreatedAt.UTC().Format(time.RFC3339Nano), UpdatedAt: a.UpdatedAt.UTC().Format(time.RFC3339Nano)}
		if a.State == ledger.ActionPending {
			v.NextAt = a.NextAt.UTC().Format(time.RFC3339Nano)
		}
		out = append(out, v)
	}
	return map[string]any{"orderId": id, "actions": out}, nil
}
