// Package buildtest_test checks what `make build` ships (issue 5, test 2)
// and measures it (issue 6, the Lambda figures).
//
// TestBootstrapsUnderRIE builds every function of template.yaml with its own
// Makefile target, as `sam build` does (`make build-<LogicalId>
// ARTIFACTS_DIR=...`), checks each `bootstrap` is a static linux/arm64 ELF of
// the right package, and runs it, under qemu user-mode emulation, inside the
// Lambda runtime interface emulator against a real TiDB, with one invocation
// per function.
//
// BenchmarkLambda measures binary sizes (arm64, and amd64 for comparison),
// init time and peak memory per batch size, against a minimal Go function
// (testdata/minimal) and an idle process as baselines. Timing runs the
// host-architecture build of the same Makefile target: qemu distorts time.
//
// It needs, from the environment:
//
//	source "$(infra/local/services.sh env)"  # NECTAR_TEST_TIDB_*, NECTAR_TEST_CA
//	source "$(infra/local/lambda.sh env)"    # NECTAR_TEST_RIE
//	infra/local/qemu.sh up                   # qemu-aarch64-static on PATH (or NECTAR_TEST_QEMU)
//
// Missing, the tests fail under CI=true and skip loudly elsewhere.
package buildtest_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"debug/buildinfo"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/infra/local/eventsource/eventsourcetest"
	"github.com/nectar-indexer/nectar/infra/templatetest"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/immutable"
	"github.com/nectar-indexer/nectar/shared/ingest/ingesttest"
	"github.com/nectar-indexer/nectar/shared/lambdafn"
	"github.com/nectar-indexer/nectar/shared/logbuf"
	"github.com/nectar-indexer/nectar/shared/schema"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

const (
	module    = "github.com/nectar-indexer/nectar"
	repoRoot  = "../.."
	chunkPath = "../../testdata/chains/mainnet/06189.chunk"
	network   = "mainnet"
	region    = "us-east-1"

	envQEMU = "NECTAR_TEST_QEMU"
	// envChild makes the test binary a child that runs the ingest handler in
	// process over the event in the named file (see runHandlerChild).
	envChild = "NECTAR_BUILDTEST_HANDLER_EVENT"

	// buildTimeout bounds one `make build-<Function>` (a cold build of
	// every dependency for arm64 on two cores takes about a minute).
	buildTimeout = 10 * time.Minute
	// functionTimeout is the functions' timeout under RIE: the longest
	// deployed one (MigrateFunction, 600 s in template.yaml), as qemu runs
	// the arm64 code several times slower and a fresh migration on a shared,
	// loaded TiDB took over 120 s (its DDL runs one job at a time).
	functionTimeout = 600 * time.Second
	// invokeTimeout bounds one invocation from the caller's side.
	invokeTimeout = functionTimeout + 30*time.Second
)

var tmpDir string

