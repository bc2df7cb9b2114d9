package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/dbconn"
	"github.com/nectar-indexer/nectar/shared/secrets"
)

// errFailed makes the command exit non-zero after it printed why.
var errFailed = errors.New("check failed")

// loadDB reads the configuration a database command needs.
func loadDB(name string, args []string, stderr io.Writer) (*config.Config, error) {
	fs := flag.NewFlagSet("nectar "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := config.LoadFlags(fs, args, os.Getenv)
	if err != nil {
		return nil, err
	}
	return cfg, cfg.Validate()
}

// runCheckDB connects exactly as ingest would and reports TLS, server identity,
// server version and latency, or the way the connection failed.
func runCheckDB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadDB("check-db", args, stderr)
	if err != nil {
		return err
	}
	dbCfg, err := secrets.Resolve(ctx, cfg.DB, cfg.SQS.Region, newLogger(stderr, cfg.Log))
	if err != nil {
		return err
	}
	rep, err := dbconn.Check(ctx, dbCfg)
	if err != nil {
		var ce *dbconn.ConnectError
		if errors.As(err, &ce) {
			fmt.Fprintln(stdout, ce.Explain())
			return errFailed
		}
		return err
	}
	fmt.Fprint(stdout, rep.String())
	return nil
}

// runVerify proves continuity and exits non-zero on any gap.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadDB("verify", args, stderr)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg, newLogger(stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := chaindb.New(db, chaindb.Options{}).Verify(ctx, cfg.Network, chaindb.DefaultVerifyLimit)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep.String())
	if !rep.OK() {
		return errFailed
	}
	return nil
}

// runRollback deletes every row above a point: for recovering from a
// rollback deeper than the follower's path expects (docs/runbook.md). It
// deletes in bounded chunks (chaindb.RollbackTo): interrupted, the same
// command finishes it.
func runRollback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("nectar rollback", flag.ContinueOnError)
	fs.SetOutput(stderr)
	slot := fs.Uint64("to-slot", 0, "roll back to this slot: every row with a higher slot is deleted")
	hash := fs.String("to-hash", "", "the hash (hex) of the block at --to-slot, checked against the database")
	cfg, err := config.LoadFlags(fs, args, os.Getenv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	h, err := hex.DecodeString(*hash)
	if err != nil || len(h) != 32 {
		return fmt.Errorf("--to-hash: want the 64 hex digits of a block hash, got %q", *hash)
	}
	log := newLogger(stderr, cfg.Log)
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	err = chaindb.New(db, chaindb.Options{Logger: log}).RollbackTo(ctx, cfg.Network, chain.Point{Slot: *slot, Hash: h})
	switch {
	case errors.Is(err, chaindb.ErrUnknownPoint), errors.Is(err, chaindb.ErrRollbackUnfinished):
		return err
	case err != nil:
		return fmt.Errorf("%w (the rollback stopped part-way: run the same command again to finish it)", err)
	}
	fmt.Fprintf(stdout, "rolled back to %d/%x; the follower resumes from there (stop it first)\n", *slot, h)
	return nil
}

// openDB opens the database as ingest does: from the secret db.secret_arn
// names when it is set (logins follow a rotation), else from the
// configuration's own credentials.
func openDB(ctx context.Context, cfg *config.Config, log *slog.Logger) (*sql.DB, error) {
	return secrets.Open(ctx, cfg.DB, cfg.SQS.Region, log)
}
