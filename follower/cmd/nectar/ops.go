package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/dbconn"
	"github.com/nectar-indexer/nectar/shared/tidb"
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
	rep, err := dbconn.Check(ctx, cfg.DB)
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
	db, err := dbconn.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := tidb.New(db, tidb.Options{}).Verify(ctx, cfg.Network, 100)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep.String())
	if !rep.OK() {
		return errFailed
	}
	return nil
}
