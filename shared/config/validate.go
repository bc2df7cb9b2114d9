package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/batch"
)

// FieldError is a problem with one field, named by its TOML path.
type FieldError struct {
	Field string // e.g. "db.ssl_mode"
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Fields returns the fields named by the *FieldError values in err (as
// returned by Validate), in order.
func Fields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe.Field)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// Validate checks what every Nectar binary uses: the network, the database,
// the batch limits and logging. The Lambda functions call it; the follower
// calls ValidateFollower, which includes it. All problems are returned at
// once, each a *FieldError.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Network {
	case Mainnet, Preprod, Preview:
	case "":
		add(fieldErr("network", "required: mainnet, preprod or preview, or a name with genesis_file"))
	default:
		if c.GenesisFile == "" {
			add(fieldErr("network", "%q has no shipped constants: give genesis_file, or use mainnet, preprod or preview", c.Network))
		}
	}
	if c.GenesisFile != "" {
		add(checkFile("genesis_file", c.GenesisFile))
	} else if c.ByronEpochs != 0 {
		add(fieldErr("byron_epochs", "only applies with genesis_file"))
	}
	add(c.DB.Validate())
	add(c.Batch.validate())
	add(c.Ingest.validate())
	add(c.Log.validate())
	return errors.Join(errs...)
}

// ValidateFollower is Validate plus the follower's own sections: its block
// source, sink, queues, backoff and HTTP listener.
func (c *Config) ValidateFollower() error {
	errs := []error{c.Validate(), c.Follower.validate()}
	if c.Follower.Sink == SinkSQS {
		errs = append(errs, c.SQS.validate())
	}
	if !c.HTTP.Off() {
		errs = append(errs, checkHostPort("http.addr", c.HTTP.Addr))
	}
	return errors.Join(errs...)
}

// Validate checks the database section; its errors name fields "db.*".
// dbconn calls it before building a connection.
func (d DB) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if !d.SSLMode.Valid() {
		add(fieldErr("db.ssl_mode", "%q is not one of DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY", string(d.SSLMode)))
	}

	// Where the server is: Host (and Port), or DSN, or later the secret.
	host := d.Host
	switch {
	case d.DSN != "" && d.Host != "":
		add(fieldErr("db.dsn", "give db.dsn or db.host, not both"))
	case d.DSN != "":
		cfg, err := ParseDSN(d.DSN)
		if err != nil {
			add(&FieldError{Field: "db.dsn", Err: err})
			break
		}
		if cfg.TLSConfig != "" {
			add(fieldErr("db.dsn", "has a tls parameter: remove it, TLS is set by db.ssl_mode"))
		}
		if cfg.AllowFallbackToPlaintext {
			add(fieldErr("db.dsn", "has allowFallbackToPlaintext: remove it, TLS is set by db.ssl_mode"))
		}
		host = cfg.Addr
		if cfg.Net == "unix" {
			host = "/" + strings.TrimPrefix(cfg.Addr, "/")
		} else if h, _, err := net.SplitHostPort(cfg.Addr); err == nil {
			host = h
		}
		if cfg.User == "" && d.User == "" && d.SecretARN == "" {
			add(fieldErr("db.user", "required (in db.dsn or db.user)"))
		}
	case d.Host == "" && d.SecretARN == "":
		add(fieldErr("db.host", "required (or db.dsn, or db.secret_arn)"))
	default:
		if d.User == "" && d.SecretARN == "" {
			add(fieldErr("db.user", "required"))
		}
	}
	if d.DSN == "" && !strings.HasPrefix(d.Host, "/") && (d.Port < 1 || d.Port > 65535) {
		add(fieldErr("db.port", "%d is not a port (1-65535)", d.Port))
	}
	if d.DSN == "" && d.Database == "" {
		add(fieldErr("db.database", "required"))
	}
	if len(d.Database) > 64 {
		add(fieldErr("db.database", "longer than 64 characters"))
	}

	// TLS.
	if d.SSLMode == SSLDisabled {
		if !IsLoopback(host) {
			shown := host
			if shown == "" {
				shown = "(not set)"
			}
			add(fieldErr("db.ssl_mode", "DISABLED sends the password and data in plaintext and is allowed only to a loopback host (127.0.0.0/8, ::1, localhost or a unix socket), not %s", shown))
		}
		for _, f := range []struct{ name, v string }{{"db.ssl_ca", d.SSLCA}, {"db.ssl_cert", d.SSLCert}, {"db.ssl_key", d.SSLKey}} {
			if f.v != "" {
				add(fieldErr(f.name, "given, but db.ssl_mode is DISABLED"))
			}
		}
	}
	if d.SSLMode == SSLRequired && d.SSLCA != "" {
		add(fieldErr("db.ssl_ca", "given, but db.ssl_mode REQUIRED does not verify the server: use VERIFY_CA or VERIFY_IDENTITY"))
	}
	if (d.SSLCert == "") != (d.SSLKey == "") {
		if d.SSLCert == "" {
			add(fieldErr("db.ssl_cert", "required with db.ssl_key"))
		} else {
			add(fieldErr("db.ssl_key", "required with db.ssl_cert"))
		}
	}
	for _, f := range []struct{ name, path string }{{"db.ssl_ca", d.SSLCA}, {"db.ssl_cert", d.SSLCert}, {"db.ssl_key", d.SSLKey}} {
		if f.path != "" {
			add(checkFile(f.name, f.path))
		}
	}
	if d.ServerName != "" && strings.ContainsAny(d.ServerName, " /:") {
		add(fieldErr("db.server_name", "%q is not a host name", d.ServerName))
	}

	// Pool.
	if d.MaxOpenConns < 1 {
		add(fieldErr("db.max_open_conns", "%d: must be at least 1", d.MaxOpenConns))
	}
	if d.MaxIdleConns < 0 || d.MaxIdleConns > max(d.MaxOpenConns, 1) {
		add(fieldErr("db.max_idle_conns", "%d: must be between 0 and db.max_open_conns (%d)", d.MaxIdleConns, d.MaxOpenConns))
	}
	if d.ConnMaxLifetime <= 0 || d.ConnMaxLifetime >= MaxConnMaxLifetime {
		add(fieldErr("db.conn_max_lifetime", "%s: must be above 0 and under %s (TiDB Serverless closes connections at 30m)", d.ConnMaxLifetime, MaxConnMaxLifetime))
	}
	if d.ConnMaxIdleTime < 0 {
		add(fieldErr("db.conn_max_idle_time", "%s: negative", d.ConnMaxIdleTime))
	}
	if d.Timeout <= 0 {
		add(fieldErr("db.timeout", "%s: must be above 0", d.Timeout))
	}
	if d.ReadTimeout < 0 {
		add(fieldErr("db.read_timeout", "%s: negative", d.ReadTimeout))
	}
	if d.WriteTimeout < 0 {
		add(fieldErr("db.write_timeout", "%s: negative", d.WriteTimeout))
	}
	return errors.Join(errs...)
}

