// Command nodesim serves ImmutableDB chunk files over Node-to-Client
// chain-sync, as a stand-in cardano-node for manual runs and scripts:
//
//	nodesim -chunks testdata/chains/preview -socket /tmp/node.socket -magic 2 -tip 1000 -grow-every 1s
//
// It logs the address it listens on, then serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nectar-indexer/nectar/follower/nodesim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "nodesim:", err)
		}
		os.Exit(2)
	}
	err := m.Run(ctx)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodesim:", err)
		os.Exit(1)
	}
}

// Main is the program: configured by ParseFlags or by setting its fields.
type Main struct {
	ChunkDir  string
	Socket    string // unix socket path; or
	Listen    string // loopback TCP address
	Magic     uint32
	Tip       int           // blocks visible at start; 0 means all, -1 none
	GrowEvery time.Duration // reveal one more block this often; 0 never
	Logger    *slog.Logger

	server *nodesim.Server
}

// NewMain returns a Main with defaults: preview's network magic, logging to stderr.
func NewMain() *Main {
	return &Main{Magic: 2, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
}

// ParseFlags fills m from command-line arguments.
func (m *Main) ParseFlags(args []string, output io.Writer) error {
	fs := flag.NewFlagSet("nodesim", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&m.ChunkDir, "chunks", m.ChunkDir, "ImmutableDB chunk directory to serve (required)")
	fs.StringVar(&m.Socket, "socket", m.Socket, "unix socket path to listen on")
	fs.StringVar(&m.Listen, "listen", m.Listen, "loopback TCP address to listen on, e.g. 127.0.0.1:3001")
	magic := fs.Uint("magic", uint(m.Magic), "network magic (preview 2, preprod 1, mainnet 764824073)")
	fs.IntVar(&m.Tip, "tip", m.Tip, "blocks visible at start (0: all, -1: none)")
	fs.DurationVar(&m.GrowEvery, "grow-every", m.GrowEvery, "reveal one more block at this interval (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *magic > 1<<32-1 {
		return fmt.Errorf("-magic %d does not fit in 32 bits", *magic)
	}
	m.Magic = uint32(*magic)
	return m.Validate()
}

// Validate reports the first invalid field.
func (m *Main) Validate() error {
	switch {
	case m.ChunkDir == "":
		return errors.New("-chunks is required")
	case (m.Socket == "") == (m.Listen == ""):
		return errors.New("set exactly one of -socket and -listen")
	case m.GrowEvery < 0:
		return errors.New("-grow-every must not be negative")
	}
	return nil
}

// Run serves until ctx ends.
func (m *Main) Run(ctx context.Context) error {
	srv, err := nodesim.New(nodesim.Options{
		NetworkMagic: m.Magic,
		ChunkDir:     m.ChunkDir,
		InitialTip:   m.Tip,
		Logger:       m.Logger,
	})
	if err != nil {
		return err
	}
	m.server = srv
	addr := m.Socket
	if m.Socket != "" {
		err = srv.ListenUnix(m.Socket)
	} else {
		addr, err = srv.ListenTCP(m.Listen)
	}
	if err != nil {
		return err
	}
	m.Logger.Info("nodesim: serving", "addr", addr, "magic", m.Magic, "tip", srv.Tip().String(), "pending", srv.Pending())

	var tick <-chan time.Time
	if m.GrowEvery > 0 {
		t := time.NewTicker(m.GrowEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if srv.Extend(1) == 1 {
				m.Logger.Info("nodesim: tip", "tip", srv.Tip().String(), "pending", srv.Pending())
			}
		}
	}
}

// Close stops the server; it is safe to call more than once.
func (m *Main) Close() error {
	if m.server == nil {
		return nil
	}
	return m.server.Close()
}
