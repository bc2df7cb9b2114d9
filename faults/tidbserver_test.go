package faults_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

// tidbStartWait bounds one start of a private tidb-server.
const tidbStartWait = 90 * time.Second

// privateTiDB is a tidb-server of one test's own, started from the binary
// infra/local/services.sh builds, with the same flags but an on-disk
// unistore (-path DIR), so that its data survives a kill and a restart. It
// listens on loopback with TLS from the services' test CA; root has no
// password (as in services.sh, reachable from this host only).
type privateTiDB struct {
	bin, dir   string
	port       int
	statusPort int
	cmd        *exec.Cmd
	exited     chan struct{}
}

// startPrivateTiDB starts the server and stops it when the test ends. A
// missing binary or test CA fails the test under CI=true and skips it
// elsewhere.
func startPrivateTiDB(tb testing.TB) *privateTiDB {
	tb.Helper()
	cache := os.Getenv("NECTAR_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "nectar")
	}
	bin := filepath.Join(cache, "bin", "tidb-server")
	if _, err := os.Stat(bin); err != nil {
		testenv.Missing(tb, fmt.Sprintf("no tidb-server at %s: run `make services` (infra/local/build-tidb.sh)", bin))
	}
	ca := os.Getenv("NECTAR_TEST_CA")
	if ca == "" {
		testenv.Missing(tb, "NECTAR_TEST_CA is not set: run `source \"$(infra/local/services.sh up)\"` first")
	}
	certs := filepath.Dir(ca)
	for _, f := range []string{"server-cert.pem", "server-key.pem"} {
		if _, err := os.Stat(filepath.Join(certs, f)); err != nil {
			testenv.Missing(tb, fmt.Sprintf("no %s next to the test CA: %v", f, err))
		}
	}
	// The unix socket path must stay short: a directory of its own under /tmp.
	dir, err := os.MkdirTemp("", "nectar-tidb-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"data", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`tmp-storage-path = %q

[security]
ssl-ca = %q
ssl-cert = %q
ssl-key = %q
auto-tls = false

[log]
level = "warn"
`, filepath.Join(dir, "tmp", "storage"), ca, filepath.Join(certs, "server-cert.pem"), filepath.Join(certs, "server-key.pem"))
	if err := os.WriteFile(filepath.Join(dir, "tidb.toml"), []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	p := &privateTiDB{bin: bin, dir: dir}
	tb.Cleanup(p.kill)
	// Ports picked free may be taken before tidb-server binds them: try again.
	var errs []error
	for range 3 {
		ports, err := eventsource.FreePorts(2)
		if err != nil {
			tb.Fatal(err)
		}
		p.port, p.statusPort = ports[0], ports[1]
		err = p.start(tb)
		if err == nil {
			return p
		}
		errs = append(errs, err)
	}
	tb.Fatalf("private tidb-server did not start: %v", errors.Join(errs...))
	return nil
}

// Server is the private server as a dbtest.Server (root, no password).
func (p *privateTiDB) Server() dbtest.Server {
	return dbtest.Server{Name: "tidb-private", Host: "127.0.0.1", Port: strconv.Itoa(p.port), User: "root"}
}

// start runs tidb-server on the server's ports and data directory and waits
// until it answers SQL over verified TLS.
func (p *privateTiDB) start(tb testing.TB) error {
	tb.Helper()
	stderr, err := os.OpenFile(filepath.Join(p.dir, "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer stderr.Close()
	cmd := exec.Command(p.bin, "-store", "unistore", "-path", filepath.Join(p.dir, "data"),
		"-host", "127.0.0.1", "-P", strconv.Itoa(p.port),
		"-status-host", "127.0.0.1", "-status", strconv.Itoa(p.statusPort),
		"-socket", filepath.Join(p.dir, "tidb.sock"), "-temp-dir", filepath.Join(p.dir, "tmp"),
		"-log-file", filepath.Join(p.dir, "tidb.log"), "-config", filepath.Join(p.dir, "tidb.toml"))
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// Its own process group: kill takes down whatever it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited

	cfg := p.Server().Config(tb, "")
	cfg.Timeout = time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), tidbStartWait)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		err = db.PingContext(pctx)
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("tidb-server on port %d exited during start: %s", p.port, p.logTail())
		case <-ctx.Done():
			p.kill()
			return fmt.Errorf("tidb-server on port %d did not answer within %s: %v: %s", p.port, tidbStartWait, err, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill sends SIGKILL to the server's process group and waits until it is
// gone. A no-op when it is not running.
func (p *privateTiDB) kill() {
	if p.cmd == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// shutdownWait bounds a stop.
const shutdownWait = 30 * time.Second

// stop shuts the server down with SIGTERM (tidb-server stops listening,
// lets open transactions finish, closes every connection, flushes its store
// and exits) and waits for the exit.
//
// SIGKILL is no substitute here: the embedded unistore keeps transaction
// locks in memory (it dumps them only on a clean close and never reads them
// back), so a SIGKILL during a commit loses keys of a transaction already
// reported committed (async commit reports it after the prewrite, a normal
// commit after its primary key, the other keys following), which a real
// TiKV, holding its locks in its Raft log, never does. For the same reason
// the sessions a scenario cuts must be gone, their commits' background work
// done, before stop.
func (p *privateTiDB) stop() error {
	if p.cmd == nil {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop tidb-server: %w", err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(shutdownWait):
		p.kill()
		return fmt.Errorf("tidb-server did not exit within %s of SIGTERM: %s", shutdownWait, p.logTail())
	}
}

// inTransaction lists the sessions of database dbName inside a transaction.
func inTransaction(ctx context.Context, admin *sql.DB, dbName string) ([]uint64, error) {
	return sessionIDs(ctx, admin, "SELECT ID FROM information_schema.processlist WHERE DB = ? AND STATE LIKE 'in transaction%'", dbName)
}

// restart starts the server again on the same ports and data after a stop.
func (p *privateTiDB) restart(tb testing.TB) error {
	tb.Helper()
	p.kill()
	// Bound the retries: the port is the one the clients know.
	var err error
	for range 3 {
		if err = p.start(tb); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

func (p *privateTiDB) logTail() string {
	var parts []string
	for _, f := range []string{"stderr.log", "tidb.log"} {
		b, err := os.ReadFile(filepath.Join(p.dir, f))
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		parts = append(parts, f+":\n"+strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
	return strings.Join(parts, "\n")
}