// ParseDSN parses a go-sql-driver/mysql DSN. Its error never quotes the DSN
// or the parser's message, which may hold the password.
func ParseDSN(dsn string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, errors.New("not a valid DSN of the form [user[:password]@][net[(addr)]]/dbname[?param=value] (the parser's message is withheld: it may quote the password)")
	}
	return cfg, nil
}

// IsLoopback reports whether host (no port) is certainly this machine: an
// address in 127.0.0.0/8 or ::1 (also bracketed or IPv4-mapped),
// "localhost", or a unix socket path (starting with "/"). Other names are
// not resolved: a name could resolve elsewhere.
func IsLoopback(host string) bool {
	if strings.HasPrefix(host, "/") {
		return true
	}
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (f Follower) validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case f.NodeSocket == "" && f.NodeAddress == "" && f.ChunkDir == "":
		add(fieldErr("follower.node_socket", "the follower needs a block source: follower.node_socket, follower.node_address or follower.chunk_dir"))
	case f.NodeSocket != "" && f.NodeAddress != "":
		add(fieldErr("follower.node_address", "give follower.node_socket or follower.node_address, not both"))
	}
	if f.CreateIndexes != CreateIndexesAtTip && f.CreateIndexes != CreateIndexesOff {
		add(fieldErr("follower.create_indexes", "%q: want %s or %s", f.CreateIndexes, CreateIndexesAtTip, CreateIndexesOff))
	}
	// The socket is not required to exist yet: the follower waits for the node.
	if f.NodeAddress != "" {
		add(checkHostPort("follower.node_address", f.NodeAddress))
	}
	if f.ChunkDir != "" {
		if st, err := os.Stat(f.ChunkDir); err != nil {
			add(&FieldError{Field: "follower.chunk_dir", Err: err})
		} else if !st.IsDir() {
			add(fieldErr("follower.chunk_dir", "%s is not a directory", f.ChunkDir))
		}
	}
	if f.StartHash != "" {
		if b, err := hex.DecodeString(f.StartHash); err != nil || len(b) != 32 {
			add(fieldErr("follower.start_hash", "%q is not a block hash (64 hex digits)", f.StartHash))
		}
	} else if f.StartSlot != 0 {
		add(fieldErr("follower.start_hash", "required with follower.start_slot"))
	}
	switch f.Sink {
	case SinkSQS, SinkLocal:
	default:
		add(fieldErr("follower.sink", "%q is not one of sqs, local", f.Sink))
	}
	if f.MaxInFlight < 1 {
		add(fieldErr("follower.max_in_flight", "%d: must be at least 1", f.MaxInFlight))
	}
	if f.ReconnectMin <= 0 {
		add(fieldErr("follower.reconnect_min", "%s: must be above 0", f.ReconnectMin))
	}
	if f.ReconnectMax < f.ReconnectMin {
		add(fieldErr("follower.reconnect_max", "%s: must be at least follower.reconnect_min (%s)", f.ReconnectMax, f.ReconnectMin))
	}
	if f.ShutdownTimeout <= 0 {
		add(fieldErr("follower.shutdown_timeout", "%s: must be above 0", f.ShutdownTimeout))
	}
	if f.CursorPoints < 1 {
		add(fieldErr("follower.cursor_points", "%d: must be at least 1", f.CursorPoints))
	}
	return errors.Join(errs...)
}

