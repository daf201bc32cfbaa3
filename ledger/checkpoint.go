package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SQLite copies committed pages from the WAL back into the database file
// in checkpoints. By default the connection that commits runs one
// whenever the WAL passes 1,000 pages, and a checkpoint syncs both files:
// the group-commit writer then stops for an fsync every second or so
// under purchase load, and every purchase waiting on it waits too (the
// writer was busy a third of the time while callers queued on it). So the
// writer's automatic checkpoints are off (wal_autocheckpoint(0)) and this
// goroutine runs them on a connection of its own: PASSIVE checkpoints
// take no write lock, so commits go on while pages are copied and synced.
//
// A passive checkpoint cannot finish while the writer keeps appending;
// the WAL is reused from its start only once one has. If the WAL passes
// walRestartPages anyway, a RESTART checkpoint waits for the writer
// between two batches (a bounded pause, as the automatic one was) so the
// file stops growing.
const (
	checkpointEvery = 250 * time.Millisecond
	walRestartPages = 16384 // 64 MiB of 4 KiB pages
)

// checkpointer runs the ledger's WAL checkpoints until stopped.
type checkpointer struct {
	db   *sql.DB // one connection, used only here
	stop chan struct{}
	done chan struct{}
}

func startCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		// A failed checkpoint is retried at the next tick; the WAL keeps
		// every commit meanwhile, so nothing is lost by waiting.
		if log, err := c.checkpoint("PASSIVE"); err == nil && log > walRestartPages {
			c.checkpoint("RESTART") //nolint:errcheck // retried next tick
		}
	}
}

// checkpoint runs one checkpoint of mode; it returns the WAL's size in
// pages as the checkpoint found it.
func (c *checkpointer) checkpoint(mode string) (log int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy, done int64
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &done); err != nil {
		return 0, fmt.Errorf("cannot checkpoint the ledger: %w", err)
	}
	return log, nil
}

// close stops the goroutine and closes its connection.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
