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
// as gaps. It also returns how many snapshots it read and whether history
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
		}
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		if snaps[i].Offsets != nil {
			for tp, next := range snaps[i].Offsets {
				cov.Committed(tp, next)
			}
			break
		}
	}
	return cov, len(snaps), expired, nil
}