// base64Len is the length of s bytes in padded base64.
func base64Len(n ByteSize) ByteSize { return (n + 2) / 3 * 4 }

func (b Batch) validate() error {
	var errs []error
	if b.MaxMessageBytes < MinMessageBytes || b.MaxMessageBytes > MaxMessageBytes {
		errs = append(errs, fieldErr("batch.max_message_bytes", "%s: must be between %s and %s", b.MaxMessageBytes, ByteSize(MinMessageBytes), ByteSize(MaxMessageBytes)))
	}
	switch {
	case b.MaxBytes <= 0:
		errs = append(errs, fieldErr("batch.max_bytes", "%s: must be above 0", b.MaxBytes))
	case b.MaxBytes > b.MaxMessageBytes:
		errs = append(errs, fieldErr("batch.max_bytes", "%s: must not exceed batch.max_message_bytes (%s)", b.MaxBytes, b.MaxMessageBytes))
	case base64Len(b.MaxBytes) > b.MaxMessageBytes:
		errs = append(errs, fieldErr("batch.max_bytes", "%s: base64 makes it %d bytes, over batch.max_message_bytes (%s); at most %d", b.MaxBytes, int64(base64Len(b.MaxBytes)), b.MaxMessageBytes, int64(b.MaxMessageBytes/4*3)))
	}
	if b.MaxBlocks < 1 || b.MaxBlocks > batch.DefaultMaxBlocks {
		errs = append(errs, fieldErr("batch.max_blocks", "%d: must be between 1 and %d (the envelope decoder's limit)", b.MaxBlocks, batch.DefaultMaxBlocks))
	}
	if b.MaxWait <= 0 {
		errs = append(errs, fieldErr("batch.max_wait", "%s: must be above 0", b.MaxWait))
	}
	return errors.Join(errs...)
}

func (i Ingest) validate() error {
	var errs []error
	if i.HistoryTxnBytes < 0 || i.HistoryTxnBytes > MaxIngestTxnBytes {
		errs = append(errs, fieldErr("ingest.history_txn_bytes", "%s: must be between 0 and %s", i.HistoryTxnBytes, ByteSize(MaxIngestTxnBytes)))
	}
	switch {
	case i.MaxTxnBytes <= 0 || i.MaxTxnBytes > MaxIngestTxnBytes:
		errs = append(errs, fieldErr("ingest.max_txn_bytes", "%s: must be above 0 and at most %s", i.MaxTxnBytes, ByteSize(MaxIngestTxnBytes)))
	case i.MaxTxnBytes < i.HistoryTxnBytes:
		errs = append(errs, fieldErr("ingest.max_txn_bytes", "%s: must not be below ingest.history_txn_bytes (%s)", i.MaxTxnBytes, i.HistoryTxnBytes))
	}
	return errors.Join(errs...)
}

func (s SQS) validate() error {
	var errs []error
	if s.Region == "" {
		errs = append(errs, fieldErr("sqs.region", "required with follower.sink sqs"))
	}
	if s.Endpoint != "" {
		if err := checkURL(s.Endpoint); err != nil {
			errs = append(errs, &FieldError{Field: "sqs.endpoint", Err: err})
		}
	}
	for _, q := range []struct{ name, url string }{{"sqs.history_queue_url", s.HistoryQueueURL}, {"sqs.tip_queue_url", s.TipQueueURL}} {
		if q.url == "" {
			errs = append(errs, fieldErr(q.name, "required with follower.sink sqs"))
		} else if err := checkURL(q.url); err != nil {
			errs = append(errs, &FieldError{Field: q.name, Err: err})
		}
	}
	if s.TipQueueURL != "" && !strings.HasSuffix(s.TipQueueURL, ".fifo") {
		errs = append(errs, fieldErr("sqs.tip_queue_url", "must be a FIFO queue (name ending in .fifo): near-tip batches and rollbacks are applied in order"))
	}
	return errors.Join(errs...)
}

func (l Log) validate() error {
	var errs []error
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.Level)); err != nil {
		errs = append(errs, fieldErr("log.level", "%q is not one of debug, info, warn, error", l.Level))
	}
	if l.Format != LogJSON && l.Format != LogText {
		errs = append(errs, fieldErr("log.format", "%q is not one of json, text", l.Format))
	}
	return errors.Join(errs...)
}

func checkFile(field, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return &FieldError{Field: field, Err: err}
	}
	if st.IsDir() {
		return fieldErr(field, "%s is a directory, not a file", path)
	}
	return nil
}

func checkHostPort(field, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fieldErr(field, "%q is not host:port", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fieldErr(field, "%q: port %q is not a port number", addr, port)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}
