package faults_test

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/infra/local/eventsource/eventsourcetest"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/logbuf"
	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

// ingestBootstrap is functions/ingest built for this machine.
var ingestBootstrap = &eventsourcetest.Bootstrap{Pkg: "github.com/nectar-indexer/nectar/functions/ingest"}

// The ingest process killed mid-batch under the Lambda runtime emulator and
// retried: four history messages of 60 mainnet Conway blocks each (a few
// hundred KB encoded) on a fauxqs standard queue; a poller hands them to
// the real ingest bootstrap under aws-lambda-rie, which writes to the shared
// TiDB over TLS verified against the test CA. Twice, while a batch
// transaction of the function is writing, the container is killed (SIGKILL
// to the process groups of RIE and of the bootstrap) and a new one started:
// the invocation fails as a whole, its messages reappear after the
// visibility timeout, and the new container applies them (skipping those
// that committed). The end state equals the clean pass.
func TestIngestKilledUnderRIE(t *testing.T) {
	const (
		kills      = 2
		visibility = 5 * time.Second
	)
	rie := eventsourcetest.Bin(t)
	srv := sharedTiDB(t)
	client := sqstest.NewClient(t)
	envs := cut(chain.Mainnet.Name, nil, nil, conwayBlocks(t, 600, 840), 60)
	want := cleanPass(t, srv, chain.Mainnet, envs)

	db, cfg := srv.Open(t)
	serverName := os.Getenv("NECTAR_TEST_SERVER_NAME")
	if serverName == "" {
		serverName = "localhost"
	}
	fn := &lambdaFunction{t: t, opts: eventsource.RIEOptions{Bin: rie, Bootstrap: ingestBootstrap.Path(t, buildDir), FunctionName: "ingest",
		Timeout: time.Minute, Env: []string{
			"NECTAR_NETWORK=" + chain.Mainnet.Name,
			"NECTAR_DB_HOST=" + srv.Host,
			"NECTAR_DB_PORT=" + srv.Port,
			"NECTAR_DB_USER=" + srv.User,
			"NECTAR_DB_PASSWORD=" + srv.Pass,
			"NECTAR_DB_DATABASE=" + cfg.DBName,
			"NECTAR_DB_SSL_MODE=VERIFY_IDENTITY",
			"NECTAR_DB_SSL_CA=" + os.Getenv("NECTAR_TEST_CA"),
			"NECTAR_DB_SERVER_NAME=" + serverName,
			"NECTAR_LOG_LEVEL=info",
		}}}
	fn.start()
	history, _, names := queues(t, client, sqs.QueueOptions{VisibilityTimeout: visibility, MaxReceiveCount: 10, MaxMessageBytes: sqs.MaxBatchBytes})
	send(t, client, history, messages(t, "", envs))
	p := poll(t, client, history, fn.invoke)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Sessions of a killed container linger in the processlist until TiDB
	// notices: the next kill waits for a session of the next container.
	var dead []uint64
	for i := range kills {
		wctx, wcancel := context.WithTimeout(ctx, time.Minute)
		_, err := waitWriting(wctx, db, cfg.DBName, dead...)
		wcancel()
		if err != nil {
			t.Fatalf("kill %d: %v", i+1, err)
		}
		time.Sleep(rand.N(200 * time.Millisecond))
		fn.kill()
		ids, err := sessionIDs(ctx, db, "SELECT ID FROM information_schema.processlist WHERE DB = ?", cfg.DBName)
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, ids...)
		injected(t, "ingest bootstrap and RIE SIGKILLed while a batch transaction was writing")
		fn.start()
	}
	testenv.WaitFor(t, 2*time.Minute, "every batch applied and the queue empty", func() bool {
		return count(t, db, "SELECT COUNT(*) FROM ingest_batch") == int64(len(envs)) && sqstest.Count(t, client, history) == 0
	})

	st := p.Stats()
	t.Logf("poller: %+v", st)
	if st.InvokeErrors < kills || st.Deleted != int64(len(envs)) {
		t.Errorf("poller %+v; want at least %d failed invocations and %d messages deleted", st, kills, len(envs))
	}
	if n := sqstest.Count(t, client, queueURL(t, client, names.HistoryDLQ)); n != 0 {
		t.Errorf("%d message(s) in the history DLQ", n)
	}
	if out := fn.out.String(); strings.Contains(out, "Task timed out") {
		t.Errorf("an invocation timed out:\n%s", out)
	}
	assertEndState(t, db, chain.Mainnet, want, blockCount(envs))
	if t.Failed() {
		t.Logf("function output:\n%s", fn.out.String())
	}
}

// lambdaFunction is the ingest function under RIE, one container at a time:
// kill takes the running one down, start brings up the next.
type lambdaFunction struct {
	t    testing.TB
	opts eventsource.RIEOptions
	out  logbuf.Buffer // every container's output

	mu  sync.Mutex
	rie *eventsource.RIE
}

func (f *lambdaFunction) start() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := f.opts
	opts.Stdout, opts.Stderr = &f.out, &f.out
	r, err := eventsource.StartRIE(ctx, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { r.Close() })
	f.mu.Lock()
	f.rie = r
	f.mu.Unlock()
}

func (f *lambdaFunction) invoke(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	f.mu.Lock()
	r := f.rie
	f.mu.Unlock()
	return r.Invoke(ctx, ev)
}

// kill takes the container down as a crash of the host would: SIGKILL to
// RIE's process group and to the function's (RIE starts the bootstrap in a
// process group of its own), then waits until every process is gone.
func (f *lambdaFunction) kill() {
	f.t.Helper()
	f.mu.Lock()
	rie := f.rie.PID()
	f.mu.Unlock()
	groups := []int{rie}
	for _, pid := range descendants(rie) {
		if g, ok := procGroup(pid); ok && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	if len(groups) < 2 {
		f.t.Fatalf("RIE (pid %d) runs no function process to kill", rie)
	}
	// The function's group first: it is the one writing.
	for _, g := range slices.Backward(groups) {
		if err := syscall.Kill(-g, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			f.t.Fatalf("kill process group %d: %v", g, err)
		}
	}
	testenv.WaitFor(f.t, 10*time.Second, "the container's processes gone", func() bool {
		for _, g := range groups {
			if len(groupMembers(g)) > 0 {
				return false
			}
		}
		return true
	})
}

// descendants lists the live descendants of pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	for _, p := range eventsource.Processes() {
		children[p.PPID] = append(children[p.PPID], p.PID)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		next := children[queue[0]]
		queue = append(queue[1:], next...)
		out = append(out, next...)
	}
	return out
}

func procGroup(pid int) (int, bool) {
	for _, p := range eventsource.Processes() {
		if p.PID == pid {
			return p.PGRP, true
		}
	}
	return 0, false
}

// groupMembers lists the live processes of process group pgid.
func groupMembers(pgid int) []int {
	var out []int
	for _, p := range eventsource.Processes() {
		if p.PGRP == pgid {
			out = append(out, p.PID)
		}
	}
	return out
}
