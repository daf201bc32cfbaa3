package ledger_test

import (
	"smsgate/adapters/pool"
	"smsgate/ledger"
)

// Both stores are the store a pool declares it needs.
var (
	_ pool.Store = (*ledger.SQLite)(nil)
	_ pool.Store = (*ledger.Postgres)(nil)
)
