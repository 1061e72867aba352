package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/load"
)

// forget removes sessions from the ledger of complete sessions
// (OUTPUT/_ledger/), so that the next incremental tick fetches them again:
// after VideoSDK corrected a session's data, say. The table keeps the rows
// it has; the refetch appends newer ones, which the _latest views prefer.
// It is safe beside running ticks (every ledger write is a
// read-modify-write under a precondition).
func (p *process) forget(ctx context.Context, args []string) error {
	var (
		output, list, day string
		ids               []string
	)
	fs := newFlagSet("forget", "Usage: participants-etl forget --output DIR|gs://BUCKET/PREFIX (--session ID ... | --sessions FILE | --completed-on YYYY-MM-DD)\n\n"+
		"Removes sessions from the ledger of complete sessions, so that the next\n"+
		"--incremental tick fetches them again. The table itself is not changed.\n\n", p.getenv, p.stdout)
	fs.str(&output, "output", "ETL_OUTPUT", "", "the table whose ledger to change: a directory or gs://bucket/prefix (required)")
	fs.Func("session", "a session ID to forget; repeat for more", func(s string) error {
		if s = strings.TrimSpace(s); s == "" {
			return fmt.Errorf("empty session ID")
		}
		ids = append(ids, s)
		return nil
	})
	fs.str(&list, "sessions", "", "", "a file or gs://bucket/object of session IDs to forget, one per line")
	fs.str(&day, "completed-on", "", "", "forget every completion recorded by a tick whose logical time is on this UTC day (YYYY-MM-DD)")
	if err := fs.parse(args); err != nil {
		return err
	}
	byID := len(ids) > 0 || list != ""
	switch {
	case output == "":
		return usagef("--output is required: the table whose ledger to change")
	case byID && day != "":
		return usagef("--completed-on forgets a day; --session and --sessions forget sessions: give one or the other")
	case !byID && day == "":
		return usagef("nothing to forget: give --session ID, --sessions FILE or --completed-on YYYY-MM-DD")
	}
	var from time.Time
	if day != "" {
		var err error
		if from, err = time.Parse(time.DateOnly, day); err != nil {
			return usagef("--completed-on %q: want a date such as 2026-11-26", day)
		}
	}
	if list != "" {
		more, err := readForgetList(ctx, list, p.store)
		if err != nil {
			return err
		}
		ids = append(ids, more...)
	}

	table, err := load.Open(ctx, output, p.store)
	if err != nil {
		return err
	}
	defer table.Close()
	var n int
	if day != "" {
		n, err = table.ForgetCompleted(ctx, from, from.AddDate(0, 0, 1))
	} else {
		n, err = table.ForgetSessions(ctx, ids)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(p.stdout, "forgot %d ledger entries; the next --incremental tick fetches those sessions again\n", n)
	return nil
}

// readForgetList reads a session list as run does; a line that is not a
// plausible ID is a usage error, not something to skip silently.
func readForgetList(ctx context.Context, src string, store load.OpenOptions) ([]string, error) {
	rc, err := load.ReadObject(ctx, src, store)
	if err != nil {
		return nil, fmt.Errorf("read --sessions: %w", err)
	}
	defer rc.Close()
	l, err := extract.ReadSessionList(rc, 0)
	if err != nil {
		return nil, fmt.Errorf("read --sessions %s: %w", src, err)
	}
	if len(l.Invalid) > 0 {
		bad := l.Invalid[0]
		return nil, usagef("--sessions %s line %d: %s", src, bad.Line, bad.Reason)
	}
	return slices.Collect(l.All()), nil
}
