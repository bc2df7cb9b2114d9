// Package sqstest gives tests a real SQS: the fauxqs emulator that
// infra/local/sqs.sh starts on loopback. Its endpoint comes from
// NECTAR_TEST_SQS_ENDPOINT:
//
//	source "$(infra/local/sqs.sh up)"
//
// When it is not set, tests fail under CI=true and skip loudly elsewhere.
// Every test makes queues of its own (QueueName) and never relies on what
// another test left. A test that restarts the emulator runs a private one
// (StartEmulator) so that the shared one never goes away under other tests.
package sqstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

// EnvEndpoint names the environment variable holding the emulator's URL.
const EnvEndpoint = "NECTAR_TEST_SQS_ENDPOINT"

// Region and static credentials the tests use against the emulator.
const (
	Region          = "us-east-1"
	AccessKeyID     = "test"
	SecretAccessKey = "test"
)

// Endpoint returns the emulator's URL. When it is not configured it fails
// the test under CI=true and otherwise skips it, saying why.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	ep := os.Getenv(EnvEndpoint)
	if ep != "" {
		return ep
	}
	const msg = EnvEndpoint + " is not set: run `source \"$(infra/local/sqs.sh up)\"` first"
	testenv.Missing(tb, msg)
	return ""
}

// Config is the sqs.Config of the emulator (skips or fails like Endpoint).
func Config(tb testing.TB) sqs.Config {
	tb.Helper()
	return sqs.Config{Region: Region, Endpoint: Endpoint(tb),
		AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
}

// NewClient returns a client of the emulator (skips or fails like Endpoint).
func NewClient(tb testing.TB) *awssqs.Client {
	tb.Helper()
	c, err := sqs.NewClient(context.Background(), Config(tb))
	if err != nil {
		tb.Fatalf("sqs client: %v", err)
	}
	return c
}

var unsafeRE = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// QueueName returns a queue name (or CreateQueues prefix) unique to this
// test and run: the test's name, cut to fit, and random hex. It leaves room
// for CreateQueues' longest suffix ("-tip-dlq.fifo").
func QueueName(tb testing.TB) string {
	tb.Helper()
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		tb.Fatalf("random queue name: %v", err)
	}
	base := unsafeRE.ReplaceAllString(tb.Name(), "-")
	if len(base) > 48 {
		base = base[len(base)-48:]
	}
	return "t-" + base + "-" + hex.EncodeToString(r[:])
}

// CreateQueue creates a queue (append ".fifo" to name for a FIFO queue)
// with the given attributes and returns its URL.
func CreateQueue(tb testing.TB, client sqs.API, name string, attrs map[string]string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		tb.Fatalf("create queue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

// ReceiveAll receives and deletes messages from queueURL until it has n of
// them or timeout passes, and returns them in the order received. It works
// on FIFO queues, where a receive returns the next message of a group only
// after the previous one was deleted.
func ReceiveAll(tb testing.TB, client sqs.API, queueURL string, n int, timeout time.Duration) []types.Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r := sqs.NewReceiver(client)
	var got []types.Message
	for len(got) < n {
		msgs, err := r.Receive(ctx, queueURL, 10, time.Second)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			tb.Fatalf("receive: %v", err)
		}
		handles := make([]string, 0, len(msgs))
		for _, m := range msgs {
			got = append(got, m)
			handles = append(handles, aws.ToString(m.ReceiptHandle))
		}
		if len(handles) > 0 {
			if err := r.Delete(ctx, queueURL, handles...); err != nil {
				tb.Fatalf("delete: %v", err)
			}
		}
	}
	return got
}

// Count returns the messages in queueURL, visible and in flight (SQS's
// approximate counts; exact on the emulator).
func Count(tb testing.TB, client sqs.API, queueURL string) int {
	tb.Helper()
	out, err := client.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		tb.Fatalf("queue attributes: %v", err)
	}
	n := 0
	for _, k := range []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	} {
		v, err := strconv.Atoi(out.Attributes[string(k)])
		if err != nil {
			tb.Fatalf("queue attribute %s: %v", k, err)
		}
		n += v
	}
	return n
}

// Emulator is a private fauxqs instance that infra/local/sqs.sh runs for one
// test, with its own state directory (NECTAR_LOCAL_STATE) and port, so that
// the test can restart it without disturbing other tests that share the
// emulator of NECTAR_TEST_SQS_ENDPOINT. The npm install (under NECTAR_CACHE)
// is shared.
type Emulator struct {
	// Endpoint is the instance's URL, http://127.0.0.1:PORT.
	Endpoint string
	script   string
	state    string
	tb       testing.TB
}

// emulatorCmdTimeout bounds one sqs.sh command (up may install fauxqs once).
const emulatorCmdTimeout = 3 * time.Minute

// StartEmulator starts a private emulator in a temporary state directory and
// stops it (deleting its state) when the test ends. It skips or fails like
// Endpoint when the shared emulator is not configured: that is the sign that
// fauxqs is not installed here.
func StartEmulator(tb testing.TB) *Emulator {
	tb.Helper()
	Endpoint(tb)
	script, err := findSQSScript()
	if err != nil {
		tb.Fatal(err)
	}
	e := &Emulator{script: script, state: tb.TempDir(), tb: tb}
	envFile, err := e.run("up")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := e.run("down"); err != nil {
			tb.Errorf("private sqs emulator: %v", err)
		}
	})
	if e.Endpoint, err = readEndpoint(envFile); err != nil {
		tb.Fatal(err)
	}
	return e
}

// Config is the sqs.Config of the private emulator.
func (e *Emulator) Config() sqs.Config {
	return sqs.Config{Region: Region, Endpoint: e.Endpoint,
		AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
}

// Restart stops the emulator and starts it again on the same port, keeping
// its queues and messages (sqs.sh restart). Safe to call from any goroutine.
func (e *Emulator) Restart() error {
	envFile, err := e.run("restart")
	if err != nil {
		return err
	}
	ep, err := readEndpoint(envFile)
	if err != nil {
		return err
	}
	if ep != e.Endpoint {
		return fmt.Errorf("private sqs emulator came back on %s, not %s", ep, e.Endpoint)
	}
	return nil
}

// run runs sqs.sh with the private state directory and returns its stdout.
func (e *Emulator) run(command string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), emulatorCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", e.script, command)
	cmd.Env = append(os.Environ(), "NECTAR_LOCAL_STATE="+e.state, "NECTAR_SQS_PERSIST=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	e.tb.Logf("sqs.sh %s (%s):\n%s", command, time.Since(start).Round(time.Millisecond), strings.TrimSpace(stderr.String()))
	if err != nil {
		return "", fmt.Errorf("sqs.sh %s: %w", command, err)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// findSQSScript finds infra/local/sqs.sh above the working directory (a
// test runs in its package's directory).
func findSQSScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "infra", "local", "sqs.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("infra/local/sqs.sh not found above the working directory")
		}
		dir = parent
	}
}

// readEndpoint reads NECTAR_TEST_SQS_ENDPOINT from an env file sqs.sh wrote.
func readEndpoint(envFile string) (string, error) {
	b, err := os.ReadFile(envFile)
	if err != nil {
		return "", fmt.Errorf("sqs.sh env file: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "export "+EnvEndpoint+"="); ok {
			v = strings.Trim(v, `'"`)
			if !strings.HasPrefix(v, "http://127.0.0.1:") {
				return "", fmt.Errorf("sqs.sh env file %s: endpoint %q is not on loopback", envFile, v)
			}
			return v, nil
		}
	}
	return "", fmt.Errorf("sqs.sh env file %s: no %s", envFile, EnvEndpoint)
}
