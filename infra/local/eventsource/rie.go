package eventsource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Defaults for RIEOptions.
const (
	DefaultFunctionName = "function"
	DefaultTimeout      = 30 * time.Second
	DefaultMemoryMB     = 256
	DefaultRegion       = "us-east-1"
	DefaultStartTimeout = 15 * time.Second

	// InvokePath is RIE's invoke endpoint (Lambda's Invoke API path).
	InvokePath = "/2015-03-31/functions/function/invocations"

	// stopWait is how long Close waits after SIGTERM before SIGKILL.
	stopWait = 5 * time.Second
	// invokeMargin is added to the function timeout to bound one HTTP
	// invocation: RIE answers a timed-out invocation itself.
	invokeMargin = 30 * time.Second
	// maxErrorBody bounds how much of an unexpected answer an error quotes.
	maxErrorBody = 300
)

// RIEOptions say how to run a function under the emulator.
type RIEOptions struct {
	// Bin is the aws-lambda-rie binary (NECTAR_TEST_RIE). Required.
	Bin string
	// Bootstrap is the function's executable, built for this machine's
	// architecture. Required.
	Bootstrap string
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME (DefaultFunctionName).
	FunctionName string
	// Timeout is the function timeout, whole seconds
	// (AWS_LAMBDA_FUNCTION_TIMEOUT; DefaultTimeout). RIE answers an
	// invocation that runs longer with "Task timed out" and restarts the
	// function, as Lambda does.
	Timeout time.Duration
	// MemoryMB is AWS_LAMBDA_FUNCTION_MEMORY_SIZE (DefaultMemoryMB).
	MemoryMB int
	// Region is AWS_REGION and AWS_DEFAULT_REGION (DefaultRegion).
	Region string
	// Env is the rest of the function's environment, KEY=VALUE: its
	// configuration (NECTAR_*) and AWS settings (AWS_ENDPOINT_URL_*,
	// credentials). The function sees only these, the variables above, PATH
	// and TZ=:UTC: nothing of the caller's environment leaks in.
	Env []string
	// Stdout receives the function's own output, stdout and stderr both
	// (RIE merges them, with START/END/REPORT lines around each
	// invocation, as CloudWatch Logs shows them). Nil discards it.
	Stdout io.Writer
	// Stderr receives RIE's own log lines. Nil discards them.
	Stderr io.Writer
	// StartTimeout bounds the wait for RIE to answer (DefaultStartTimeout).
	StartTimeout time.Duration
}

// RIE is one aws-lambda-rie process running one function on loopback. The
// function starts (its init runs) at the first invocation, and again after
// a crash or a timeout. Invocations are serialised: RIE crashes when it
// gets two at once.
type RIE struct {
	url  string
	cmd  *exec.Cmd
	opts RIEOptions

	sem     chan struct{} // one invocation at a time
	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed

	closeOnce sync.Once
	closing   chan struct{} // closed by Close: aborts a running invocation
}

