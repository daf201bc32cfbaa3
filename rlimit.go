package main

import (
	"syscall"

	"go.uber.org/zap"

	"smsgate/config"
)

// fdReserve is kept free of client connections for the ledger, Redis,
// upstream connections and the simulators.
const fdReserve = 256

// raiseOpenFiles lifts the soft open-files limit to the hard one (Go does
// this on its own since 1.19; doing it here makes the figure visible) and
// lowers server.max_conns to fit under it, so client connections can never
// take the descriptors the ledger and upstream calls need.
func raiseOpenFiles(s *config.Server, log *zap.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("cannot read the open-files limit", zap.Error(err))
		return
	}
	if lim.Cur < lim.Max {
		want := lim
		want.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			log.Warn("cannot raise the open-files limit", zap.Uint64("soft", lim.Cur), zap.Uint64("hard", lim.Max), zap.Error(err))
		} else {
			lim = want
		}
	}
	fit := 16
	if lim.Cur > fdReserve+16 {
		fit = int(min(lim.Cur-fdReserve, 1<<30))
	}
	if s.MaxConns > fit {
		log.Warn("server.max_conns lowered to fit the open-files limit", zap.Int("configured", s.MaxConns), zap.Int("max_conns", fit))
		s.MaxConns = fit
		// One client must still not take every slot that is left.
		if perIP := max(fit/4, 1); s.MaxConnsPerIP == 0 || s.MaxConnsPerIP > perIP {
			log.Warn("server.max_conns_per_ip lowered to a quarter of max_conns", zap.Int("configured", s.MaxConnsPerIP), zap.Int("max_conns_per_ip", perIP))
			s.MaxConnsPerIP = perIP
		}
	}
	log.Info("open-files limit", zap.Uint64("soft", lim.Cur), zap.Uint64("hard", lim.Max), zap.Int("max_conns", s.MaxConns),
		zap.Int("max_conns_per_ip", s.MaxConnsPerIP))
}
