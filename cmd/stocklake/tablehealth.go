package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/dashboard"
	"github.com/stocklake/stocklake/iceberg"
)

// tableHealthEvery is how long the health page's table list is reused
// before the lake is listed again: 30 seconds.
const tableHealthEvery = 30 * time.Second

// tableHealth returns the dashboard's Config.Tables: the Hive tables of
// database in cat (files in their partitions' locations, last compaction)
// and the Iceberg tables of database in ice (nil: none), listed at most
// every tableHealthEvery.
func tableHealth(store stocklake.ObjectStore, cat stocklake.Catalog, ice *iceberg.Catalog, database string) func(context.Context) ([]dashboard.TableHealth, error) {
	var (
		mu   sync.Mutex
		at   time.Time
		last []dashboard.TableHealth
	)
	return func(ctx context.Context) ([]dashboard.TableHealth, error) {
		mu.Lock()
		defer mu.Unlock()
		if !at.IsZero() && time.Since(at) < tableHealthEvery {
			return last, nil
		}
		out := []dashboard.TableHealth{}
		ts, err := cat.ListTables(ctx, database)
		if err != nil && !errors.Is(err, stocklake.ErrNotFound) {
			return nil, err
		}
		for _, t := range ts {
			if t.Format != stocklake.FormatParquet {
				continue
			}
			n, size, st, err := hiveTableFiles(ctx, store, cat, t)
			if errors.Is(err, errOutsideLake) {
				continue
			}
			if err != nil {
				return nil, err
			}
			th := dashboard.TableHealth{Database: database, Name: t.Name, Format: stocklake.TableFormatHive, Files: n, Bytes: size}
			if !st.LastRun.IsZero() {
				lr := st.LastRun
				th.LastMaintenance = &lr
			}
			out = append(out, th)
		}
		if ice != nil {
			names, err := ice.ListTables(ctx, database)
			if err != nil {
				return nil, err
			}
			for _, name := range names {
				t, err := ice.OpenTable(ctx, database, name)
				if err != nil {
					return nil, err
				}
				files, err := t.DataFiles(ctx)
				if err != nil {
					return nil, err
				}
				th := dashboard.TableHealth{Database: database, Name: name, Format: stocklake.TableFormatIceberg, Files: int64(len(files))}
				for _, f := range files {
					th.Bytes += f.Size
				}
				if lm, err := t.LastMaintenance(ctx); err != nil {
					return nil, err
				} else if !lm.IsZero() {
					th.LastMaintenance = &lm
				}
				out = append(out, th)
			}
		}
		at, last = time.Now(), out
		return out, nil
	}
}
