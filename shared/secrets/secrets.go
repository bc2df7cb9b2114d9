// Package secrets reads Nectar's database credentials from AWS Secrets
// Manager and keeps database connections working across secret rotation.
//
// The secret is a JSON object in the shape TiDB Cloud and RDS use:
//
//	{"engine": "mysql", "host": "gateway01.eu-central-1.prod.aws.tidbcloud.com",
//	 "port": 4000, "username": "xxx.root", "password": "...", "dbname": "nectar",
//	 "ssl_ca": "-----BEGIN CERTIFICATE-----\n..."}
//
// username and password are required; host, port, dbname and ssl_ca are
// optional (the configuration supplies what the secret leaves out); port
// may be a number or a string; unknown keys are ignored.
//
// A Provider fetches the secret through aws-secretsmanager-caching-go, so a
// Lambda container reads it once and then at most once per TTL, and can
// force a fresh read after a rotation. OpenWithRotation and Pool use it:
// when a login fails with an authentication error (MySQL 1045/1044), they
// re-read the secret once and try again with what it holds now, and fail if
// that does not work either.
//
// Secrets never reach a log: Credentials print, format, marshal and log
// with the password masked, and no error of this package quotes a password
// or the secret's text.
package secrets

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/nectar-indexer/nectar/shared/config"
)

// Credentials are the database credentials a secret holds.
type Credentials struct {
	Engine   string // informational ("mysql", "tidb"); not used
	Host     string // empty: the configuration's db.host
	Port     int    // 0: the configuration's db.port
	Username string
	Password string
	DBName   string // empty: the configuration's db.database
	// SSLCA is a PEM CA bundle to verify the server with; empty: the
	// configuration's db.ssl_ca or the system roots.
	SSLCA string
}

// Parse reads a secret string. Its errors name the field (a *FieldError) or
// are ErrNotJSON; they never quote the secret.
func Parse(secretString string) (Credentials, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(secretString), &fields); err != nil || fields == nil {
		return Credentials{}, ErrNotJSON
	}
	var c Credentials
	str := func(key string, dst *string, required bool) error {
		raw, ok := fields[key]
		if !ok || isNull(raw) {
			if required {
				return missing(key)
			}
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return &FieldError{Field: key, Problem: "must be a string, not " + jsonKind(raw)}
		}
		if required && *dst == "" {
			return &FieldError{Field: key, Problem: "is empty"}
		}
		return nil
	}
	for _, f := range []struct {
		key      string
		dst      *string
		required bool
	}{
		{"engine", &c.Engine, false},
		{"host", &c.Host, false},
		{"username", &c.Username, true},
		{"password", &c.Password, true},
		{"dbname", &c.DBName, false},
		{"ssl_ca", &c.SSLCA, false},
	} {
		if err := str(f.key, f.dst, f.required); err != nil {
			return Credentials{}, err
		}
	}
	if raw, ok := fields["port"]; ok && !isNull(raw) {
		p, err := parsePort(raw)
		if err != nil {
			return Credentials{}, err
		}
		c.Port = p
	}
	if len(c.DBName) > 64 {
		return Credentials{}, &FieldError{Field: "dbname", Problem: "is longer than 64 characters"}
	}
	if c.SSLCA != "" && !hasCertificate([]byte(c.SSLCA)) {
		return Credentials{}, &FieldError{Field: "ssl_ca", Problem: "holds no PEM certificate"}
	}
	return c, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// jsonKind names the JSON type of raw without quoting it.
func jsonKind(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// parsePort accepts 4000 and "4000". A port is not secret, so a bad one is
// quoted (shortened) in the error.
func parsePort(raw json.RawMessage) (int, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return 0, &FieldError{Field: "port", Problem: "must be a number or a string, not " + jsonKind(raw)}
		}
		s = n.String()
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		if len(s) > 16 {
			s = s[:16] + "..."
		}
		return 0, &FieldError{Field: "port", Problem: fmt.Sprintf("is not a port (1-65535): %q", s)}
	}
	return p, nil
}

