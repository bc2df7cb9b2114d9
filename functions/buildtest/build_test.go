package buildtest_test

import (
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/ingest/ingesttest"
	"github.com/nectar-indexer/nectar/shared/lambdafn"
	"github.com/nectar-indexer/nectar/shared/schema"
)

// invocations says how to check each function under RIE: one invocation
// against a real database and what it must answer. A function added to
// template.yaml without an entry here fails the test.
var invocations = map[string]func(t *testing.T, e *env, boot string){
	"IngestFunction":  invokeIngest,
	"MigrateFunction": invokeMigrate,
	"VerifyFunction":  invokeVerify,
}

// TestBootstrapsUnderRIE is issue 5's test 2: `make build` produces, for
// every function, an arm64 bootstrap that starts under the Lambda runtime
// emulator and answers an invocation.
func TestBootstrapsUnderRIE(t *testing.T) {
	fns := functions(t)
	t.Run("make build covers every function", func(t *testing.T) { checkMakeBuild(t, fns) })
	for _, fn := range fns {
		t.Run(fn.Name, func(t *testing.T) {
			start := time.Now()
			boot := build(t, fn.Name, "arm64")
			t.Logf("make build-%s: %s", fn.Name, time.Since(start).Round(time.Millisecond))
			checkBootstrap(t, boot, fn.Pkg, elf.EM_AARCH64, "arm64")
			if t.Failed() {
				return
			}
			inv, ok := invocations[fn.Name]
			if !ok {
				t.Fatalf("no invocation defined for %s: add one to invocations", fn.Name)
			}
			inv(t, newEnv(t, true), boot)
		})
	}
}

// checkMakeBuild checks, with `make -n build`, that `make build` builds every
// function into dist/<function>/bootstrap from its own package.
func checkMakeBuild(t *testing.T, fns []function) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-C", repoRoot, "--no-print-directory", "-n", "build")
	cmd.Env = makeEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, out)
	}
	for _, fn := range fns {
		short := path.Base(fn.Pkg)
		want := "-o dist/" + short + "/bootstrap ./functions/" + short
		if !strings.Contains(string(out), want) {
			t.Errorf("make build does not build %s (no %q in `make -n build`):\n%s", fn.Name, want, out)
		}
	}
}

// invokeIngest: an empty SQS event, then one envelope of two mainnet Conway
// blocks, each answered with no batch item failures; the blocks land.
func invokeIngest(t *testing.T, e *env, boot string) {
	db, name := e.migratedDB(t)
	r := e.startRIE(t, "ingest", boot, true, e.functionEnv(name))

	start := time.Now()
	if resp := sqsResponse(t, r.invoke(t, sqsEvent(t))); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("empty event: batch item failures %+v", resp.BatchItemFailures)
	}
	t.Logf("ingest (arm64 under qemu): first invocation, init included, answered in %s", time.Since(start).Round(time.Millisecond))
	e.checkEmulated(t, r, boot)

	msg, env := message(t, conway(t)[:2], nil)
	start = time.Now()
	if resp := sqsResponse(t, r.invoke(t, sqsEvent(t, msg))); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("one envelope: batch item failures %+v", resp.BatchItemFailures)
	}
	t.Logf("ingest (arm64 under qemu): 2 blocks (slots %d-%d) applied in %s", env.First.Slot, env.Last.Slot,
		time.Since(start).Round(time.Millisecond))
	if n := countRows(t, db, "SELECT COUNT(*) FROM block"); n != 2 {
		t.Errorf("block rows: %d, want 2", n)
	}
	if n := countRows(t, db, "SELECT COUNT(*) FROM ingest_batch"); n != 1 {
		t.Errorf("ingest_batch rows: %d, want 1", n)
	}
}

