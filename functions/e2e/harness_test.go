// Package e2e_test runs Nectar's serverless half end to end with real
// stand-ins: the follower publishes to fauxqs (SQS), a local event-source
// poller (infra/local/eventsource) invokes the real ingest bootstrap under
// the Lambda runtime interface emulator, which reads its database
// credentials from a local Secrets Manager endpoint (secretstest) and writes
// to TiDB over TLS verified against the test CA and server name.
//
// It needs, from the environment:
//
//	source "$(infra/local/services.sh env)"  # NECTAR_TEST_TIDB_*, NECTAR_TEST_CA
//	source "$(infra/local/sqs.sh env)"       # NECTAR_TEST_SQS_ENDPOINT
//	source "$(infra/local/lambda.sh env)"    # NECTAR_TEST_RIE
//
// Missing, the tests fail under CI=true and skip loudly elsewhere.
package e2e_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/infra/local/eventsource/eventsourcetest"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/ingest/ingesttest"
	"github.com/nectar-indexer/nectar/shared/logbuf"
	"github.com/nectar-indexer/nectar/shared/secrets/secretstest"
	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

const (
	previewDir = "../../testdata/chains/preview"
	// functionTimeout is the ingest function's timeout under RIE.
	functionTimeout = 30 * time.Second
	region          = "us-east-1"
)

var (
	buildDir string
	// ingestBootstrap is functions/ingest built for this machine.
	ingestBootstrap = &eventsourcetest.Bootstrap{Pkg: "github.com/nectar-indexer/nectar/functions/ingest"}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nectar-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is what every test here needs; it skips or fails when a service is
// missing.
type env struct {
	tidb   dbtest.Server
	port   int
	ca     string // path of the test CA
	server string // the name the server certificate is for
	rie    string
	sqs    *awssqs.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{rie: eventsourcetest.Bin(t), ca: os.Getenv("NECTAR_TEST_CA"), server: os.Getenv("NECTAR_TEST_SERVER_NAME")}
	if e.ca == "" {
		testenv.Missing(t, "NECTAR_TEST_CA is not set: run `source \"$(infra/local/services.sh up)\"` first")
	}
	if e.server == "" {
		e.server = "localhost"
	}
	e.sqs = sqstest.NewClient(t)
	found := false
	for _, s := range dbtest.Servers(t) {
		if s.Name == "tidb" {
			e.tidb, found = s, true
		}
	}
	if !found {
		testenv.Missing(t, "TiDB is not configured (NECTAR_TEST_TIDB_HOST/PORT): run `make services`")
	}
	// Loopback only: these tests log in with users they make up.
	if ip := net.ParseIP(e.tidb.Host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("TiDB host %q is not a loopback address", e.tidb.Host)
	}
	p, err := strconv.Atoi(e.tidb.Port)
	if err != nil {
		t.Fatalf("NECTAR_TEST_TIDB_PORT %q: %v", e.tidb.Port, err)
	}
	e.port = p
	return e
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mustExec(tb testing.TB, db *sql.DB, query string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
}

// dbUser makes a user of its own for the function, allowed only on
// database and only over TLS, and drops it when the test ends.
func dbUser(tb testing.TB, admin *sql.DB, database string) (user, password string) {
	tb.Helper()
	user, password = "nectar_e2e_"+randHex(4), randHex(16)
	mustExec(tb, admin, "CREATE USER ?@'%' IDENTIFIED BY ? REQUIRE SSL", user, password)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP USER IF EXISTS ?@'%'", user); err != nil {
			tb.Errorf("drop user %s: %v", user, err)
		}
	})
	mustExec(tb, admin, "GRANT ALL PRIVILEGES ON `"+database+"`.* TO ?@'%'", user)
	return user, password
}

// function is the ingest function's deployment: its secret and environment.
type function struct {
	secrets *secretstest.Server
	arn     string
	env     []string
}

// secretJSON is the secret's text, in the shape TiDB Cloud and RDS use.
func (e *env) secretJSON(user, password, database string) string {
	b, _ := json.Marshal(map[string]any{"engine": "tidb", "host": e.tidb.Host, "port": e.port,
		"username": user, "password": password, "dbname": database})
	return string(b)
}