func hasCertificate(b []byte) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == "CERTIFICATE" {
			return true
		}
	}
}

// Apply returns db with the secret's credentials in it; a CA the secret
// carries is written to a private file in os.TempDir(). See ApplyCADir.
func (c Credentials) Apply(db config.DB) (config.DB, error) { return c.ApplyCADir(db, "") }

// ApplyCADir returns db with the secret's credentials in it. The secret
// wins: User and Password always come from it, and Host, Port and Database
// whenever it has them. A secret with a host replaces a db.dsn (the DSN's
// address, user and database would all be overridden anyway).
//
// When the secret carries ssl_ca and db names no ssl_ca, the CA is written to
// a file of its own (mode 0600, one per distinct CA content and directory,
// made once per process) in dir, or os.TempDir() when dir is empty, and
// db.SSLCA names it. This only happens for the modes that verify the server
// (VERIFY_CA, VERIFY_IDENTITY): the other modes have no use for a CA.
func (c Credentials) ApplyCADir(db config.DB, dir string) (config.DB, error) {
	if c.Username == "" {
		return db, missing("username")
	}
	if c.Password == "" {
		return db, missing("password")
	}
	if c.Host != "" {
		db.Host = c.Host
		db.DSN = ""
	} else if db.Host == "" && db.DSN == "" {
		return db, &FieldError{Field: "host", Problem: "is missing, and the configuration has no db.host or db.dsn either"}
	}
	if c.Port != 0 {
		db.Port = c.Port
	}
	db.User = c.Username
	db.Password = c.Password
	if c.DBName != "" {
		db.Database = c.DBName
	}
	if c.SSLCA != "" && db.SSLCA == "" &&
		(db.SSLMode == config.SSLVerifyCA || db.SSLMode == config.SSLVerifyIdentity) {
		path, err := caFile(dir, c.SSLCA)
		if err != nil {
			return db, fmt.Errorf("write the secret's ssl_ca: %w", err)
		}
		db.SSLCA = path
	}
	return db, nil
}

// same reports whether c and o log in the same way.
func (c Credentials) same(o Credentials) bool { return c == o }

// Printing Credentials always masks the password and shortens the CA.

func (c Credentials) redacted() map[string]any {
	m := map[string]any{"host": c.Host, "port": c.Port, "username": c.Username, "dbname": c.DBName}
	if c.Engine != "" {
		m["engine"] = c.Engine
	}
	if c.Password != "" {
		m["password"] = config.Mask
	}
	if c.SSLCA != "" {
		m["ssl_ca"] = fmt.Sprintf("(PEM, %d bytes)", len(c.SSLCA))
	}
	return m
}

// String prints the credentials with the password masked.
func (c Credentials) String() string {
	pw := ""
	if c.Password != "" {
		pw = config.Mask
	}
	ca := ""
	if c.SSLCA != "" {
		ca = fmt.Sprintf("(PEM, %d bytes)", len(c.SSLCA))
	}
	return fmt.Sprintf("{Engine:%s Host:%s Port:%d Username:%s Password:%s DBName:%s SSLCA:%s}",
		c.Engine, c.Host, c.Port, c.Username, pw, c.DBName, ca)
}

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, ...) print String.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", c.String())
		return
	}
	fmt.Fprint(f, c.String())
}

// LogValue makes log/slog log the credentials with the password masked.
func (c Credentials) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("host", c.Host), slog.Int("port", c.Port),
		slog.String("username", c.Username), slog.String("dbname", c.DBName),
	}
	if c.Password != "" {
		attrs = append(attrs, slog.String("password", config.Mask))
	}
	if c.SSLCA != "" {
		attrs = append(attrs, slog.Int("ssl_ca_bytes", len(c.SSLCA)))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON writes the credentials with the password masked.
func (c Credentials) MarshalJSON() ([]byte, error) { return json.Marshal(c.redacted()) }

var (
	_ fmt.Stringer   = Credentials{}
	_ fmt.Formatter  = Credentials{}
	_ slog.LogValuer = Credentials{}
	_ json.Marshaler = Credentials{}
)
