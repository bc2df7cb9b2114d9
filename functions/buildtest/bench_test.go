package buildtest_test

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/config"
)

// BenchmarkLambda measures issue 6's Lambda figures in one run:
//
//   - size: each function's bootstrap as `make build-<Function>` builds it
//     for arm64 (what deploys) and, with the same flags, amd64, raw and
//     zipped (the deployment package), against the minimal Go function;
//   - init: cold start of the host-architecture build under RIE, with TiDB on
//     loopback: RIE's own INIT REPORT (exec to the runtime's first /next, what
//     Lambda bills as Init Duration), the first invocation's time minus a warm
//     one's, and RIE start to first answer; against the minimal function;
//   - memory: the ingest function's peak RSS (VmHWM) after one invocation
//     applying one batch of 10, 50 and 200 mainnet Conway blocks, and one
//     invocation as the default settings make it (SQS BatchSize 10 of the
//     follower's default 180 KiB batches); against the same process after an
//     empty invocation. 500 blocks encode to 1.7 MiB, over the 1 MiB an SQS
//     message (and the function) accepts, so every size, 500 included, is
//     also measured with the handler in a child process with the limit
//     raised (its VmHWM, read by itself before it exits).
//
// Each iteration repeats every measurement; -benchtime 1x is enough.
func BenchmarkLambda(b *testing.B) {
	b.Run("size", benchSize)
	b.Run("init", benchInit)
	b.Run("memory", benchMemory)
}

var elfMachine = map[string]elf.Machine{"arm64": elf.EM_AARCH64, "amd64": elf.EM_X86_64}

const mib = 1 << 20

// benchFunctions are the measured functions: the baseline first.
func benchFunctions(b *testing.B) []function {
	return append([]function{{Name: minimalTarget, Pkg: module + "/functions/buildtest/testdata/minimal"}}, functions(b)...)
}

func short(fn function) string { return filepath.Base(fn.Pkg) }

func benchSize(b *testing.B) {
	type size struct{ arm64, amd64, zip float64 }
	var rows []string
	sizes := map[string]size{}
	for range b.N {
		for _, fn := range benchFunctions(b) {
			var s size
			for _, arch := range []string{"arm64", "amd64"} {
				boot := build(b, fn.Name, arch)
				checkBootstrap(b, boot, fn.Pkg, elfMachine[arch], arch)
				st, err := os.Stat(boot)
				if err != nil {
					b.Fatal(err)
				}
				if arch == "arm64" {
					s.arm64 = float64(st.Size()) / mib
					s.zip = float64(zipped(b, boot)) / mib
				} else {
					s.amd64 = float64(st.Size()) / mib
				}
			}
			sizes[short(fn)] = s
		}
	}
	base := sizes["minimal"]
	for _, fn := range benchFunctions(b) {
		n := short(fn)
		s := sizes[n]
		b.ReportMetric(s.arm64, n+"-arm64-MiB")
		b.ReportMetric(s.zip, n+"-arm64-zip-MiB")
		b.ReportMetric(s.amd64, n+"-amd64-MiB")
		b.ReportMetric(s.arm64/s.amd64, n+"-arm64/amd64")
		if n != "minimal" {
			b.ReportMetric(s.arm64/base.arm64, n+"/minimal-size")
		}
		rows = append(rows, fmt.Sprintf("| %s | %.1f | %.1f | %.1f | %.2f | %.1f |", n, s.arm64, s.zip, s.amd64,
			s.arm64/s.amd64, s.arm64/base.arm64))
	}
	b.Logf("\n| function | arm64 MiB | arm64 zipped MiB | amd64 MiB | arm64/amd64 | size vs. minimal |\n|---|---|---|---|---|---|\n%s",
		strings.Join(rows, "\n"))
}

// zipped is the size of the deployment package: bootstrap alone, deflated.
func zipped(b *testing.B, path string) int {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Len()
}

// initSamples is how many cold starts each function gets per iteration.
const initSamples = 15

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

