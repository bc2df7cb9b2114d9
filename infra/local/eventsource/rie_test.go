package eventsource_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/infra/local/eventsource/eventsourcetest"
	"github.com/nectar-indexer/nectar/shared/logbuf"
	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

var (
	buildDir string
	// testFn is testdata/fn, a minimal function, built for this machine.
	testFn = &eventsourcetest.Bootstrap{Pkg: "./testdata/fn"}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eventsource-test-")
	if err != nil {
		panic(err)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fn returns the minimal function's bootstrap.
func fn(tb testing.TB) string { return testFn.Path(tb, buildDir) }

func startRIE(tb testing.TB, opts eventsource.RIEOptions) (*eventsource.RIE, *logbuf.Buffer, *logbuf.Buffer) {
	tb.Helper()
	out, errOut := &logbuf.Buffer{}, &logbuf.Buffer{}
	opts.Bin, opts.Stdout, opts.Stderr = eventsourcetest.Bin(tb), out, errOut
	if opts.Bootstrap == "" {
		opts.Bootstrap = fn(tb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := eventsource.StartRIE(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		r.Close()
		if tb.Failed() {
			tb.Logf("function output:\n%s\nrie log:\n%s", out, errOut)
		}
	})
	return r, out, errOut
}

func event(bodies ...string) events.SQSEvent {
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: "m" + strconv.Itoa(i), Body: b, EventSource: "aws:sqs"})
	}
	return ev
}

// Each way an invocation can end, as RIE reports it.
func TestRIEInvoke(t *testing.T) {
	r, out, rieLog := startRIE(t, eventsource.RIEOptions{FunctionName: "fn-test", Timeout: 2 * time.Second,
		Env: []string{"FOO=bar"}})
	ctx := context.Background()

	cases := []struct {
		body       string
		wantFailed []string
		check      func(error) bool
	}{
		{body: "ok"},
		{body: "fail", wantFailed: []string{"m0"}},
		{body: "env:FOO=bar"},
		{body: "env:AWS_LAMBDA_FUNCTION_NAME=fn-test"},
		{body: "env:AWS_LAMBDA_FUNCTION_TIMEOUT=2"},
		{body: "env:AWS_REGION=us-east-1"},
		// The caller's environment does not leak into the function.
		{body: "env:" + eventsourcetest.EnvBin + "="},
		{body: "error", check: func(err error) bool {
			var fe *eventsource.FunctionError
			return errors.As(err, &fe) && fe.Message == "fn: asked to fail the invocation" && fe.Type == "errorString"
		}},
		{body: "sleep:5s", check: func(err error) bool {
			return errors.Is(err, eventsource.ErrBadResponse) && strings.Contains(err.Error(), "Task timed out")
		}},
		{body: "ok"}, // restarted after the timeout
		{body: "exit", check: func(err error) bool {
			return errors.Is(err, eventsource.ErrCrashed) && strings.Contains(err.Error(), "Runtime.ExitError")
		}},
		{body: "ok"}, // restarted after the crash
	}
	for _, tc := range cases {
		resp, err := r.Invoke(ctx, event(tc.body))
		if tc.check != nil {
			if !tc.check(err) {
				t.Errorf("%s: error %v", tc.body, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		var failed []string
		for _, f := range resp.BatchItemFailures {
			failed = append(failed, f.ItemIdentifier)
		}
		if strings.Join(failed, ",") != strings.Join(tc.wantFailed, ",") {
			t.Errorf("%s: failed %v, want %v", tc.body, failed, tc.wantFailed)
		}
	}
	// The function's stdout and stderr both arrive on Stdout; RIE's own log
	// on Stderr.
	if !strings.Contains(out.String(), "fn: record m0 ok") || !strings.Contains(out.String(), "fn: out m0") {
		t.Errorf("function output lacks its lines:\n%s", out)
	}
	if !strings.Contains(rieLog.String(), "(rapid)") {
		t.Errorf("RIE log lacks its lines:\n%s", rieLog)
	}
}

// Concurrent invocations are serialised: all succeed.
func TestRIESerialises(t *testing.T) {
	r, _, _ := startRIE(t, eventsource.RIEOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			resp, err := r.Invoke(context.Background(), event("sleep:100ms", "ok"))
			if err == nil && len(resp.BatchItemFailures) > 0 {
				err = errors.New("records failed")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("8 invocations of 100 ms took %s: they overlapped", d)
	}
}

// A function that dies during init is a crash; Close stops RIE, and an
// invocation after it fails with ErrRIEClosed.
func TestRIEInitFailureAndClose(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho 'init: cannot start' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, out, _ := startRIE(t, eventsource.RIEOptions{Bootstrap: bad})
	_, err := r.Invoke(context.Background(), event("ok"))
	if !errors.Is(err, eventsource.ErrCrashed) {
		t.Fatalf("invoke of a function that cannot start: %v, want ErrCrashed", err)
	}
	testenv.WaitFor(t, 5*time.Second, "init output", func() bool { return strings.Contains(out.String(), "init: cannot start") })

	pid := r.PID()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Close() // idempotent
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("aws-lambda-rie (pid %d) still exists after Close: %v", pid, err)
	}
	if _, err := r.Invoke(context.Background(), event("ok")); !errors.Is(err, eventsource.ErrRIEClosed) {
		t.Errorf("invoke after Close: %v, want ErrRIEClosed", err)
	}
}

// A Poller over RIE: a function answering with an id not in the batch fails
// it whole; partial failures keep only the failed message.
func TestPollerWithRIE(t *testing.T) {
	client := sqstest.NewClient(t)
	r, _, _ := startRIE(t, eventsource.RIEOptions{})
	ctx := context.Background()
	q := sqstest.CreateQueue(t, client, sqstest.QueueName(t), map[string]string{"VisibilityTimeout": "60"})
	send(t, client, q, []sqs.Message{{ID: "1", Body: "ok"}, {ID: "2", Body: "fail"}, {ID: "3", Body: "ok"}})
	p := &eventsource.Poller{Receiver: sqs.NewReceiver(client), QueueURL: q, Invoke: r.Invoke}
	testenv.WaitFor(t, 10*time.Second, "all received", func() bool {
		if _, err := p.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		return p.Stats().Received == 3
	})
	if st := p.Stats(); st.Deleted != 2 || st.Failed != 1 || st.InvokeErrors != 0 {
		t.Errorf("stats %+v, want 2 deleted and 1 failed", st)
	}
	if n := sqstest.Count(t, client, q); n != 1 {
		t.Errorf("%d messages left, want the failed one", n)
	}

	q2 := sqstest.CreateQueue(t, client, sqstest.QueueName(t)+"-b", map[string]string{"VisibilityTimeout": "60"})
	send(t, client, q2, []sqs.Message{{ID: "1", Body: "ok"}, {ID: "2", Body: "bogus"}})
	p2 := &eventsource.Poller{Receiver: sqs.NewReceiver(client), QueueURL: q2, Invoke: r.Invoke}
	testenv.WaitFor(t, 10*time.Second, "all received", func() bool {
		if _, err := p2.Poll(ctx); err != nil && !errors.Is(err, eventsource.ErrBadResponse) {
			t.Fatal(err)
		}
		return p2.Stats().Received == 2
	})
	if st := p2.Stats(); st.Deleted != 0 || st.Failed != 2 {
		t.Errorf("stats %+v, want nothing deleted", st)
	}
}
