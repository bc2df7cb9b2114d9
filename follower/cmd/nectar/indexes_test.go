package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/follower/followertest"
	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/logbuf"
	"github.com/nectar-indexer/nectar/shared/schema"
)

// `nectar --help` lists every command with one line each; `nectar <command>
// --help` (and `nectar help <command>`) prints that command's flags.
func TestHelp(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		var out bytes.Buffer
		if err := run(ctx, args, &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, c := range commands {
			if !strings.Contains(out.String(), "\n  "+c.name+" ") {
				t.Errorf("%v does not list %s:\n%s", args, c.name, out.String())
			}
		}
		if strings.Contains(out.String(), "-db-host") {
			t.Errorf("%v prints follow's flags, not the commands:\n%s", args, out.String())
		}
	}
	for _, args := range [][]string{
		{"follow", "--help"}, {"check-db", "--help"}, {"verify", "--help"}, {"rollback", "--help"},
		{"indexes", "create", "--help"}, {"indexes", "status", "-h"}, {"help", "verify"},
	} {
		var out bytes.Buffer
		err := run(ctx, args, io.Discard, &out)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v, want flag.ErrHelp (exit 0)", args, err)
		}
		if !strings.Contains(out.String(), "-db-host") {
			t.Errorf("%v does not print the command's flags:\n%s", args, out.String())
		}
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"indexes", "create", "--help"}, io.Discard, &out); !strings.Contains(out.String(), "-workers") {
		t.Errorf("indexes create --help lacks -workers (%v):\n%s", err, out.String())
	}
	if err := run(ctx, []string{"rollbak"}, io.Discard, &out); err == nil || !strings.Contains(out.String(), "commands:") {
		t.Errorf("an unknown command: %v, want an error and the command list:\n%s", err, out.String())
	}
}

// The follower builds the query indexes by itself when it first reaches its
// node's tip; `nectar indexes status` reports them missing before and
// present after.
func TestIndexesAtTip(t *testing.T) {
	servers := dbtest.Servers(t)
	if len(servers) == 0 {
		return
	}
	s := servers[len(servers)-1] // MariaDB when configured: the fastest
	all, err := nodesim.LoadChunks(previewDir)
	if err != nil {
		t.Fatal(err)
	}
	_, dbcfg := s.Open(t)
	_, path := followertest.StartNode(t, all[:3000], 0)
	env := map[string]string{
		"NECTAR_NETWORK": "preview", "NECTAR_DB_HOST": s.Host, "NECTAR_DB_PORT": s.Port, "NECTAR_DB_USER": s.User,
		"NECTAR_DB_PASSWORD": s.Pass, "NECTAR_DB_DATABASE": dbcfg.DBName, "NECTAR_DB_SSL_CA": os.Getenv("NECTAR_TEST_CA"),
		"NECTAR_DB_SERVER_NAME": "localhost", "NECTAR_FOLLOWER_NODE_SOCKET": path, "NECTAR_HTTP_ADDR": "off",
		"NECTAR_BATCH_MAX_WAIT": "100ms", "NECTAR_LOG_FORMAT": "text",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	status := func() (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"indexes", "status"}, &out, io.Discard)
		return out.String(), err
	}
	if out, err := status(); !errors.Is(err, errFailed) || !strings.Contains(out, "0 present") {
		t.Errorf("status before the follower: %v, want exit 1 and none present:\n%s", err, out)
	}

	cfg, err := config.LoadFlags(flag.NewFlagSet("test", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs logbuf.Buffer
	m := &Main{Config: cfg, Stderr: &logs}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("follow: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("follow did not stop within a minute")
		}
		m.Close()
	})

	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(logs.String(), "query indexes ready") {
		if time.Now().After(deadline) {
			t.Fatalf("the follower did not build the indexes within 2 minutes:\n%s", logs.String())
		}
		select {
		case err := <-done:
			t.Fatalf("follow stopped: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	out, err := status()
	if err != nil || !strings.Contains(out, "present, 0 building, 0 missing") {
		t.Errorf("status after the tip: %v\n%s", err, out)
	}
	for _, ix := range schema.QueryIndexes {
		if !strings.Contains(out, ix.Name) {
			t.Errorf("status does not list %s:\n%s", ix.Name, out)
		}
	}
	var again bytes.Buffer
	if err := run(context.Background(), []string{"indexes", "create"}, &again, io.Discard); err != nil ||
		!strings.Contains(again.String(), "0 index(es) built, "+strconv.Itoa(len(schema.QueryIndexes))+" already present") {
		t.Errorf("indexes create after the follower built them: %v\n%s", err, again.String())
	}
	if !strings.Contains(logs.String(), "reached the tip") {
		t.Errorf("the follower did not say why it built the indexes:\n%s", logs.String())
	}
}
