package ledgertest

import (
	"testing"

	"smsgate/ledger"
)

// Run runs the contract suite as subtests. open must return a new, empty
// store for each call; it should register t.Cleanup to close it, and Close
// must tolerate being called again after a subtest closed the store.
func Run(t *testing.T, open func(t *testing.T) ledger.Store) {
	runCases(t, open, (*testing.T).Fatalf, []contractCase[ledger.Store]{
		{"CreateAssignsIncreasingIDs", testCreateIDs},
		{"GetRoundTripsEveryField", testRoundTrip},
		{"GetUnknown", testGetUnknown},
		{"Update", testUpdate},
		{"UpdateUnknown", testUpdateUnknown},
		{"IdempotencyKey", testIdempotencyKey},
		{"DuplicateUpstream", testDuplicateUpstream},
		{"ConcurrentDuplicateUpstream", testConcurrentDuplicateUpstream},
		{"GetByIdempotencyKey", testGetByIdempotencyKey},
		{"List", testList},
		{"Due", testDue},
		{"Reschedule", testReschedule},
		{"ConcurrentCreates", testConcurrentCreates},
		{"CreateCanceledContext", testCreateCanceled},
		{"Outcomes", testOutcomes},
		{"Ended", testEnded},
		{"Overrides", testOverrides},
		{"AfterClose", testAfterClose},
	})
}

// RunLeaser runs the lease contract (ledger.Leaser) as subtests; a store
// that is not a Leaser is skipped. open is as for Run.
func RunLeaser(t *testing.T, open func(t *testing.T) ledger.Store) {
	runCases(t, open, (*testing.T).Skipf, []contractCase[leaserStore]{
		{"ClaimDueActiveSoonestFirst", testClaimDue},
		{"ClaimArguments", testClaimArguments},
		{"LeaseHidesOrderUntilExpiry", testLeaseExpiry},
		{"UpdateReleasesLease", testUpdateReleasesLease},
		{"ConcurrentOwnersClaimEachOrderOnce", testConcurrentClaims},
		{"ClaimAfterClose", testClaimAfterClose},
	})
}

// RunPool runs the pool contract (ledger.PoolStore) as subtests. open is as
// for Run; the store it returns must implement ledger.PoolStore.
func RunPool(t *testing.T, open func(t *testing.T) ledger.Store) {
	runCases(t, open, (*testing.T).Fatalf, []contractCase[poolStore]{
		{"LeaseAssignsIncreasingIDs", testLeaseIDs},
		{"LeaseRoundTripsEveryField", testLeaseRoundTrip},
		{"FirstFreeCandidateInOrder", testFirstFreeCandidate},
		{"ActiveLeaseHoldsPhoneForEveryService", testActiveLeaseHoldsPhone},
		{"BlockedUntil", testBlockedUntil},
		{"StaleLeaseEndsAsExpired", testStaleLease},
		{"PlatformScope", testPlatformScope},
		{"EndLeaseTwice", testEndLeaseTwice},
		{"MoveLease", testMoveLease},
		{"Leases", testLeases},
		{"PoolMessages", testPoolMessages},
		{"PoolArguments", testPoolArguments},
		{"ConcurrentLeases", testConcurrentLeases},
		{"PoolAfterClose", testPoolAfterClose},
	})
}

// contractCase is one subtest of a contract over stores of type S.
type contractCase[S any] struct {
	name string
	test func(t *testing.T, s S)
}

// runCases runs each case on a new store from open; a store that is not
// an S is reported with notS (t.Skipf or t.Fatalf) in each subtest.
func runCases[S any](t *testing.T, open func(t *testing.T) ledger.Store, notS func(t *testing.T, format string, args ...any), cases []contractCase[S]) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			ss, ok := s.(S)
			if !ok {
				notS(t, "%T does not implement %T", s, new(S))
			}
			c.test(t, ss)
		})
	}
}
