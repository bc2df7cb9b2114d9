package secrets_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/secrets"
)

// A throwaway self-signed certificate: Parse only checks the PEM framing.
const testCA = `-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUQk3d5o9cQk7dM4bqXqg0r0cE0xgwCgYIKoZIzj0EAwIw
ETEPMA0GA1UEAwwGdGVzdGNhMB4XDTI0MDEwMTAwMDAwMFoXDTM0MDEwMTAwMDAw
MFowETEPMA0GA1UEAwwGdGVzdGNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
-----END CERTIFICATE-----
`

const pw = "s3cr3t-P@ss\"word" // distinctive, so a leak is easy to spot

func secretJSON(t *testing.T, fields map[string]any) string {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func full() map[string]any {
	return map[string]any{
		"engine": "mysql", "host": "gateway01.example.com", "port": 4000,
		"username": "app.root", "password": pw, "dbname": "nectar",
	}
}

func with(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	return m
}

func without(m map[string]any, k string) map[string]any {
	delete(m, k)
	return m
}

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		want   secrets.Credentials
		field  string // the *FieldError's field, when an error is expected
		notObj bool   // ErrNotJSON expected
	}{
		{name: "full", secret: secretJSON(t, full()),
			want: secrets.Credentials{Engine: "mysql", Host: "gateway01.example.com", Port: 4000, Username: "app.root", Password: pw, DBName: "nectar"}},
		{name: "port as string", secret: secretJSON(t, with(full(), "port", "4001")),
			want: secrets.Credentials{Engine: "mysql", Host: "gateway01.example.com", Port: 4001, Username: "app.root", Password: pw, DBName: "nectar"}},
		{name: "extra keys ignored", secret: secretJSON(t, with(with(full(), "dbInstanceIdentifier", "x"), "proxy", map[string]any{"a": 1})),
			want: secrets.Credentials{Engine: "mysql", Host: "gateway01.example.com", Port: 4000, Username: "app.root", Password: pw, DBName: "nectar"}},
		{name: "only username and password", secret: secretJSON(t, map[string]any{"username": "u", "password": pw}),
			want: secrets.Credentials{Username: "u", Password: pw}},
		{name: "null optional fields", secret: `{"username":"u","password":"p","host":null,"port":null,"dbname":null,"ssl_ca":null}`,
			want: secrets.Credentials{Username: "u", Password: "p"}},
		{name: "with CA", secret: secretJSON(t, with(full(), "ssl_ca", testCA)),
			want: secrets.Credentials{Engine: "mysql", Host: "gateway01.example.com", Port: 4000, Username: "app.root", Password: pw, DBName: "nectar", SSLCA: testCA}},

		{name: "missing password", secret: secretJSON(t, without(full(), "password")), field: "password"},
		{name: "missing username", secret: secretJSON(t, without(full(), "username")), field: "username"},
		{name: "null password", secret: secretJSON(t, with(full(), "password", nil)), field: "password"},
		{name: "empty password", secret: secretJSON(t, with(full(), "password", "")), field: "password"},
		{name: "empty username", secret: secretJSON(t, with(full(), "username", "")), field: "username"},
		{name: "password a number", secret: secretJSON(t, with(full(), "password", 1234)), field: "password"},
		{name: "host an array", secret: secretJSON(t, with(full(), "host", []string{"a"})), field: "host"},
		{name: "port zero", secret: secretJSON(t, with(full(), "port", 0)), field: "port"},
		{name: "port too big", secret: secretJSON(t, with(full(), "port", 70000)), field: "port"},
		{name: "port not a number", secret: secretJSON(t, with(full(), "port", "tidb")), field: "port"},
		{name: "port fractional", secret: secretJSON(t, with(full(), "port", 4000.5)), field: "port"},
		{name: "port a boolean", secret: secretJSON(t, with(full(), "port", true)), field: "port"},
		{name: "dbname too long", secret: secretJSON(t, with(full(), "dbname", strings.Repeat("d", 65))), field: "dbname"},
		{name: "CA not PEM", secret: secretJSON(t, with(full(), "ssl_ca", "not a certificate "+pw)), field: "ssl_ca"},

		{name: "empty", secret: "", notObj: true},
		{name: "not JSON", secret: "password=" + pw, notObj: true},
		{name: "JSON array", secret: `["` + pw + `"]`, notObj: true},
		{name: "JSON null", secret: `null`, notObj: true},
		{name: "truncated", secret: `{"username":"u","password":"` + pw, notObj: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secrets.Parse(tt.secret)
			switch {
			case tt.notObj:
				if !errors.Is(err, secrets.ErrNotJSON) {
					t.Fatalf("err = %v, want ErrNotJSON", err)
				}
			case tt.field != "":
				var fe *secrets.FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Fatalf("err = %v, want a FieldError for %q", err, tt.field)
				}
				if !strings.Contains(err.Error(), `secret field "`+tt.field+`"`) {
					t.Errorf("error %q does not name the field", err)
				}
			default:
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got != tt.want {
					t.Fatalf("got %+v, want %+v", got, tt.want) // masked by Format
				}
				if got.Password != tt.want.Password {
					t.Fatal("password differs")
				}
			}
			if err != nil {
				noSecret(t, err.Error(), pw)
			}
		})
	}
}

func TestParseMissingPasswordMessage(t *testing.T) {
	_, err := secrets.Parse(`{"host":"h","username":"u"}`)
	if err == nil || err.Error() != `secret field "password" is missing` {
		t.Fatalf("err = %v", err)
	}
}

// noSecret fails when s contains any of the secret values.
func noSecret(t *testing.T, s string, values ...string) {
	t.Helper()
	for _, v := range values {
		if v != "" && strings.Contains(s, v) {
			t.Errorf("a secret appears in %q", s)
		}
	}
}