func TestMain(m *testing.M) {
	if ev := os.Getenv(envChild); ev != "" {
		os.Exit(runHandlerChild(ev))
	}
	dir, err := os.MkdirTemp("", "nectar-buildtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ---------------------------------------------------------------- functions

// function is one AWS::Serverless::Function of template.yaml.
type function struct {
	Name string // the logical id: IngestFunction
	Pkg  string // its main package: github.com/.../functions/ingest
}

// functions lists template.yaml's functions; each must be built by the
// Makefile (BuildMethod: makefile) for arm64 on provided.al2023.
func functions(tb testing.TB) []function {
	tb.Helper()
	tpl, err := templatetest.Load(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []function
	for _, r := range tpl.ResourcesOfType("AWS::Serverless::Function") {
		md, _ := r.Raw["Metadata"].(map[string]any)
		if bm, _ := md["BuildMethod"].(string); bm != "makefile" {
			tb.Errorf("%s: Metadata.BuildMethod is %q, want makefile", r.Name, bm)
		}
		p := r.Properties()
		if got := templatetest.Strings(p["Architectures"]); !slices.Equal(got, []string{"arm64"}) {
			tb.Errorf("%s: Architectures %v, want [arm64]", r.Name, got)
		}
		if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
			tb.Errorf("%s: Runtime %v, Handler %v; want provided.al2023, bootstrap", r.Name, p["Runtime"], p["Handler"])
		}
		short := strings.ToLower(strings.TrimSuffix(r.Name, "Function"))
		out = append(out, function{Name: r.Name, Pkg: module + "/functions/" + short})
	}
	if len(out) == 0 {
		tb.Fatal("template.yaml declares no AWS::Serverless::Function")
	}
	return out
}

// ------------------------------------------------------------------- builds

var (
	buildMu    sync.Mutex
	buildCache = map[string]buildResult{}
)

type buildResult struct {
	path string
	err  error
}

// build runs the Makefile target build-<target> (the one `sam build` runs)
// into a directory of its own and returns the bootstrap's path. goarch other
// than arm64 runs the same target and flags with GOARCH overridden (GO="env
// GOARCH=amd64 go": the recipe's own GOARCH=arm64 comes first), for the
// host-architecture build the benchmark times. Each (target, goarch) is built
// once per test binary.
func build(tb testing.TB, target, goarch string) string {
	tb.Helper()
	key := target + "/" + goarch
	buildMu.Lock()
	defer buildMu.Unlock()
	if r, ok := buildCache[key]; ok {
		if r.err != nil {
			tb.Fatal(r.err)
		}
		return r.path
	}
	path, err := runBuild(target, goarch)
	buildCache[key] = buildResult{path, err}
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

func runBuild(target, goarch string) (string, error) {
	if _, err := exec.LookPath("make"); err != nil {
		return "", errors.New("make is not installed")
	}
	dir := filepath.Join(tmpDir, target+"-"+goarch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	args := []string{"-C", repoRoot, "--no-print-directory"}
	if target == minimalTarget {
		// The baseline, built by the Makefile's own LAMBDA_BUILD recipe.
		mk := filepath.Join(tmpDir, "minimal.mk")
		rule := "build-" + minimalTarget + ":\n\t$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/buildtest/testdata/minimal\n"
		if err := os.WriteFile(mk, []byte(rule), 0o644); err != nil {
			return "", err
		}
		args = append(args, "-f", "Makefile", "-f", mk)
	}
	args = append(args, "build-"+target, "ARTIFACTS_DIR="+dir)
	if goarch != "arm64" {
		args = append(args, "GO=env GOARCH="+goarch+" go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", args...)
	cmd.Env = makeEnv()
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("make %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	boot := filepath.Join(dir, "bootstrap")
	if _, err := os.Stat(boot); err != nil {
		return "", fmt.Errorf("make %s left no bootstrap: %w\n%s", strings.Join(args, " "), err, out)
	}
	return boot, nil
}

// makeEnv is the environment for a make run from a test: this one without an
// enclosing make's flags (`make test` runs the tests; its jobserver is not
// ours).
func makeEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" && k != "MAKEOVERRIDES" {
			out = append(out, kv)
		}
	}
	return out
}

// minimalTarget names the baseline function's build (testdata/minimal).
const minimalTarget = "MinimalBaseline"

// checkBootstrap checks that path is a static linux ELF for machine built
// from pkg as the Makefile builds functions (no cgo, lambda.norpc, trimmed).
func checkBootstrap(tb testing.TB, path, pkg string, machine elf.Machine, goarch string) {
	tb.Helper()
	st, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	if st.Mode()&0o111 == 0 {
		tb.Errorf("%s is not executable (%s)", path, st.Mode())
	}
	f, err := elf.Open(path)
	if err != nil {
		tb.Fatalf("%s: not an ELF: %v", path, err)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != machine {
		tb.Errorf("%s: %s %s, want ELFCLASS64 %s", path, f.Class, f.Machine, machine)
	}
	if f.Type != elf.ET_EXEC {
		tb.Errorf("%s: ELF type %s, want ET_EXEC (a static executable)", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			tb.Errorf("%s: has a PT_INTERP program header: dynamically linked", path)
		}
		if p.Type == elf.PT_DYNAMIC {
			tb.Errorf("%s: has a PT_DYNAMIC program header: dynamically linked", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		tb.Errorf("%s: needs shared libraries %v", path, libs)
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		tb.Fatalf("%s: no Go build info: %v", path, err)
	}
	if bi.Path != pkg {
		tb.Errorf("%s: built from %s, want %s", path, bi.Path, pkg)
	}
	want := map[string]string{"GOOS": "linux", "GOARCH": goarch, "CGO_ENABLED": "0", "-trimpath": "true"}
	got := map[string]string{}
	for _, s := range bi.Settings {
		got[s.Key] = s.Value
	}
	for k, v := range want {
		if got[k] != v {
			tb.Errorf("%s: build setting %s=%q, want %q", path, k, got[k], v)
		}
	}
	if !slices.Contains(strings.Split(got["-tags"], ","), "lambda.norpc") {
		tb.Errorf("%s: built with tags %q, want lambda.norpc (no net/rpc: provided.al2023 needs none)", path, got["-tags"])
	}
}

// --------------------------------------------------------------- services

type env struct {
	rie  string
	qemu string // empty unless asked for
	tidb dbtest.Server
	ca   string
	name string // the server certificate's name
}

// newEnv finds RIE and TiDB (and qemu when withQEMU), or skips/fails.
func newEnv(tb testing.TB, withQEMU bool) *env {
	tb.Helper()
	e := &env{rie: eventsourcetest.Bin(tb), ca: os.Getenv("NECTAR_TEST_CA"), name: os.Getenv("NECTAR_TEST_SERVER_NAME")}
	if withQEMU {
		e.qemu = os.Getenv(envQEMU)
		if e.qemu == "" {
			for _, name := range []string{"qemu-aarch64-static", "qemu-aarch64"} {
				if p, err := exec.LookPath(name); err == nil {
					e.qemu = p
					break
				}
			}
		}
		if e.qemu == "" {
			testenv.Missing(tb, "no qemu-aarch64-static or qemu-aarch64 on PATH (nor "+envQEMU+"): run infra/local/qemu.sh up")
		}
	}
	if e.ca == "" {
		testenv.Missing(tb, "NECTAR_TEST_CA is not set: run `source \"$(infra/local/services.sh up)\"` first")
	}
	if e.name == "" {
		e.name = "localhost"
	}
	found := false
	for _, s := range dbtest.Servers(tb) {
		if s.Name == "tidb" {
			e.tidb, found = s, true
		}
	}
	if !found {
		testenv.Missing(tb, "TiDB is not configured (NECTAR_TEST_TIDB_HOST/PORT): run `make services`")
	}
	if ip := net.ParseIP(e.tidb.Host); ip == nil || !ip.IsLoopback() {
		tb.Fatalf("TiDB host %q is not a loopback address", e.tidb.Host)
	}
	return e
}

// functionEnv is a function's configuration for database, as template.yaml
// sets it, with the credentials in the environment instead of a secret.
func (e *env) functionEnv(database string) []string {
	return []string{
		"NECTAR_NETWORK=" + network,
		"NECTAR_DB_HOST=" + e.tidb.Host,
		"NECTAR_DB_PORT=" + e.tidb.Port,
		"NECTAR_DB_USER=" + e.tidb.User,
		"NECTAR_DB_PASSWORD=" + e.tidb.Pass,
		"NECTAR_DB_DATABASE=" + database,
		"NECTAR_DB_SSL_MODE=VERIFY_IDENTITY",
		"NECTAR_DB_SSL_CA=" + e.ca,
		"NECTAR_DB_SERVER_NAME=" + e.name,
		"NECTAR_DB_MAX_OPEN_CONNS=4",
		"NECTAR_LOG_FORMAT=json",
		"NECTAR_LOG_LEVEL=info",
	}
}

// migratedDB returns a fresh migrated database's name (dropped at the end).
func (e *env) migratedDB(tb testing.TB) (*sql.DB, string) {
	tb.Helper()
	db, cfg := e.tidb.Open(tb)
	return db, cfg.DBName
}

// emptyDB creates a database with no tables (dropped at the end).
func (e *env) emptyDB(tb testing.TB) (*sql.DB, string) {
	tb.Helper()
	admin := e.connect(tb, "")
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "nectar_buildtest_" + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, n := range []string{schema.DBSyncDatabase(name), name} {
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+n+"`"); err != nil {
				tb.Errorf("drop database %s: %v", n, err)
			}
		}
	})
	return e.connect(tb, name), name
}

func (e *env) connect(tb testing.TB, database string) *sql.DB {
	tb.Helper()
	conn, err := mysql.NewConnector(e.tidb.Config(tb, database))
	if err != nil {
		tb.Fatal(err)
	}
	db := sql.OpenDB(conn)
	tb.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		tb.Fatalf("tidb at %s:%s: %v", e.tidb.Host, e.tidb.Port, err)
	}
	return db
}

// -------------------------------------------------------------------- RIE

// running is one function under RIE.
type running struct {
	*eventsource.RIE
	out *logbuf.Buffer // the function's output and RIE's START/END/REPORT lines
	log *logbuf.Buffer // RIE's own log
}

// startRIE runs boot under RIE; with qemu set, through a wrapper script that
// execs qemu user-mode emulation of boot (RIE runs one executable, which it
// starts at the first invocation). It stops when the test ends.
func (e *env) startRIE(tb testing.TB, name, boot string, qemu bool, fenv []string) *running {
	tb.Helper()
	exe := boot
	if qemu {
		exe = filepath.Join(filepath.Dir(boot), "bootstrap-qemu")
		script := fmt.Sprintf("#!/bin/sh\nexec %s %s\n", shellQuote(e.qemu), shellQuote(boot))
		if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	r := &running{out: &logbuf.Buffer{}, log: &logbuf.Buffer{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rie, err := eventsource.StartRIE(ctx, eventsource.RIEOptions{Bin: e.rie, Bootstrap: exe, FunctionName: name,
		Timeout: functionTimeout, Region: region, Env: fenv, Stdout: r.out, Stderr: r.log})
	if err != nil {
		tb.Fatal(err)
	}
	r.RIE = rie
	tb.Cleanup(func() {
		rie.Close()
		if tb.Failed() || os.Getenv("NECTAR_TEST_LOG") != "" {
			tb.Logf("%s output:\n%s\n%s RIE log (tail):\n%s", name, tail(r.out.String(), 60), name, tail(r.log.String(), 30))
		}
	})
	return r
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// invoke posts payload and returns the answer, bounded by invokeTimeout.
func (r *running) invoke(tb testing.TB, payload []byte) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
	defer cancel()
	body, err := r.InvokeRaw(ctx, payload)
	if err != nil {
		tb.Fatalf("invoke: %v", err)
	}
	return body
}

// functionPID finds the function's process: RIE's child whose executable is
// exe (the bootstrap, or qemu for a wrapped one). 0 when there is none.
func (r *running) functionPID(exe string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(r.PID()) {
			continue
		}
		if got, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && got == exe {
			return pid
		}
	}
	return 0
}

// procStatus reads the kB fields of /proc/pid/status (VmHWM, VmRSS, ...).
func procStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[k] = n
			}
		}
	}
	return out, nil
}

