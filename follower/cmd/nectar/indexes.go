package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/indexes"
)

// runIndexes is `nectar indexes create|status`.
func runIndexes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	if sub != "create" && sub != "status" {
		fmt.Fprint(stderr, indexesUsage)
		if sub == "-h" || sub == "--help" || sub == "-help" || sub == "help" {
			return flag.ErrHelp
		}
		return fmt.Errorf("indexes: want create or status, got %q", sub)
	}
	fs := flag.NewFlagSet("nectar indexes "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	workers := fs.Int("workers", indexes.DefaultWorkers, "TiDB's tidb_ddl_reorg_worker_cnt for each build")
	poll := fs.Duration("poll", indexes.DefaultPoll, "how often a running build's progress is read and logged")
	cfg, err := config.LoadFlags(fs, args, os.Getenv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log)
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	b := indexes.New(db, indexes.Options{Workers: *workers, Poll: *poll, Logger: log})
	if sub == "create" {
		start := time.Now()
		res, err := b.Create(ctx)
		built := 0
		for _, r := range res {
			fmt.Fprintf(stdout, "%-36s %-22s %-8s %s\n", r.Name, r.Table, r.Action, r.Elapsed.Round(time.Millisecond))
			if r.Action != "present" {
				built++
			}
		}
		if err != nil {
			return fmt.Errorf("%w (what was built stays: run `nectar indexes create` again to finish)", err)
		}
		fmt.Fprintf(stdout, "%d index(es) built, %d already present, in %s\n", built, len(res)-built, time.Since(start).Round(time.Millisecond))
		return nil
	}
	st, err := b.Status(ctx)
	if err != nil {
		return err
	}
	n := map[indexes.State]int{}
	for _, s := range st {
		fmt.Fprintln(stdout, s.String())
		n[s.State]++
	}
	fmt.Fprintf(stdout, "%d present, %d building, %d missing\n", n[indexes.Present], n[indexes.Building], n[indexes.Missing])
	if n[indexes.Present] != len(st) {
		return errFailed
	}
	return nil
}

const indexesUsage = `usage: nectar indexes create|status [flags]

  create   build the query indexes that are missing (after a backfill; resumable)
  status   each query index: present, building (with progress) or missing;
           exit 1 unless all are present

'nectar indexes create --help' lists the flags.
`

// TipLagBlocks is how close to its node's tip, in blocks, the follower's
// head must come for the follower to have reached the tip.
const TipLagBlocks = 2

// tipPoll is how often the follower's progress is checked for the tip.
const tipPoll = time.Second

// indexesAtTip builds the query indexes once the follower first reaches its
// node's tip (the history backfill is over), in the background; follow.go
// calls stop before the database closes. follower.create_indexes = off
// leaves them to `nectar indexes create`.
func indexesAtTip(ctx context.Context, cfg *config.Config, f *follower.Follower, db *sql.DB, log *slog.Logger) (stop func()) {
	if cfg.Follower.CreateIndexes == config.CreateIndexesOff {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(tipPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if p := f.Progress(); p.TipBlock == 0 || p.Blocks == 0 || p.LagBlock > TipLagBlocks {
				continue
			}
			log.Info("reached the tip: building the query indexes that are missing (follower.create_indexes = off turns this off)")
			start := time.Now()
			res, err := indexes.New(db, indexes.Options{Logger: log}).Create(ctx)
			switch {
			case ctx.Err() != nil:
				log.Info("stopped building the query indexes: `nectar indexes create` or the next start finishes them")
			case err != nil:
				log.Error("build the query indexes: run `nectar indexes create` to finish them", "err", err)
			default:
				log.Info("query indexes ready", "indexes", len(res), "elapsed", time.Since(start).Round(time.Millisecond))
			}
			return
		}
	}()
	return func() { cancel(); <-done }
}
