package secrets_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/dbconn"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/logbuf"
	"github.com/nectar-indexer/nectar/shared/secrets"
	"github.com/nectar-indexer/nectar/shared/secrets/secretstest"
)

// rotEnv is one server with a database and a user of its own, whose
// password the test changes as a rotation would.
type rotEnv struct {
	t        *testing.T
	admin    *sql.DB
	srv      *secretstest.Server
	host     string
	port     int
	database string
	user     string
	caPEM    string
	// leaks collects every password used, to check that none appears in
	// an error or a log line.
	leaks []string
	logs  *logbuf.Buffer
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newRotEnv(t *testing.T, s dbtest.Server) *rotEnv {
	t.Helper()
	// Loopback only: these tests log in with made-up users.
	if ip := net.ParseIP(s.Host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("%s: host %q is not a loopback address; these tests connect only to 127.0.0.1", s.Name, s.Host)
	}
	port, err := strconv.Atoi(s.Port)
	if err != nil {
		t.Fatalf("%s: port %q: %v", s.Name, s.Port, err)
	}
	ca, err := os.ReadFile(os.Getenv("NECTAR_TEST_CA"))
	if err != nil {
		t.Fatalf("read the test CA (NECTAR_TEST_CA): %v", err)
	}
	admin, mc := s.Open(t)
	e := &rotEnv{t: t, admin: admin, srv: secretstest.New(t), host: s.Host, port: port,
		database: mc.DBName, user: "nectar_rot_" + randHex(4), caPEM: string(ca), logs: &logbuf.Buffer{}}
	pw := e.newPassword()
	e.exec("CREATE USER ?@'%' IDENTIFIED BY ?", e.user, pw)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP USER IF EXISTS ?@'%'", e.user); err != nil {
			t.Errorf("drop user %s: %v", e.user, err)
		}
	})
	e.exec("GRANT ALL PRIVILEGES ON `"+e.database+"`.* TO ?@'%'", e.user)
	return e
}

func (e *rotEnv) exec(query string, args ...any) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.admin.ExecContext(ctx, query, args...); err != nil {
		// The statement may hold a password: say only which statement failed.
		e.t.Fatalf("%s: %v", strings.Fields(query)[0]+" "+strings.Fields(query)[1], err)
	}
}

// newPassword returns a fresh, distinctive password and remembers it.
func (e *rotEnv) newPassword() string {
	p := "Pw-" + randHex(8) + "!"
	e.leaks = append(e.leaks, p)
	return p
}

// setPassword changes the user's password in the database, as the rotation
// function's setSecret step does.
func (e *rotEnv) setPassword(pw string) { e.exec("ALTER USER ?@'%' IDENTIFIED BY ?", e.user, pw) }

// putSecret makes a new secret version with pw (and, if withCA, the CA).
func (e *rotEnv) putSecret(arn, pw string, withCA bool) {
	e.t.Helper()
	f := map[string]any{"engine": "mysql", "host": e.host, "port": strconv.Itoa(e.port),
		"username": e.user, "password": pw, "dbname": e.database}
	if withCA {
		f["ssl_ca"] = e.caPEM
	}
	e.srv.Put(arn, secretJSON(e.t, f))
}

// base is the configuration a Lambda would have: TLS verified, no host or
// credentials (they come from the secret).
func (e *rotEnv) base(withCA bool) config.DB {
	d := config.Default().DB
	d.Host = ""
	d.Database = ""
	d.SecretARN = "set"
	d.ServerName = os.Getenv("NECTAR_TEST_SERVER_NAME")
	if d.ServerName == "" {
		d.ServerName = "localhost"
	}
	if !withCA {
		d.SSLCA = os.Getenv("NECTAR_TEST_CA")
	}
	return d
}

func (e *rotEnv) provider(arn string, mod func(*secrets.Options)) *secrets.Provider {
	return newProvider(e.t, e.srv, arn, e.logs, mod)
}

// check fails if a password appears in s.
func (e *rotEnv) check(what, s string) {
	e.t.Helper()
	for _, p := range e.leaks {
		if strings.Contains(s, p) {
			e.t.Errorf("a password appears in %s: %s", what, s)
		}
	}
}

func currentUser(ctx context.Context, t *testing.T, db *sql.DB) string {
	t.Helper()
	var u string
	if err := db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&u); err != nil {
		t.Fatalf("query: %v", err)
	}
	return u
}

func isAuth(err error) bool { return dbconn.Classify(err) == dbconn.KindAuth }

