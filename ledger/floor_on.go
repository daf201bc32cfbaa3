//go:build ledger_floor

package ledger

// ledgerFloor: built with -tags ledger_floor, the group commit writes
// nothing and answers every request at once with a made-up id. Such a
// binary has no ledger at all; it exists for one measurement only — how
// fast the purchase path is with a ledger that costs nothing, the bound on
// what any ledger could reach in bench buy (BENCHMARKS.md). Never ship it.
const ledgerFloor = true