// invokeMigrate: a direct invocation `{}` on an empty database applies every
// migration and answers {"applied": [...]} with their versions; a second one
// applies none.
func invokeMigrate(t *testing.T, e *env, boot string) {
	migs, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for _, m := range migs {
		want = append(want, m.Version)
	}
	db, name := e.emptyDB(t)
	r := e.startRIE(t, "migrate", boot, true, e.functionEnv(name))

	applied := func(body []byte) []int {
		t.Helper()
		var res map[string]json.RawMessage
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatalf("answer is not a JSON object: %q", body)
		}
		raw, ok := res["applied"]
		if !ok || len(res) != 1 {
			t.Fatalf(`answer is not {"applied": ...}: %s`, body)
		}
		var v []int
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("applied is not a list of versions: %s", body)
		}
		return v
	}
	start := time.Now()
	if got := applied(r.invoke(t, []byte("{}"))); !slices.Equal(got, want) {
		t.Errorf("first invocation applied %v, want %v", got, want)
	}
	t.Logf("migrate (arm64 under qemu): %d migrations applied in %s, init included", len(want), time.Since(start).Round(time.Millisecond))
	e.checkEmulated(t, r, boot)
	if got := applied(r.invoke(t, []byte("{}"))); len(got) != 0 {
		t.Errorf("second invocation applied %v, want none", got)
	}
	if n := countRows(t, db, "SELECT COUNT(*) FROM schema_migrations"); n != len(want) {
		t.Errorf("schema_migrations rows: %d, want %d", n, len(want))
	}
}

// checkEmulated checks that the process answering is qemu running boot.
func (e *env) checkEmulated(t *testing.T, r *running, boot string) {
	t.Helper()
	qemu, err := filepath.EvalSymlinks(e.qemu)
	if err != nil {
		t.Fatal(err)
	}
	pid := r.functionPID(qemu)
	if pid == 0 {
		t.Fatalf("no process of %s under aws-lambda-rie (pid %d)", qemu, r.PID())
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	if args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"); !slices.Contains(args, boot) {
		t.Fatalf("the function's process %d runs %q, not %s", pid, args, boot)
	}
}

// invokeVerify: a scheduled event over a database holding two batches with
// one missing between them answers not OK with one gap; the chain whole, OK.
func invokeVerify(t *testing.T, e *env, boot string) {
	db, name := e.migratedDB(t)
	blocks := conway(t)[:6]
	a := &ingest.Applier{Net: chain.Mainnet, Store: chaindb.New(db, chaindb.Options{})}
	apply := func(bs []batch.Block, prev []byte) *batch.Envelope {
		t.Helper()
		env := ingesttest.NewBlocks(network, prev, nil, bs)
		if _, err := a.Apply(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		return env
	}
	first := apply(blocks[:2], nil)
	missing := ingesttest.NewBlocks(network, first.Last.Hash, nil, blocks[2:4])
	apply(blocks[4:], missing.Last.Hash)

	r := e.startRIE(t, "verify", boot, true, e.functionEnv(name))
	scheduled := []byte(`{"version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41", "detail-type": "Scheduled Event",
"source": "aws.events", "time": "2026-11-26T12:00:00Z", "region": "us-east-1", "detail": {}}`)
	answer := func() lambdafn.VerifyResult {
		t.Helper()
		var res lambdafn.VerifyResult
		body := r.invoke(t, scheduled)
		if err := json.Unmarshal(body, &res); err != nil || res.Report == "" {
			t.Fatalf("answer is not a verify result (%v): %s", err, body)
		}
		return res
	}
	start := time.Now()
	if res := answer(); res.OK || res.Gaps != 1 || res.Blocks != 4 {
		t.Errorf("with a batch missing: %+v", res)
	}
	t.Logf("verify (arm64 under qemu): answered in %s, init included", time.Since(start).Round(time.Millisecond))
	e.checkEmulated(t, r, boot)
	apply(blocks[2:4], first.Last.Hash)
	if res := answer(); !res.OK || res.Gaps != 0 || res.Blocks != 6 {
		t.Errorf("whole: %+v", res)
	}
	if !strings.Contains(r.out.String(), `"ChainGaps"`) {
		t.Errorf("no ChainGaps metric in the function's output:\n%s", r.out.String())
	}
}
