package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/stocklake/stocklake"
)

// runEvery runs pass once when every is 0, else every interval until ctx
// ends (crawl --every, compact --every). A pass that fails then is logged
// and tried again at the next interval; a pass cut short by ctx ends the
// loop without an error.
func runEvery(ctx context.Context, every time.Duration, log *slog.Logger, what string, pass func() error) error {
	for {
		if err := pass(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if every == 0 {
				return err
			}
			log.Error(what+" failed; will retry at the next interval", "err", err)
		}
		if every == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// faultHold reads a fault-injection delay (e.g. 500ms) from the
// environment variable env and returns a hold that waits that long, or
// until its context ends, after logging "fault injection: " + held with
// the caller's attributes. Unset or 0: no hold (nil). The fault suite
// sets these knobs so that its SIGKILLs land inside the held step; never
// set them in production.
func faultHold(log *slog.Logger, env, what, held string) (func(ctx context.Context, attrs ...any), error) {
	v := os.Getenv(env)
	if v == "" {
		return nil, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return nil, fmt.Errorf("%s=%q: want a duration such as 500ms, or unset it: %w", env, v, stocklake.ErrConfig)
	}
	if d == 0 {
		return nil, nil
	}
	log.Warn("fault injection: "+what, "env", env, "delay", d)
	return func(ctx context.Context, attrs ...any) {
		log.Warn("fault injection: "+held, append(attrs, "delay", d)...)
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}, nil
}
