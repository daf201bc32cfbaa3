package simulator

import (
	"cmp"
	"slices"
)

// A list of active orders is read every poll round, whole (SMS-Activate)
// or a page of 100 at a time (HeroSMS), and at 100,000 active orders a
// sort per read, or a walk to the page's start per page, would cost the
// market more than the rest of the round. So the market keeps its active
// orders in id order as they come: ids only grow, so a new order goes at
// the end; an ended one leaves a hole that a later compaction closes;
// and live counts per block of entries find the k-th active order
// without walking every entry before it.

// activesBlock is how many entries one live count covers: a page's start
// is found in len/activesBlock + activesBlock steps.
const activesBlock = 256

// activeEntry is one slot of actives; o is nil once the order ended.
type activeEntry struct {
	id int64
	o  *order
}

// actives is the market's active orders in id order; m.mu guards it.
type actives struct {
	entries []activeEntry // by id, ascending; holes (o == nil) included
	blocks  []int         // live entries in each run of activesBlock entries
	n       int           // live entries
}

// add appends o, whose id is greater than every id added before.
func (a *actives) add(o *order) {
	if k := len(a.entries); k > 0 && a.entries[k-1].id >= o.ID {
		// Ids come from one counter that only grows; an order out of
		// order would break every binary search below.
		panic("BUG: simulator: active order ids out of order")
	}
	if len(a.entries)%activesBlock == 0 {
		a.blocks = append(a.blocks, 0)
	}
	a.entries = append(a.entries, activeEntry{id: o.ID, o: o})
	a.blocks[len(a.blocks)-1]++
	a.n++
}

// remove takes o out; a no-op if it is not there.
func (a *actives) remove(o *order) {
	i, found := slices.BinarySearchFunc(a.entries, o.ID, func(e activeEntry, id int64) int { return cmp.Compare(e.id, id) })
	if !found || a.entries[i].o == nil {
		return
	}
	a.entries[i].o = nil
	a.blocks[i/activesBlock]--
	a.n--
	// Compacting once the holes outnumber the live entries keeps the
	// cost per removal constant on average and the slice at most twice
	// the live orders (plus a floor so small markets do not churn).
	if holes := len(a.entries) - a.n; holes > activesBlock && holes > a.n {
		a.compact()
	}
}

// compact closes the holes and recounts the blocks.
func (a *actives) compact() {
	live := a.entries[:0]
	for _, e := range a.entries {
		if e.o != nil {
			live = append(live, e)
		}
	}
	clear(a.entries[len(live):]) // ended orders must not stay reachable
	a.entries = live
	a.blocks = a.blocks[:0]
	for i := 0; i < len(live); i += activesBlock {
		a.blocks = append(a.blocks, min(activesBlock, len(live)-i))
	}
}

// each calls f with the live orders from the start-th (0-based) on, in id
// order, at most limit of them (limit <= 0: all the rest).
func (a *actives) each(start, limit int, f func(*order)) {
	if start < 0 {
		start = 0
	}
	if limit <= 0 {
		limit = a.n
	}
	// Skip whole blocks before the one holding the start-th live entry.
	i := 0
	for b, live := range a.blocks {
		if start < live {
			i = b * activesBlock
			break
		}
		start -= live
		i = (b + 1) * activesBlock
	}
	for ; i < len(a.entries) && limit > 0; i++ {
		o := a.entries[i].o
		if o == nil {
			continue
		}
		if start > 0 {
			start--
			continue
		}
		f(o)
		limit--
	}
}
