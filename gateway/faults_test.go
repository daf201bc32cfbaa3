package gateway_test

import "smsgate/adapters/simulator"

func simFaults() simulator.Faults { return simulator.Faults{ErrorRate: 1} }
