// Command nectar runs Nectar's follower and its operations commands:
//
//	nectar follow     follow a node or chunk files and publish batches (the default)
//	nectar migrate    apply the schema migrations
//	nectar check-db   connect as ingest would; report TLS, server identity, version, latency
//	nectar verify     prove the indexed chain is continuous; exit 1 on any gap
//	nectar rollback   delete every row above a point (--to-slot, --to-hash)
//	nectar indexes    build (create) or report (status) the query indexes
//
// Every option comes from flags, NECTAR_* environment variables or a TOML file
// (--config); `nectar <command> --help` lists a command's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if !errors.Is(err, errFailed) {
			fmt.Fprintln(os.Stderr, "nectar:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "follow"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && isHelp(args[0]) {
		cmd = "help"
	}
	switch cmd {
	case "help":
		if len(args) > 0 && !isHelp(args[0]) && cmd != args[0] {
			// nectar help <command>: that command's flags.
			return run(ctx, []string{args[0], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return nil
	case "follow":
		m := NewMain()
		m.Stderr = stderr
		if err := m.ParseFlags(args); err != nil {
			return err
		}
		defer m.Close()
		return m.Run(ctx)
	case "migrate":
		return runMigrate(ctx, args)
	case "check-db":
		return runCheckDB(ctx, args, stdout, stderr)
	case "verify":
		return runVerify(ctx, args, stdout, stderr)
	case "rollback":
		return runRollback(ctx, args, stdout, stderr)
	case "indexes":
		return runIndexes(ctx, args, stdout, stderr)
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", cmd)
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// commands are the subcommands, in usage order.
var commands = []struct{ name, what string }{
	{"follow", "follow a node or chunk files and publish batches (the default command)"},
	{"migrate", "apply the schema migrations"},
	{"check-db", "connect as ingest would; report TLS, server identity, version, latency"},
	{"verify", "prove the indexed chain is continuous; exit 1 on any gap"},
	{"rollback", "delete every row above a point (--to-slot, --to-hash)"},
	{"indexes", "build the query indexes after a backfill (create) or report them (status)"},
}

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: nectar <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.what)
	}
	fmt.Fprint(w, "\n'nectar <command> --help' lists a command's flags; options also come from NECTAR_*\nenvironment variables and a TOML file (--config).\n")
}
