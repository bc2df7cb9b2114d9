package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/follower/followertest"
	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/logbuf"
	"github.com/nectar-indexer/nectar/shared/secrets/secretstest"
)

const previewDir = "../../../testdata/chains/preview"

func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "nectar")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Test 3: the follower is killed with SIGKILL at random points five times
// while it follows a growing chain; after each restart it resumes from its
// cursor, and the final database equals a clean load with no gap.
func TestKillAndResume(t *testing.T) {
	servers := dbtest.Servers(t)
	if len(servers) == 0 {
		return
	}
	s := servers[0]
	all, err := nodesim.LoadChunks(previewDir)
	if err != nil {
		t.Fatal(err)
	}
	blocks := all[:20000]
	bin := buildBinary(t)

	// The clean load, in-process.
	cleanDB, _ := s.Open(t)
	want := followertest.CleanLoad(t, cleanDB, blocks)

	db, cfg := s.Open(t)
	srv, path := followertest.StartNode(t, blocks, 8000)
	env := append(os.Environ(),
		"NECTAR_NETWORK=preview", "NECTAR_DB_HOST="+s.Host, "NECTAR_DB_PORT="+s.Port, "NECTAR_DB_USER="+s.User,
		"NECTAR_DB_PASSWORD="+s.Pass, "NECTAR_DB_DATABASE="+cfg.DBName, "NECTAR_DB_SSL_CA="+os.Getenv("NECTAR_TEST_CA"),
		"NECTAR_DB_SERVER_NAME=localhost", "NECTAR_FOLLOWER_NODE_SOCKET="+path, "NECTAR_HTTP_ADDR=off",
		"NECTAR_BATCH_MAX_WAIT=100ms", "NECTAR_FOLLOWER_RECONNECT_MIN=50ms", "NECTAR_LOG_LEVEL=info")
	start := func() *child {
		c := &child{cmd: exec.Command(bin, "follow"), done: make(chan struct{})}
		c.cmd.Env = env
		c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { c.err = c.cmd.Wait(); close(c.done) }()
		t.Cleanup(func() {
			_ = c.cmd.Process.Kill()
			<-c.done
		})
		return c
	}
	grow := make(chan struct{})
	go func() {
		for {
			select {
			case <-grow:
				return
			case <-time.After(50 * time.Millisecond):
				srv.Extend(40)
			}
		}
	}()
	rng := rand.New(rand.NewPCG(7, 11))
	last := uint64(0)
	for i := range 5 {
		c := start()
		// Kill at a random moment after this run has published something.
		waitProgress(t, db, c, last, time.Minute)
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-c.done
		last = cursorSlot(t, db)
		t.Logf("kill %d: cursor at slot %d, tip %d", i+1, last, srv.Tip().Slot)
	}
	close(grow)
	srv.Extend(len(blocks))
	c := start()
	waitCursor(t, db, srv.Tip(), 3*time.Minute)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-c.done
	if c.err != nil {
		t.Fatalf("follower after SIGTERM: %v\n%s", c.err, c.out.String())
	}

	got, err := chaindb.Checksums(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for table, w := range want {
		if got[table] != w {
			t.Errorf("%s: %s, clean load %s", table, got[table], w)
		}
	}
	// verify-style continuity: one chain, no gap, nothing missing.
	var blocksN, minNo, maxNo, orphans int64
	if err := db.QueryRow("SELECT COUNT(*), MIN(block_no), MAX(block_no) FROM block").Scan(&blocksN, &minNo, &maxNo); err != nil {
		t.Fatal(err)
	}
	if blocksN != int64(len(blocks)) || maxNo-minNo+1 != blocksN {
		t.Errorf("%d blocks numbered %d-%d, want %d contiguous", blocksN, minNo, maxNo, len(blocks))
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM block b LEFT JOIN block p ON p.hash = b.prev_hash WHERE p.hash IS NULL").Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 1 { // only the first block's parent (the genesis) is not a block
		t.Errorf("%d blocks whose previous block is missing, want 1", orphans)
	}
}

func cursorSlot(tb testing.TB, db *sql.DB) uint64 {
	tb.Helper()
	var slot sql.NullInt64
	if err := db.QueryRow("SELECT MAX(slot_no) FROM ingest_cursor").Scan(&slot); err != nil {
		tb.Fatal(err)
	}
	return uint64(slot.Int64)
}

// waitCursor waits until the persisted cursor's newest point is p.
func waitCursor(tb testing.TB, db *sql.DB, p chain.Point, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var hash []byte
		err := db.QueryRow("SELECT hash FROM ingest_cursor ORDER BY slot_no DESC LIMIT 1").Scan(&hash)
		if err == nil && bytes.Equal(hash, p.Hash) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("cursor did not reach %s within %s (at slot %s)", p, within, strconv.FormatUint(cursorSlot(tb, db), 10))
}

// child is one `nectar follow` process and everything it printed.
type child struct {
	cmd  *exec.Cmd
	out  logbuf.Buffer
	done chan struct{} // closed when it has exited; err is then its exit
	err  error
}

// waitProgress waits until the persisted cursor is beyond slot; it fails with
// c's output if c exits first or the cursor stays put.
func waitProgress(tb testing.TB, db *sql.DB, c *child, slot uint64, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cursorSlot(tb, db) > slot {
			return
		}
		select {
		case <-c.done:
			tb.Fatalf("follower exited (%v) before the cursor moved beyond slot %d:\n%s", c.err, slot, c.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	tb.Fatalf("cursor did not move beyond slot %d within %s; the follower printed:\n%s", slot, within, c.out.String())
}

// The operations commands, run as an operator would, with the database
// credentials in Secrets Manager only: verify passes on a clean load, rollback
// refuses a point that is not indexed and deletes above one that is, check-db
// reports the verified TLS connection; none prints the password.
func TestOperationsCommands(t *testing.T) {
	servers := dbtest.Servers(t)
	if len(servers) == 0 {
		return
	}
	s := servers[len(servers)-1] // MariaDB when configured: the fastest to load twice
	bin := buildBinary(t)
	_, cfg := s.Open(t)
	// The credentials live only in the secret, as on the follower's host.
	sm := secretstest.New(t)
	arn := "arn:aws:secretsmanager:us-east-1:000000000000:secret:nectar/ops-AbCdEf"
	port, _ := strconv.Atoi(s.Port)
	secret, _ := json.Marshal(map[string]any{"host": s.Host, "port": port, "username": s.User,
		"password": s.Pass, "dbname": cfg.DBName})
	sm.Put(arn, string(secret))
	env := append(os.Environ(), "NECTAR_NETWORK=preview", "NECTAR_DB_SECRET_ARN="+arn,
		"NECTAR_DB_SSL_CA="+os.Getenv("NECTAR_TEST_CA"), "NECTAR_DB_SERVER_NAME=localhost", "NECTAR_HTTP_ADDR=off",
		"NECTAR_LOG_LEVEL=info", "AWS_ENDPOINT_URL_SECRETS_MANAGER="+sm.URL(), "AWS_ACCESS_KEY_ID=AKIDOPSTEST",
		"AWS_SECRET_ACCESS_KEY=ops-test", "AWS_EC2_METADATA_DISABLED=true")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if strings.Contains(string(out), s.Pass) {
			t.Errorf("%v printed the database password", args)
		}
		return string(out), err
	}
	if out, err := run("follow", "--follower-chunk-dir", "../../../testdata/chains/preview", "--batch-max-wait", "100ms"); err != nil {
		t.Fatalf("follow: %v\n%s", err, out)
	}
	// Run again over the same chunk files, it has nothing to do (issue 11:
	// it rolled back from the newest cursor point to the oldest and re-sent
	// 1,140 blocks).
	if out, err := run("follow", "--follower-chunk-dir", "../../../testdata/chains/preview", "--batch-max-wait", "100ms"); err != nil ||
		strings.Contains(out, `"msg":"rollback"`) || !strings.Contains(out, `"msg":"summary","blocks":0,`) {
		t.Fatalf("follow again over the same chunk files: %v\n%s", err, out)
	}
	out, err := run("verify")
	if err != nil || !strings.Contains(out, "blocks: 59315") || !strings.Contains(out, "OK") {
		t.Fatalf("verify after a clean load: %v\n%s", err, out)
	}
	out, err = run("check-db")
	if err != nil || !strings.Contains(out, "TLS 1.") || !strings.Contains(out, "TiDB") && !strings.Contains(out, "MariaDB") {
		t.Errorf("check-db: %v\n%s", err, out)
	}
	if out, err := run("rollback", "--to-slot", "5", "--to-hash", strings.Repeat("ab", 32)); err == nil {
		t.Errorf("rollback to an unknown point succeeded:\n%s", out)
	}
	// Roll back to the last block of chunk 00000 (slot 4300).
	if out, err := run("rollback", "--to-slot", "4300", "--to-hash", "f43e8849eab67405c2a01037d82a60ea517fb49af36da5054a7c87c2e8cf98ea"); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	out, err = run("verify")
	if err != nil || !strings.Contains(out, "blocks: 216") || !strings.Contains(out, "OK") {
		t.Errorf("verify after rolling back to the end of chunk 0 (216 blocks): %v\n%s", err, out)
	}
	// The follower resumes from the rollback point and the chain is whole again.
	if out, err := run("follow", "--follower-chunk-dir", "../../../testdata/chains/preview", "--batch-max-wait", "100ms"); err != nil {
		t.Fatalf("follow after rollback: %v\n%s", err, out)
	}
	if out, err = run("verify"); err != nil || !strings.Contains(out, "blocks: 59315") {
		t.Errorf("verify after resuming: %v\n%s", err, out)
	}
	// Every command read the secret: follow ×3, verify ×3, check-db, rollback ×2.
	if n := sm.Calls("secretsmanager.GetSecretValue"); n < 9 {
		t.Errorf("the secret was read %d times by 9 commands", n)
	}
}