// ---------------------------------------------------------------- batches

var (
	chunkOnce   sync.Once
	chunkBlocks []batch.Block
	chunkErr    error
)

// conway returns the mainnet Conway chunk's blocks (1,054).
func conway(tb testing.TB) []batch.Block {
	tb.Helper()
	chunkOnce.Do(func() {
		var bs []immutable.Block
		bs, chunkErr = immutable.ReadFile(chunkPath)
		for _, b := range bs {
			chunkBlocks = append(chunkBlocks, batch.Block{Type: b.Type, CBOR: b.CBOR})
		}
	})
	if chunkErr != nil {
		tb.Fatal(chunkErr)
	}
	return chunkBlocks
}

// message is an envelope of blocks as an SQS record from the history queue.
func message(tb testing.TB, blocks []batch.Block, prev []byte) (events.SQSMessage, *batch.Envelope) {
	tb.Helper()
	env := ingesttest.NewBlocks(network, prev, nil, blocks)
	raw, err := batch.Encode(env)
	if err != nil {
		tb.Fatal(err)
	}
	id := hex.EncodeToString(env.ID())
	str := func(s string) events.SQSMessageAttribute {
		return events.SQSMessageAttribute{StringValue: &s, DataType: "String"}
	}
	return events.SQSMessage{
		MessageId:     "msg-" + id[:16],
		ReceiptHandle: "rh-" + id[:16],
		Body:          base64.StdEncoding.EncodeToString(raw),
		Attributes:    map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
		MessageAttributes: map[string]events.SQSMessageAttribute{
			batch.AttrBatchID: str(id), batch.AttrKind: str(env.Kind.String()), batch.AttrNetwork: str(network)},
		EventSource:    "aws:sqs",
		EventSourceARN: "arn:aws:sqs:" + region + ":000000000000:nectar-history",
		AWSRegion:      region,
	}, env
}