type initSample struct {
	rieInit, cold, warm, total time.Duration
}

func benchInit(b *testing.B) {
	e := newEnv(b, false)
	_, database := e.migratedDB(b)
	fenv := e.functionEnv(database)
	fns := benchFunctions(b)
	boots := map[string]string{}
	for _, fn := range fns {
		boots[fn.Name] = build(b, fn.Name, hostArch)
		checkBootstrap(b, boots[fn.Name], fn.Pkg, elfMachine[hostArch], hostArch)
	}
	payload := func(fn function) ([]byte, func([]byte)) {
		switch fn.Name {
		case "MigrateFunction":
			return []byte("{}"), func(body []byte) {
				if !bytes.HasPrefix(body, []byte(`{"applied":`)) {
					b.Fatalf("migrate answered %q", body)
				}
			}
		case "VerifyFunction":
			return []byte(`{"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}`), func(body []byte) {
				if !bytes.HasPrefix(body, []byte(`{"ok":true,`)) {
					b.Fatalf("verify answered %q", body)
				}
			}
		}
		return sqsEvent(b), func(body []byte) {
			if r := sqsResponse(b, body); len(r.BatchItemFailures) != 0 {
				b.Fatalf("%s: failures %+v", fn.Name, r.BatchItemFailures)
			}
		}
	}
	samples := map[string][]initSample{}
	b.ResetTimer()
	for range b.N {
		// Round robin, so that drift on the machine hits every function alike.
		for range initSamples {
			for _, fn := range fns {
				p, check := payload(fn)
				samples[fn.Name] = append(samples[fn.Name], coldStart(b, e, fn, boots[fn.Name], fenv, p, check))
			}
		}
	}
	b.StopTimer()
	med := func(name string, f func(initSample) time.Duration) float64 {
		var ds []float64
		for _, s := range samples[name] {
			ds = append(ds, float64(f(s))/float64(time.Millisecond))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	var rows []string
	for _, fn := range fns {
		n := short(fn)
		rie := med(fn.Name, func(s initSample) time.Duration { return s.rieInit })
		cold := med(fn.Name, func(s initSample) time.Duration { return s.cold })
		warm := med(fn.Name, func(s initSample) time.Duration { return s.warm })
		pen := med(fn.Name, func(s initSample) time.Duration { return s.cold - s.warm })
		total := med(fn.Name, func(s initSample) time.Duration { return s.total })
		baseRIE := med(minimalTarget, func(s initSample) time.Duration { return s.rieInit })
		basePen := med(minimalTarget, func(s initSample) time.Duration { return s.cold - s.warm })
		b.ReportMetric(rie, n+"-init-ms")
		b.ReportMetric(pen, n+"-cold-warm-ms")
		b.ReportMetric(warm, n+"-warm-ms")
		b.ReportMetric(total, n+"-start-to-answer-ms")
		if fn.Name != minimalTarget {
			b.ReportMetric(rie/baseRIE, n+"/minimal-init")
			b.ReportMetric(pen/basePen, n+"/minimal-cold-warm")
		}
		rows = append(rows, fmt.Sprintf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |", n, rie, cold, warm, pen, total,
			rie/baseRIE, pen/basePen))
	}
	b.Logf("%s/%s, medians of %d cold starts each\n| function | init (RIE INIT REPORT) ms | first invoke ms | warm invoke ms | first − warm ms | RIE start → first answer ms | init vs. minimal | first − warm vs. minimal |\n|---|---|---|---|---|---|---|---|\n%s",
		"linux", hostArch, b.N*initSamples, strings.Join(rows, "\n"))
}

// coldStart starts fn under a fresh RIE, invokes it cold and then warm, and
// stops it.
func coldStart(b *testing.B, e *env, fn function, boot string, fenv []string, payload []byte, check func([]byte)) initSample {
	var s initSample
	t0 := time.Now()
	r := e.startRIE(b, short(fn), boot, false, fenv)
	defer r.Close()
	t1 := time.Now()
	body := r.invoke(b, payload)
	s.cold = time.Since(t1)
	s.total = time.Since(t0)
	check(body)
	var warm []time.Duration
	for range 3 {
		t := time.Now()
		check(r.invoke(b, payload))
		warm = append(warm, time.Since(t))
	}
	slices.Sort(warm)
	s.warm = warm[1]
	m := initReport.FindStringSubmatch(r.log.String())
	if m == nil {
		b.Fatalf("%s: no INIT REPORT in RIE's log:\n%s", fn.Name, tail(r.log.String(), 20))
	}
	ms, _ := strconv.ParseFloat(m[1], 64)
	s.rieInit = time.Duration(ms * float64(time.Millisecond))
	return s
}

// memCase is one invocation whose peak memory is measured.
type memCase struct {
	label  string
	blocks int // blocks the invocation applies
	event  []byte
	rie    bool // the real bootstrap accepts it (every message ≤ 1 MiB)
}

func memCases(b *testing.B) []memCase {
	chunk := conway(b)
	cases := []memCase{{label: "idle", event: sqsEvent(b), rie: true}}
	for _, n := range []int{10, 50, 200, 500} {
		msg, _ := message(b, chunk[:n], nil)
		raw := len(msg.Body) / 4 * 3
		cases = append(cases, memCase{label: fmt.Sprintf("%dblk", n), blocks: n, event: sqsEvent(b, msg),
			rie: raw <= batch.DefaultMaxEncodedBytes})
	}
	// The default settings: the follower cuts a batch at 180 KiB of raw
	// blocks (batch.max_bytes), the event source hands the function up to 10
	// messages (template.yaml's BatchSize), the function applies 2 at a time.
	var msgs []events.SQSMessage
	var prev []byte
	blocks, i := 0, 0
	for len(msgs) < 10 && i < len(chunk) {
		j, size := i, 0
		for j < len(chunk) && j-i < config.DefaultBatchBlocks && (j == i || size+len(chunk[j].CBOR) <= config.DefaultBatchBytes) {
			size += len(chunk[j].CBOR)
			j++
		}
		msg, env := message(b, chunk[i:j], prev)
		prev = env.Last.Hash
		msgs = append(msgs, msg)
		blocks += j - i
		i = j
	}
	cases = append(cases, memCase{label: "default", blocks: blocks, event: sqsEvent(b, msgs...), rie: true})

	// The most one invocation can be handed: batch.max_message_bytes at
	// SQS's 1 MiB maximum (the follower cuts batches whose base64 body fits,
	// leaving 16 KiB for attributes), as many messages as the event source
	// fits in Lambda's 6 MB invocation payload (at most BatchSize 10).
	msgs, blocks, i = nil, 0, 0
	bodyMax := config.MaxMessageBytes - 16<<10
	for len(msgs) < 10 && i < len(chunk) {
		// The longest run from i whose body fits: binary search on its end.
		lo, hi := i+1, min(len(chunk), i+config.DefaultBatchBlocks)
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if m, _ := message(b, chunk[i:mid], nil); len(m.Body) <= bodyMax {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		msg, env := message(b, chunk[i:lo], prev)
		if len(sqsEvent(b, append(msgs, msg)...)) > maxPayload {
			break
		}
		prev = env.Last.Hash
		msgs = append(msgs, msg)
		blocks += lo - i
		i = lo
	}
	cases = append(cases, memCase{label: fmt.Sprintf("max%dmsg", len(msgs)), blocks: blocks, event: sqsEvent(b, msgs...), rie: true})
	return cases
}

// maxPayload is Lambda's limit on an invocation's payload (6 MB), which
// bounds the SQS messages the event source hands one invocation.
const maxPayload = 6_000_000

func benchMemory(b *testing.B) {
	e := newEnv(b, false)
	boot := build(b, "IngestFunction", hostArch)
	cases := memCases(b)
	rieKB := map[string]int64{}
	childKB := map[string]int64{}
	b.ResetTimer()
	for range b.N {
		for _, c := range cases {
			if c.rie {
				rieKB[c.label] = max(rieKB[c.label], e.rieMemory(b, boot, c))
			}
			childKB[c.label] = max(childKB[c.label], e.childMemory(b, c))
		}
	}
	b.StopTimer()
	var rows []string
	for _, c := range cases {
		row := fmt.Sprintf("| %s | %d | %.0f KiB |", c.label, c.blocks, float64(len(c.event))/1024)
		for _, m := range []struct {
			name string
			kb   map[string]int64
		}{{"rie", rieKB}, {"inproc", childKB}} {
			kb, ok := m.kb[c.label]
			if !ok {
				row += " – | – |"
				continue
			}
			v := float64(kb) / 1024
			ratio := float64(kb) / float64(m.kb["idle"])
			b.ReportMetric(v, m.name+"-"+c.label+"-MiB")
			if c.label != "idle" {
				b.ReportMetric(ratio, m.name+"-"+c.label+"/idle")
			}
			row += fmt.Sprintf(" %.1f | %.2f |", v, ratio)
		}
		rows = append(rows, row)
	}
	b.Logf("linux/%s\n| invocation | blocks | event | bootstrap under RIE: peak RSS MiB | vs. idle | handler in process: peak RSS MiB | vs. idle |\n|---|---|---|---|---|---|---|\n%s",
		hostArch, strings.Join(rows, "\n"))
}

// rieMemory runs the real bootstrap under RIE on a fresh database, invokes
// it once with c's event and returns the function process's VmHWM in KiB.
func (e *env) rieMemory(b *testing.B, boot string, c memCase) int64 {
	db, database := e.migratedDB(b)
	r := e.startRIE(b, "ingest", boot, false, e.functionEnv(database))
	defer r.Close()
	if resp := sqsResponse(b, r.invoke(b, c.event)); len(resp.BatchItemFailures) != 0 {
		b.Fatalf("%s: batch item failures %+v", c.label, resp.BatchItemFailures)
	}
	if n := countRows(b, db, "SELECT COUNT(*) FROM block"); n != c.blocks {
		b.Fatalf("%s: %d blocks in the database, want %d", c.label, n, c.blocks)
	}
	pid := r.functionPID(boot)
	if pid == 0 {
		b.Fatalf("no process of %s under aws-lambda-rie", boot)
	}
	st, err := procStatus(pid)
	if err != nil {
		b.Fatal(err)
	}
	return st["VmHWM"]
}

// childMemory runs the handler in a child process (runHandlerChild) on a
// fresh database over c's event and returns the child's peak RSS (VmHWM) in KiB.
func (e *env) childMemory(b *testing.B, c memCase) int64 {
	db, database := e.migratedDB(b)
	file := filepath.Join(tmpDir, "event-"+c.label+".json")
	if err := os.WriteFile(file, c.event, 0o600); err != nil {
		b.Fatal(err)
	}
	defer os.Remove(file)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TZ=:UTC", envChild + "=" + file}, e.functionEnv(database)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			b.Fatalf("%s: handler child: %v\n%s", c.label, err, tail(stderr.String(), 20))
		}
	case <-time.After(invokeTimeout):
		_ = cmd.Process.Kill()
		<-done
		b.Fatalf("%s: handler child did not finish within %s", c.label, invokeTimeout)
	}
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		b.Fatalf("%s: handler child printed %q: %v", c.label, stdout.String(), err)
	}
	if len(res.Response.BatchItemFailures) != 0 {
		b.Fatalf("%s: batch item failures %+v\n%s", c.label, res.Response.BatchItemFailures, tail(stderr.String(), 20))
	}
	if n := countRows(b, db, "SELECT COUNT(*) FROM block"); n != c.blocks {
		b.Fatalf("%s: %d blocks in the database, want %d", c.label, n, c.blocks)
	}
	return res.VmHWM
}