// newFunction stores the credentials in a new local Secrets Manager and
// returns the function's environment, as template.yaml would set it: the
// secret's ARN, TLS with identity verification, and the AWS settings that
// point the SDK at the local endpoint (AWS_ENDPOINT_URL_SECRETS_MANAGER).
func (e *env) newFunction(t *testing.T, user, password, database string) *function {
	t.Helper()
	f := &function{secrets: secretstest.New(t),
		arn: "arn:aws:secretsmanager:" + region + ":000000000000:secret:nectar/e2e-" + randHex(3)}
	f.secrets.Put(f.arn, e.secretJSON(user, password, database))
	f.env = []string{
		"NECTAR_NETWORK=preview",
		"NECTAR_DB_SECRET_ARN=" + f.arn,
		"NECTAR_DB_HOST=" + e.tidb.Host,
		"NECTAR_DB_PORT=" + e.tidb.Port,
		"NECTAR_DB_SSL_MODE=VERIFY_IDENTITY",
		"NECTAR_DB_SSL_CA=" + e.ca,
		"NECTAR_DB_SERVER_NAME=" + e.server,
		"NECTAR_LOG_LEVEL=info",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + f.secrets.URL(),
		"AWS_ACCESS_KEY_ID=AKIDE2ETEST",
		"AWS_SECRET_ACCESS_KEY=e2e-test-secret",
		"AWS_EC2_METADATA_DISABLED=true",
	}
	return f
}

// running is one ingest function under RIE with its output.
type running struct {
	rie *eventsource.RIE
	out *logbuf.Buffer // the function's stdout and stderr (JSON logs, EMF lines)
	log *logbuf.Buffer // RIE's own log
}

// start runs the real bootstrap under RIE with the function's environment.
func (e *env) start(t *testing.T, f *function, name string) *running {
	t.Helper()
	r := &running{out: &logbuf.Buffer{}, log: &logbuf.Buffer{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rie, err := eventsource.StartRIE(ctx, eventsource.RIEOptions{Bin: e.rie, Bootstrap: ingestBootstrap.Path(t, buildDir),
		FunctionName: name, Timeout: functionTimeout, Region: region, Env: f.env, Stdout: r.out, Stderr: r.log})
	if err != nil {
		t.Fatal(err)
	}
	r.rie = rie
	t.Cleanup(func() {
		rie.Close()
		if t.Failed() || os.Getenv("NECTAR_TEST_LOG") != "" {
			t.Logf("%s output:\n%s\n%s RIE log (tail):\n%s", name, r.out, name, tail(r.log.String(), 40))
		}
	})
	return r
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// lines returns the function's JSON output lines (logs and EMF metrics).
func (r *running) lines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(r.out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// metric sums an EMF metric over the function's invocations.
func (r *running) metric(name string) float64 {
	var sum float64
	for _, l := range r.lines() {
		if _, ok := l["_aws"]; !ok {
			continue
		}
		if v, ok := l[name].(float64); ok {
			sum += v
		}
	}
	return sum
}

// poll runs a Poller for queueURL into r until the test ends.
func (e *env) poll(t *testing.T, queueURL string, r *running) *eventsource.Poller {
	t.Helper()
	arn, err := eventsource.QueueARN(context.Background(), e.sqs, queueURL)
	if err != nil {
		t.Fatal(err)
	}
	return eventsourcetest.Run(t, &eventsource.Poller{Receiver: sqs.NewReceiver(e.sqs), QueueURL: queueURL, QueueARN: arn,
		Invoke: r.rie.Invoke, BatchSize: 10, Wait: time.Second}, functionTimeout+10*time.Second)
}

// queues creates the two queues and their DLQs, unique to the test.
func (e *env) queues(t *testing.T, opts sqs.QueueOptions) (history, tip string, names sqs.QueueNames) {
	t.Helper()
	prefix := sqstest.QueueName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	history, tip, err := sqs.CreateQueues(ctx, e.sqs, prefix, opts)
	if err != nil {
		t.Fatal(err)
	}
	return history, tip, sqs.NamesFor(prefix)
}

func (e *env) queueURL(t *testing.T, name string) string {
	t.Helper()
	out, err := e.sqs.GetQueueUrl(context.Background(), &awssqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

func count(tb testing.TB, db *sql.DB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// previewEnvelopes cuts preview chunk 00000 (216 blocks) into envelopes of
// n blocks, as the follower would for history.
func previewEnvelopes(tb testing.TB, n int) []*batch.Envelope {
	return ingesttest.ChunkEnvelopes(tb, "preview", filepath.Join(previewDir, "00000.chunk"), n)
}

// message is an envelope as the follower's SQS sink sends it to the history
// queue.
func message(tb testing.TB, id string, e *batch.Envelope) sqs.Message {
	tb.Helper()
	raw, err := batch.Encode(e)
	if err != nil {
		tb.Fatal(err)
	}
	return sqs.Message{ID: id, Body: base64.StdEncoding.EncodeToString(raw), Attributes: map[string]string{
		batch.AttrBatchID: hex.EncodeToString(e.ID()), batch.AttrKind: e.Kind.String(), batch.AttrNetwork: "preview"}}
}

func send(tb testing.TB, client sqs.API, queueURL string, msgs ...sqs.Message) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sqs.NewSender(client, sqs.SenderOptions{}).Send(ctx, queueURL, msgs); err != nil {
		tb.Fatalf("send: %v", err)
	}
}
