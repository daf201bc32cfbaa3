//go:build !ledger_floor

package ledger

// ledgerFloor is false in every real build (floor_on.go).
const ledgerFloor = false
