// Package local_test runs the one-machine mode the way a new user does and
// checks what it reports against the database.
package local_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/schema"
)

// Issue 4, test 5: `make run` finishes and its summary matches a direct query.
func TestMakeRunSummary(t *testing.T) {
	servers := dbtest.Servers(t)
	if len(servers) == 0 || servers[0].Name != "tidb" {
		return
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	prefix := "runtest_" + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "run.sh")
	cmd.Env = append(os.Environ(), "NECTAR_RUN_DB_PREFIX="+prefix, "NECTAR_HTTP_ADDR=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, stderr.String())
	}
	db, _ := servers[0].Open(t) // any database: the queries name their schema
	t.Cleanup(func() {
		for _, n := range []string{"preview", "mainnet"} {
			_, _ = db.Exec("DROP DATABASE IF EXISTS `" + schema.DBSyncDatabase(prefix+"_"+n) + "`")
			_, _ = db.Exec("DROP DATABASE IF EXISTS `" + prefix + "_" + n + "`")
		}
	})
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 || f[0] != "summary" {
			continue
		}
		want, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			t.Fatalf("summary line %q: %v", sc.Text(), err)
		}
		var got int64
		if err := db.QueryRow("SELECT COUNT(*) FROM `" + f[2] + "`.`" + f[3] + "`").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s.%s: summary says %d rows, the database has %d", f[2], f[3], want, got)
		}
		seen[f[1]+"."+f[3]] = int(want)
	}
	// The shipped chain data: 59,315 preview blocks, 1,054 mainnet Conway blocks with 6,846 transactions.
	for key, want := range map[string]int{"preview.block": 59315, "preview.tx": 21299, "mainnet.block": 1054, "mainnet.tx": 6846} {
		if seen[key] != want {
			t.Errorf("summary %s = %d, want %d\n%s", key, seen[key], want, out)
		}
	}
	// The printed SQL prompt command works, TLS verified: run it from the
	// repository root with a query instead of a terminal.
	_, prompt, ok := bytes.Cut(out, []byte("Open a SQL prompt on the result:\n"))
	if !ok {
		t.Fatalf("the output does not say how to open a SQL prompt:\n%s", out)
	}
	q := exec.CommandContext(ctx, "bash", "-c", strings.TrimSpace(string(prompt))+" -N -e 'SELECT COUNT(*) FROM block'")
	q.Dir = "../.."
	got, err := q.CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "59315" {
		t.Errorf("the printed SQL prompt command %q: %v\n%s", prompt, err, got)
	}
}