func sqsEvent(tb testing.TB, msgs ...events.SQSMessage) []byte {
	tb.Helper()
	if msgs == nil {
		msgs = []events.SQSMessage{}
	}
	b, err := json.Marshal(events.SQSEvent{Records: msgs})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sqsResponse decodes an ingest answer: it must be an SQSEventResponse.
func sqsResponse(tb testing.TB, body []byte) events.SQSEventResponse {
	tb.Helper()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil {
		tb.Fatalf("answer is not a JSON object: %q", body)
	}
	if _, ok := keys["batchItemFailures"]; !ok {
		tb.Fatalf("answer has no batchItemFailures: %s", body)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		tb.Fatalf("answer is not an SQSEventResponse: %q", body)
	}
	return resp
}

func countRows(tb testing.TB, db *sql.DB, query string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, query).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// ------------------------------------------------------- in-process handler

// runHandlerChild is the test binary as a child process: the ingest
// function's init and handler in process, exactly as functions/ingest wires
// them but with the envelope size limit raised, over the SQS event in the
// named file. It prints its answer and its own peak RSS (VmHWM: rusage's
// maxrss would carry the parent's, as the child was forked from it) as a
// childResult on stdout. It lets the benchmark measure batches larger than
// the 1 MiB an SQS message (and so the real function) accepts.
func runHandlerChild(eventFile string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "handler child:", err)
		return 1
	}
	ctx := context.Background()
	f, err := lambdafn.LoadFunction("ingest", os.Getenv, io.Discard, os.Stderr)
	if err != nil {
		return fail(err)
	}
	if _, err := f.Open(ctx); err != nil {
		return fail(err)
	}
	defer f.Close()
	h := f.NewHandler(lambdafn.DefaultConcurrency)
	h.Limits = batch.Limits{MaxEncodedBytes: 64 << 20}
	payload, err := os.ReadFile(eventFile)
	if err != nil {
		return fail(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return fail(err)
	}
	payload = nil
	ctx, cancel := context.WithTimeout(ctx, functionTimeout)
	defer cancel()
	resp, err := h.Handle(ctx, ev)
	if err != nil {
		return fail(err)
	}
	st, err := procStatus(os.Getpid())
	if err != nil {
		return fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(childResult{Response: resp, VmHWM: st["VmHWM"]}); err != nil {
		return fail(err)
	}
	return 0
}

// childResult is what runHandlerChild prints.
type childResult struct {
	Response events.SQSEventResponse `json:"response"`
	VmHWM    int64                   `json:"vmhwm_kib"`
}

// hostArch is the architecture the benchmark times on.
var hostArch = runtime.GOARCH
