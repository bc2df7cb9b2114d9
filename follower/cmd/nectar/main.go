// Command nectar runs Nectar's follower and its operations commands:
//
//	nectar follow     follow a node or chunk files and publish batches (the default)
//	nectar migrate    apply the schema migrations
//	nectar check-db   connect as ingest would; report TLS, server identity, version, latency
//	nectar verify     prove the indexed chain is continuous; exit 1 on any gap
//	nectar rollback   delete every row above a point (--to-slot, --to-hash)
//
// Every option comes from flags, NECTAR_* environment variables or a TOML file
// (--config); `nectar follow --help` lists them.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, errFailed) {
			fmt.Fprintln(os.Stderr, "nectar:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cmd := "follow"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "follow":
		m := NewMain()
		if err := m.ParseFlags(args); err != nil {
			return err
		}
		defer m.Close()
		return m.Run(ctx)
	case "migrate":
		return runMigrate(ctx, args)
	case "check-db":
		return runCheckDB(ctx, args, os.Stdout, os.Stderr)
	case "verify":
		return runVerify(ctx, args, os.Stdout, os.Stderr)
	case "rollback":
		return runRollback(ctx, args, os.Stdout, os.Stderr)
	}
	return fmt.Errorf("unknown command %q (want follow, migrate, check-db, verify or rollback)", cmd)
}