// StartRIE starts aws-lambda-rie on two free loopback ports with the
// function opts.Bootstrap and waits until it answers HTTP. ctx bounds the
// start only; the process runs until Close.
func StartRIE(ctx context.Context, opts RIEOptions) (*RIE, error) {
	if opts.Bin == "" || opts.Bootstrap == "" {
		return nil, errors.New("start rie: Bin and Bootstrap are required")
	}
	for _, p := range []string{opts.Bin, opts.Bootstrap} {
		if st, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("start rie: %w", err)
		} else if st.IsDir() || st.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("start rie: %s is not an executable file", p)
		}
	}
	if opts.FunctionName == "" {
		opts.FunctionName = DefaultFunctionName
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Timeout < time.Second {
		return nil, fmt.Errorf("start rie: Timeout %s is under a second", opts.Timeout)
	}
	if opts.MemoryMB == 0 {
		opts.MemoryMB = DefaultMemoryMB
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	// A port picked free may be taken before RIE binds it: try again.
	var errs []error
	for range 3 {
		r, err := startRIE(ctx, opts)
		if err == nil {
			return r, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("start rie: %w", errors.Join(errs...))
}

func startRIE(ctx context.Context, opts RIEOptions) (*RIE, error) {
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	boot, err := filepath.Abs(opts.Bootstrap)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(opts.Bin,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		boot)
	cmd.Dir = filepath.Dir(boot)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"TZ=:UTC",
		"AWS_LAMBDA_FUNCTION_NAME=" + opts.FunctionName,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(int(opts.Timeout/time.Second)),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(opts.MemoryMB),
		"AWS_REGION=" + opts.Region,
		"AWS_DEFAULT_REGION=" + opts.Region,
	}, opts.Env...)
	cmd.Stdout, cmd.Stderr = opts.Stdout, opts.Stderr
	// Its own process group, so that Close stops the function with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Do not wait forever for output a leftover process holds open.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &RIE{url: "http://" + addr, cmd: cmd, opts: opts,
		sem: make(chan struct{}, 1), exited: make(chan struct{}), closing: make(chan struct{})}
	go func() {
		r.waitErr = cmd.Wait()
		close(r.exited)
	}()
	if err := r.waitReady(ctx, opts.StartTimeout); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// waitReady waits until RIE answers HTTP at all (its root is a 404).
func (r *RIE) waitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-r.exited:
			return fmt.Errorf("aws-lambda-rie on %s exited at start: %v", r.url, r.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("aws-lambda-rie on %s did not answer within %s: %w", r.url, within, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FreePorts returns n distinct TCP ports free on 127.0.0.1 at the time.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// URL is the emulator's base URL (http://127.0.0.1:PORT).
func (r *RIE) URL() string { return r.url }

// PID is the aws-lambda-rie process's id (and its process group's).
func (r *RIE) PID() int { return r.cmd.Process.Pid }

// Invoke invokes the function with an SQS event and returns its answer. It
// is an InvokeFunc. Errors: a *FunctionError for a handler error, ErrCrashed
// when the function died, ErrBadResponse for an answer that is not an
// SQSEventResponse (a timeout's "Task timed out ..." among them), or the
// transport's error.
func (r *RIE) Invoke(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return events.SQSEventResponse{}, fmt.Errorf("encode event: %w", err)
	}
	body, err := r.InvokeRaw(ctx, payload)
	if err != nil {
		return events.SQSEventResponse{}, err
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return events.SQSEventResponse{}, fmt.Errorf("%w: %q", ErrBadResponse, truncate(body))
	}
	return resp, nil
}

var _ InvokeFunc = (*RIE)(nil).Invoke

// InvokeRaw posts payload to the invoke endpoint and returns the function's
// answer. One invocation runs at a time; a caller whose ctx ends while
// waiting (for its turn or for the answer) gets ctx's error, but an
// invocation RIE has started keeps the turn until RIE answers it.
func (r *RIE) InvokeRaw(ctx context.Context, payload []byte) ([]byte, error) {
	if r.isClosed() {
		return nil, ErrRIEClosed
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.closing:
		return nil, ErrRIEClosed
	}
	type result struct {
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-r.sem }()
		body, err := r.post(payload)
		done <- result{body, err}
	}()
	select {
	case res := <-done:
		return res.body, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// post makes one invocation, bounded by the function timeout (RIE answers
// a timeout itself) and by Close, never by a caller's ctx: RIE must not
// see a second invocation while one runs.
func (r *RIE) post(payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout+invokeMargin)
	defer cancel()
	go func() {
		select {
		case <-r.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+InvokePath, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if r.isClosed() {
			return nil, ErrRIEClosed
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("%w: aws-lambda-rie exited: %v", ErrCrashed, r.waitErr)
		default:
		}
		return nil, fmt.Errorf("invoke %s: %w", r.opts.FunctionName, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read the answer: %w", r.opts.FunctionName, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadGateway:
		// The runtime exited (a panic, os.Exit) or its init failed.
		return nil, fmt.Errorf("%w: %s: %s", ErrCrashed, r.opts.FunctionName, describeCrash(body))
	default:
		return nil, fmt.Errorf("invoke %s: HTTP %d: %q", r.opts.FunctionName, resp.StatusCode, truncate(body))
	}
	var fe struct {
		Type    *string `json:"errorType"`
		Message *string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &fe) == nil && (fe.Type != nil || fe.Message != nil) {
		e := &FunctionError{}
		if fe.Type != nil {
			e.Type = *fe.Type
		}
		if fe.Message != nil {
			e.Message = *fe.Message
		}
		return nil, e
	}
	return body, nil
}

func describeCrash(body []byte) string {
	var fe struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &fe) == nil && fe.Message != "" {
		return fe.Type + ": " + fe.Message
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "no answer (the function exited, perhaps during init: see its output)"
	}
	return fmt.Sprintf("%q", truncate(body))
}

func truncate(b []byte) string {
	if len(b) > maxErrorBody {
		return string(b[:maxErrorBody]) + "..."
	}
	return string(b)
}

func (r *RIE) isClosed() bool {
	select {
	case <-r.closing:
		return true
	default:
		return false
	}
}

// Close stops RIE and the function: SIGTERM to their process group, then
// SIGKILL after a few seconds. It is idempotent and waits for the exit.
func (r *RIE) Close() error {
	r.closeOnce.Do(func() {
		close(r.closing)
		pgid := r.cmd.Process.Pid
		// RIE starts the function in a process group of its own: find it
		// now, while RIE is its parent, so that it can be killed too.
		groups := childGroups(pgid)
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-r.exited:
			// RIE waited for the function's process to end.
		case <-time.After(stopWait):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-r.exited
		}
		for _, g := range groups {
			_ = syscall.Kill(-g, syscall.SIGKILL) // no-op when the function already ended
		}
	})
	return nil
}

// BuildBootstrap builds the Go main package pkg (an import path, or a
// directory relative to the working directory) as dir/bootstrap for this
// machine's OS and architecture, statically (CGO_ENABLED=0), which is what
// RIE runs here; deployments build for linux/arm64 instead.
func BuildBootstrap(ctx context.Context, pkg, dir string) (string, error) {
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// childGroups returns the process groups of pid's children.
func childGroups(pid int) []int {
	var out []int
	for _, p := range Processes() {
		if p.PPID == pid && p.PGRP != pid && p.PGRP > 1 && !slices.Contains(out, p.PGRP) {
			out = append(out, p.PGRP)
		}
	}
	return out
}

// Process is one live process as /proc describes it.
type Process struct{ PID, PPID, PGRP int }

// Processes lists the live (not zombie) processes from /proc: RIE runs the
// function in a process group of its own, and tests that take a container
// down need to find it.
func Processes() []Process {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		ppid, err1 := strconv.Atoi(f[1])
		pgrp, err2 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil {
			out = append(out, Process{PID: pid, PPID: ppid, PGRP: pgrp})
		}
	}
	return out
}
