package iceberg

import (
	"context"
	"fmt"
	"slices"

	"github.com/stocklake/stocklake"
)

// Coverage reads the Kafka offsets the table accounts for from its
// snapshots, for `stocklake verify`: every snapshot's stocklake.ranges, and
// the current stocklake.offsets as the committed offsets. When older
// snapshots were expired (ExpireSnapshots), their ranges are gone: the
// offsets of each partition below the oldest retained snapshot's start are
// recorded as covered by expired snapshots (OffsetCoverage.ExpiredUpTo), not
// as gaps. A partition some snapshot has a range of but the newest
// stocklake.offsets leave out counts as committed at 0: its covered offsets
// are reported beyond the committed offset (a sink would read it again
// from its start). It also returns how many snapshots it read and whether history
// was expired.
func (t *Table) Coverage(ctx context.Context) (cov *stocklake.OffsetCoverage, snapshots int, expired bool, err error) {
	snaps, err := t.Snapshots(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	cov = stocklake.NewOffsetCoverage()
	if len(snaps) == 0 {
		return cov, 0, false, nil
	}
	slices.Reverse(snaps) // oldest first
	ranged := map[stocklake.TopicPartition]bool{}
	expired = snaps[0].ParentID != 0
	baseline := !expired
	for _, s := range snaps {
		if !baseline && s.Offsets != nil {
			// The offsets before this snapshot's own ranges were covered
			// by the expired snapshots.
			for tp, next := range s.Offsets {
				for _, r := range s.Ranges {
					if r.TopicPartition == tp {
						next = r.Start
					}
				}
				if next > 0 {
					cov.ExpiredUpTo(tp, next)
				}
			}
			baseline = true
		}
		for _, r := range s.Ranges {
			cov.Add(r, fmt.Sprintf("snapshot %d", s.ID))
			ranged[r.TopicPartition] = true
		}
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		if snaps[i].Offsets != nil {
			for tp, next := range snaps[i].Offsets {
				cov.Committed(tp, next)
			}
			for tp := range ranged {
				if _, ok := snaps[i].Offsets[tp]; !ok {
					// Each commit carries every partition's offset
					// forward: one the table holds rows of but no longer
					// names would be read again from its start.
					cov.Committed(tp, 0)
				}
			}
			break
		}
	}
	return cov, len(snaps), expired, nil
}