func TestCredentialsNeverPrintPassword(t *testing.T) {
	c := secrets.Credentials{Host: "h", Port: 4000, Username: "u", Password: pw, DBName: "d", SSLCA: testCA}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		s := fmt.Sprintf(verb, c)
		noSecret(t, s, pw)
		if verb != "%x" && !strings.Contains(s, config.Mask) {
			t.Errorf("%s: %q shows no mask", verb, s)
		}
	}
	noSecret(t, fmt.Sprint(c), pw)
	noSecret(t, fmt.Sprintf("%v", &c), pw)
	noSecret(t, fmt.Sprintf("%+v", struct{ C secrets.Credentials }{c}), pw)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	noSecret(t, string(b), pw)

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("creds", "creds", c)
	}
	noSecret(t, buf.String(), pw)
	if !strings.Contains(buf.String(), `"username":"u"`) || !strings.Contains(buf.String(), "creds.username=u") {
		t.Errorf("log lacks the user name: %s", buf.String())
	}
}

func baseDB() config.DB {
	d := config.Default().DB
	d.Host = "from-config.example.com"
	d.Port = 4001
	d.User = "config-user"
	d.Password = "config-password"
	d.Database = "config_db"
	return d
}

func TestApply(t *testing.T) {
	c := secrets.Credentials{Host: "secret-host", Port: 4002, Username: "secret-user", Password: pw, DBName: "secret_db"}
	got, err := c.Apply(baseDB())
	if err != nil {
		t.Fatal(err)
	}
	if got.Host != "secret-host" || got.Port != 4002 || got.User != "secret-user" || got.Password != pw || got.Database != "secret_db" {
		t.Fatalf("got %+v", got)
	}
	if got.SSLMode != config.SSLVerifyIdentity || got.SSLCA != "" {
		t.Fatalf("TLS changed: %+v", got)
	}

	// A secret with credentials only: the configuration gives the rest.
	c = secrets.Credentials{Username: "secret-user", Password: pw}
	if got, err = c.Apply(baseDB()); err != nil {
		t.Fatal(err)
	}
	if got.Host != "from-config.example.com" || got.Port != 4001 || got.User != "secret-user" || got.Password != pw || got.Database != "config_db" {
		t.Fatalf("got %+v", got)
	}

	// ... but somebody must say where the server is.
	nohost := baseDB()
	nohost.Host = ""
	_, err = c.Apply(nohost)
	var fe *secrets.FieldError
	if !errors.As(err, &fe) || fe.Field != "host" {
		t.Fatalf("err = %v, want a FieldError for host", err)
	}

	// A secret host replaces a DSN.
	dsn := baseDB()
	dsn.Host = ""
	dsn.DSN = "u:p@tcp(127.0.0.1:4000)/x"
	c.Host = "secret-host"
	if got, err = c.Apply(dsn); err != nil || got.DSN != "" || got.Host != "secret-host" {
		t.Fatalf("got %+v, %v", got, err)
	}

	// Credentials never built by Parse are still checked.
	if _, err := (secrets.Credentials{Username: "u"}).Apply(baseDB()); !errors.As(err, &fe) || fe.Field != "password" {
		t.Fatalf("err = %v, want a FieldError for password", err)
	}
}

func TestApplyCA(t *testing.T) {
	dir := t.TempDir()
	c := secrets.Credentials{Host: "h", Username: "u", Password: pw, SSLCA: testCA}

	got, err := c.ApplyCADir(baseDB(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(got.SSLCA) != dir {
		t.Fatalf("CA file %q not in %q", got.SSLCA, dir)
	}
	st, err := os.Stat(got.SSLCA)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("CA file mode %v, want 0600", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(got.SSLCA); string(b) != testCA {
		t.Errorf("CA file holds %q", b)
	}

	// The same CA again: the same file, no new one.
	again, err := c.ApplyCADir(baseDB(), dir)
	if err != nil || again.SSLCA != got.SSLCA {
		t.Fatalf("second apply: %q, %v; want %q", again.SSLCA, err, got.SSLCA)
	}
	if n, _ := filepath.Glob(filepath.Join(dir, "*")); len(n) != 1 {
		t.Errorf("files in the CA dir: %v", n)
	}

	// Removed behind our back: written anew.
	os.Remove(got.SSLCA)
	again, err = c.ApplyCADir(baseDB(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(again.SSLCA); err != nil {
		t.Fatalf("CA file not rewritten: %v", err)
	}

	// A different CA: another file.
	other := c
	other.SSLCA = testCA + testCA
	o, err := other.ApplyCADir(baseDB(), dir)
	if err != nil || o.SSLCA == again.SSLCA {
		t.Fatalf("other CA: %q, %v", o.SSLCA, err)
	}

	// The configuration's own CA wins.
	named := baseDB()
	named.SSLCA = "/etc/nectar/ca.pem"
	if got, _ := c.ApplyCADir(named, dir); got.SSLCA != "/etc/nectar/ca.pem" {
		t.Errorf("SSLCA = %q, want the configured one", got.SSLCA)
	}

	// Modes that do not verify the server get no CA.
	for _, mode := range []config.SSLMode{config.SSLDisabled, config.SSLRequired} {
		d := baseDB()
		d.SSLMode = mode
		if got, _ := c.ApplyCADir(d, dir); got.SSLCA != "" {
			t.Errorf("%s: SSLCA = %q, want none", mode, got.SSLCA)
		}
	}

	// The default directory is os.TempDir().
	t.Setenv("TMPDIR", t.TempDir())
	def, err := c.Apply(baseDB())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(def.SSLCA) != os.TempDir() {
		t.Errorf("CA file %q not in os.TempDir() %q", def.SSLCA, os.TempDir())
	}
}