func TestRotation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		e := newRotEnv(t, s)
		ctx := ctxT(t)
		gets := func() int { return e.srv.Calls("GetSecretValue") }
		var errs []string
		defer func() {
			for _, s := range errs {
				e.check("an error", s)
			}
			e.check("the log", e.logs.String())
		}()

		t.Run("OpenWithRotation", func(t *testing.T) {
			arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:open-AbCdEf"
			pwA := e.newPassword()
			e.setPassword(pwA)
			e.putSecret(arn, pwA, false)
			p := e.provider(arn, nil)

			db, err := secrets.OpenWithRotation(ctx, e.base(false), p, nil)
			if err != nil {
				t.Fatalf("open with A: %v", err)
			}
			if u := currentUser(ctx, t, db); !strings.HasPrefix(u, e.user+"@") {
				t.Fatalf("logged in as %q", u)
			}
			db.Close()
			if g := gets(); g != 1 {
				t.Fatalf("GetSecretValue calls = %d, want 1", g)
			}

			// Rotation: the database gets B, the secret a new version with B.
			pwB := e.newPassword()
			e.setPassword(pwB)
			e.putSecret(arn, pwB, false)

			// The cached A is refused once; one re-read brings B.
			db, err = secrets.OpenWithRotation(ctx, e.base(false), p, nil)
			if err != nil {
				t.Fatalf("open after rotation: %v", err)
			}
			currentUser(ctx, t, db)
			db.Close()
			if g := gets(); g != 2 {
				t.Fatalf("GetSecretValue calls = %d after the rotation, want 2 (exactly one re-read)", g)
			}
			// Now cached: no more calls.
			db, err = secrets.OpenWithRotation(ctx, e.base(false), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			if g := gets(); g != 2 {
				t.Fatalf("GetSecretValue calls = %d, want still 2", g)
			}
		})

		t.Run("OpenWithRotation stays wrong", func(t *testing.T) {
			arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:wrong-AbCdEf"
			e.putSecret(arn, e.newPassword(), false) // never the user's password
			p := e.provider(arn, nil)
			before := gets()
			opens := 0
			open := func(ctx context.Context, c config.DB) (*sql.DB, error) {
				opens++
				return dbconn.Open(ctx, c)
			}
			_, err := secrets.OpenWithRotation(ctx, e.base(false), p, open)
			if err == nil {
				t.Fatal("opened with a wrong password")
			}
			errs = append(errs, err.Error())
			if !isAuth(err) {
				t.Fatalf("err = %v, want an authentication error", err)
			}
			var ce *dbconn.ConnectError
			if !errors.As(err, &ce) || ce.Kind != dbconn.KindAuth {
				t.Fatalf("err = %v, want a *dbconn.ConnectError of kind auth", err)
			}
			if g := gets() - before; g != 2 {
				t.Fatalf("GetSecretValue calls = %d, want 2 (the read and one re-read)", g)
			}
			if opens != 1 {
				t.Fatalf("opened %d times, want 1 (the re-read brought the same credentials)", opens)
			}
		})

		t.Run("OpenWithRotation missing password", func(t *testing.T) {
			arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:nopw-AbCdEf"
			e.srv.Put(arn, secretJSON(t, map[string]any{"host": e.host, "port": e.port, "username": e.user}))
			_, err := secrets.OpenWithRotation(ctx, e.base(false), e.provider(arn, nil), nil)
			var fe *secrets.FieldError
			if !errors.As(err, &fe) || fe.Field != "password" || !strings.Contains(err.Error(), `secret field "password" is missing`) {
				t.Fatalf("err = %v, want one naming the password field", err)
			}
			errs = append(errs, err.Error())
		})

		t.Run("Pool", func(t *testing.T) {
			arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:pool-AbCdEf"
			pwA := e.newPassword()
			e.setPassword(pwA)
			e.putSecret(arn, pwA, true) // the CA comes from the secret too
			p := e.provider(arn, func(o *secrets.Options) { o.MinRefreshInterval = time.Nanosecond })
			base := e.base(true)
			base.MaxIdleConns = 0 // every query logs in anew
			before := gets()

			pool, err := secrets.OpenPool(ctx, base, p)
			if err != nil {
				t.Fatalf("open pool: %v", err)
			}
			defer pool.Close()
			db := pool.DB()
			currentUser(ctx, t, db)
			if g := gets() - before; g != 1 {
				t.Fatalf("GetSecretValue calls = %d, want 1", g)
			}

			// Rotation while the pool lives: the next login is refused,
			// the pool re-reads the secret once and logs in with B.
			pwB := e.newPassword()
			e.setPassword(pwB)
			e.putSecret(arn, pwB, true)
			currentUser(ctx, t, db)
			if g := gets() - before; g != 2 {
				t.Fatalf("GetSecretValue calls = %d after the rotation, want 2", g)
			}
			if pool.DB() != db {
				t.Fatal("the pool's *sql.DB changed")
			}
			if pool.Credentials().Password != pwB {
				t.Fatal("the pool does not log in with B")
			}

			// Reopen on demand.
			pwC := e.newPassword()
			e.setPassword(pwC)
			e.putSecret(arn, pwC, true)
			if err := pool.Reopen(ctx); err != nil {
				t.Fatalf("reopen: %v", err)
			}
			if g := gets() - before; g != 3 {
				t.Fatalf("GetSecretValue calls = %d after Reopen, want 3", g)
			}
			currentUser(ctx, t, db)
			if g := gets() - before; g != 3 {
				t.Fatalf("GetSecretValue calls = %d, want still 3", g)
			}

			// Many queries refused at once share one re-read.
			pwD := e.newPassword()
			e.setPassword(pwD)
			e.putSecret(arn, pwD, true)
			var wg sync.WaitGroup
			qerrs := make(chan error, 16)
			for range 16 {
				wg.Go(func() {
					var u string
					qerrs <- db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&u)
				})
			}
			wg.Wait()
			close(qerrs)
			for err := range qerrs {
				if err != nil {
					t.Errorf("concurrent query: %v", err)
				}
			}
			if g := gets() - before; g != 4 {
				t.Fatalf("GetSecretValue calls = %d after a concurrent rotation, want 4", g)
			}
		})

		t.Run("Pool stays wrong", func(t *testing.T) {
			arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:poolwrong-AbCdEf"
			pwA := e.newPassword()
			e.setPassword(pwA)
			e.putSecret(arn, pwA, false)
			p := e.provider(arn, func(o *secrets.Options) { o.MinRefreshInterval = time.Hour })
			base := e.base(false)
			base.MaxIdleConns = 0
			before := gets()
			pool, err := secrets.OpenPool(ctx, base, p)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()

			// The database moves on, the secret gets a wrong password.
			e.setPassword(e.newPassword())
			e.putSecret(arn, e.newPassword(), false)
			var u string
			err = pool.DB().QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&u)
			if !isAuth(err) {
				t.Fatalf("err = %v, want an authentication error", err)
			}
			errs = append(errs, err.Error())
			if g := gets() - before; g != 2 {
				t.Fatalf("GetSecretValue calls = %d, want 2 (one re-read)", g)
			}
			// The same again: within MinRefreshInterval, no new re-read.
			for range 3 {
				err = pool.DB().QueryRowContext(ctx, "SELECT 1").Scan(&u)
				if !isAuth(err) {
					t.Fatalf("err = %v, want an authentication error", err)
				}
			}
			if g := gets() - before; g != 2 {
				t.Fatalf("GetSecretValue calls = %d, want still 2", g)
			}
			// Reopen is explicit: it re-reads, and reports the refusal.
			err = pool.Reopen(ctx)
			var ce *dbconn.ConnectError
			if !errors.As(err, &ce) || ce.Kind != dbconn.KindAuth {
				t.Fatalf("reopen: %v, want a *dbconn.ConnectError of kind auth", err)
			}
			errs = append(errs, err.Error())
			if g := gets() - before; g != 3 {
				t.Fatalf("GetSecretValue calls = %d, want 3", g)
			}
		})

		t.Run("OpenPool stays wrong", func(t *testing.T) {
			arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:openpoolwrong-AbCdEf"
			e.putSecret(arn, e.newPassword(), false)
			before := gets()
			_, err := secrets.OpenPool(ctx, e.base(false), e.provider(arn, nil))
			var ce *dbconn.ConnectError
			if !errors.As(err, &ce) || ce.Kind != dbconn.KindAuth {
				t.Fatalf("err = %v, want a *dbconn.ConnectError of kind auth", err)
			}
			errs = append(errs, err.Error())
			if g := gets() - before; g != 2 {
				t.Fatalf("GetSecretValue calls = %d, want 2", g)
			}
		})

		if !strings.Contains(e.logs.String(), "re-reading the secret once") {
			t.Errorf("the log does not record the re-reads:\n%s", e.logs.String())
		}
	})
}
