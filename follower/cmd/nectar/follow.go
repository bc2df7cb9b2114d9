package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/schema"
	"github.com/nectar-indexer/nectar/shared/sqs"
)

// Main wires the follower from a Config. Tests build it without flags.
type Main struct {
	Config  *config.Config
	Stderr  io.Writer
	closers []func() error
}

// NewMain returns a Main writing logs to stderr.
func NewMain() *Main { return &Main{Stderr: os.Stderr} }

// ParseFlags loads the configuration from flags, environment and file.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("nectar follow", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	cfg, err := config.LoadFlags(fs, args, os.Getenv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := cfg.ValidateFollower(); err != nil {
		return err
	}
	m.Config = cfg
	return nil
}

// Run follows until ctx ends or the sources are done.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	log := newLogger(m.Stderr, cfg.Log)
	net, err := network(cfg)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	m.closers = append(m.closers, db.Close)
	if _, err := schema.Migrate(ctx, db, log); err != nil {
		return err
	}
	store := chaindb.New(db, chaindb.Options{Logger: log})

	var sources []follower.Source
	if cfg.Follower.ChunkDir != "" {
		sources = append(sources, &follower.ChunkSource{Dir: cfg.Follower.ChunkDir, Logger: log})
	}
	switch {
	case cfg.Follower.NodeSocket != "":
		sources = append(sources, &follower.NodeSource{Network: "unix", Address: cfg.Follower.NodeSocket, Magic: net.Magic, Logger: log})
	case cfg.Follower.NodeAddress != "":
		sources = append(sources, &follower.NodeSource{Network: "tcp", Address: cfg.Follower.NodeAddress, Magic: net.Magic, Logger: log})
	}
	var sink follower.Sink
	switch cfg.Follower.Sink {
	case config.SinkLocal:
		sink = &follower.LocalSink{Applier: &ingest.Applier{Net: net, Store: store}}
	case config.SinkSQS:
		client, err := sqs.NewClient(ctx, sqs.Config{Region: cfg.SQS.Region, Endpoint: cfg.SQS.Endpoint})
		if err != nil {
			return err
		}
		sink = &follower.SQSSink{Sender: sqs.NewSender(client, sqs.SenderOptions{Logger: log}), Network: net.Name,
			HistoryURL: cfg.SQS.HistoryQueueURL, TipURL: cfg.SQS.TipQueueURL}
	default:
		return fmt.Errorf("follower.sink %q: want local or sqs", cfg.Follower.Sink)
	}
	var start chain.Point
	if cfg.Follower.StartHash != "" {
		h, err := hex.DecodeString(cfg.Follower.StartHash)
		if err != nil {
			return fmt.Errorf("follower.start_hash: %w", err)
		}
		start = chain.Point{Slot: cfg.Follower.StartSlot, Hash: h}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f, err := follower.New(follower.Options{
		Network: net, Sources: sources, Sink: sink, Cursor: store,
		Batch: follower.BatchOptions{MaxBytes: int(cfg.Batch.MaxBytes), MaxMessageBytes: int(cfg.Batch.MaxMessageBytes),
			MaxBlocks: cfg.Batch.MaxBlocks, MaxWait: cfg.Batch.MaxWait},
		MaxInFlight: cfg.Follower.MaxInFlight, CursorPoints: cfg.Follower.CursorPoints,
		ReconnectMin: cfg.Follower.ReconnectMin, ReconnectMax: cfg.Follower.ReconnectMax,
		ShutdownTimeout: cfg.Follower.ShutdownTimeout, Start: start,
		Metrics: follower.NewMetrics(reg), Logger: log,
	})
	if err != nil {
		return err
	}
	if !cfg.HTTP.Off() {
		addr, _, err := follower.Serve(ctx, cfg.HTTP.Addr, reg, f)
		if err != nil {
			return err
		}
		log.Info("serving metrics and health", "addr", addr.String())
	}
	log.Info("following", "network", net.Name, "sink", cfg.Follower.Sink, "sources", len(sources))
	stop := reportProgress(ctx, f, log)
	stopIndexes := indexesAtTip(ctx, cfg, f, db, log)
	err = f.Run(ctx)
	stopIndexes()
	stop()
	return err
}

// Close releases what Run opened.
func (m *Main) Close() error {
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	m.closers = nil
	return errors.Join(errs...)
}

func network(cfg *config.Config) (chain.Network, error) {
	if cfg.GenesisFile != "" {
		return chain.NetworkFromGenesis(cfg.Network, cfg.GenesisFile, cfg.ByronEpochs)
	}
	return chain.NetworkByName(cfg.Network)
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == config.LogText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// ProgressEvery is how often `nectar follow` logs its progress.
const ProgressEvery = 5 * time.Second

// reportProgress logs blocks, blocks/s, head and lag until stopped, then a summary.
func reportProgress(ctx context.Context, f *follower.Follower, log *slog.Logger) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(ProgressEvery)
		defer t.Stop()
		var last follower.Progress
		lastAt := start
		for {
			select {
			case <-done:
				p := f.Progress()
				el := time.Since(start)
				log.Info("summary", "blocks", p.Blocks, "batches", p.Batches, "head_slot", p.Head.Slot,
					"elapsed", el.Round(time.Millisecond), "blocks_per_s", int(float64(p.Blocks)/max(el.Seconds(), 0.001)))
				return
			case <-ctx.Done():
				// Run drains and returns; the summary follows.
				<-done
				continue
			case now := <-t.C:
				p := f.Progress()
				rate := float64(p.Blocks-last.Blocks) / now.Sub(lastAt).Seconds()
				attrs := []any{"blocks", p.Blocks, "blocks_per_s", int(rate), "head_slot", p.Head.Slot}
				if !p.HeadTime.IsZero() {
					attrs = append(attrs, "head_time", p.HeadTime.UTC().Format(time.RFC3339), "lag", time.Since(p.HeadTime).Round(time.Second))
				}
				if p.TipBlock > 0 {
					attrs = append(attrs, "lag_blocks", p.LagBlock)
				}
				log.Info("progress", attrs...)
				last, lastAt = p, now
			}
		}
	}()
	return func() { close(done); <-finished }
}
