// Package config is the one configuration of every Nectar binary: the
// follower, the Lambda functions and the operations commands all load the
// same Config, each validating the parts it uses.
//
// # Precedence
//
// Load fills a Config from four sources; each later source overrides the
// earlier ones, field by field:
//
//  1. defaults: the exported Default* constants (Default returns them; the SQS
//     region defaults to $AWS_REGION, else us-east-1);
//  2. the TOML file named by --config, or else by $NECTAR_CONFIG (no file when
//     neither is set; a named file that cannot be read is an error, and so is a
//     key the file does not know);
//  3. the environment: NECTAR_<SECTION>_<FIELD>, e.g. NECTAR_DB_HOST,
//     NECTAR_DB_SSL_MODE, or NECTAR_<FIELD> for top-level fields
//     (NECTAR_NETWORK). An empty variable counts as unset;
//  4. command-line flags: --<section>-<field>, e.g. --db-host, --db-ssl-mode,
//     --network. Only flags given on the command line override.
//
// The TOML keys are the snake_case field names inside a table per section:
//
//	network = "preview"
//	[db]
//	host     = "gateway01.eu-central-1.prod.aws.tidbcloud.com"
//	ssl_mode = "VERIFY_IDENTITY"
//	[batch]
//	max_bytes = "180KiB"   # or a plain number of bytes
//
// Durations are Go durations ("5m", "1m30s"); sizes are bytes, optionally
// with a KiB, MiB or GiB suffix. `--help` lists every option with its
// default and its environment variable.
//
// # Validation
//
// Load does not validate: a binary calls the validation for what it uses.
// Validate checks what every binary shares (network, database, batch limits,
// logging) and is what the Lambda functions call; ValidateFollower adds the
// follower's own sections (node source, sink and queues, HTTP listener).
// Every error names its field by its TOML path ("db.ssl_mode: ..."), and all
// problems are reported at once (errors.Join of *FieldError).
//
// # Secrets
//
// DB.Password and the password inside DB.DSN never leave the process through
// this package: String, every fmt verb, JSON and slog print them masked (see
// Redacted). They belong in the environment, a local file or Secrets Manager
// (DB.SecretARN), never in a committed config.
package config

import (
	"time"
)

// Networks with shipped constants. Any other network needs a GenesisFile.
const (
	Mainnet = "mainnet"
	Preprod = "preprod"
	Preview = "preview"
)

// Defaults.
const (
	DefaultNetwork = Preview

	DefaultDBPort     = 4000 // TiDB's MySQL-protocol port
	DefaultDBDatabase = "nectar"
	DefaultSSLMode    = SSLVerifyIdentity
	// DefaultMaxOpenConns is the pool size per process. In Lambda it is per
	// container, so the database sees at most this many connections times the
	// event source's maximum concurrency.
	DefaultMaxOpenConns = 4
	DefaultMaxIdleConns = 4
	// DefaultConnMaxLifetime is well under MaxConnMaxLifetime.
	DefaultConnMaxLifetime = 5 * time.Minute
	// MaxConnMaxLifetime is an exclusive upper bound: TiDB Cloud Serverless
	// closes every connection after 30 minutes, and a pool that keeps one
	// longer hands out a dead connection.
	MaxConnMaxLifetime     = 30 * time.Minute
	DefaultConnMaxIdleTime = time.Minute
	DefaultDBTimeout       = 10 * time.Second // dial
	DefaultDBReadTimeout   = 60 * time.Second
	DefaultDBWriteTimeout  = 60 * time.Second

	SinkLocal = "local" // ingest in-process, one machine
	SinkSQS   = "sqs"   // publish to the SQS queues for the Lambda functions

	// follower.create_indexes: build the query indexes when the follower
	// first reaches its node's tip, or leave them to `nectar indexes create`.
	CreateIndexesAtTip = "tip"
	CreateIndexesOff   = "off"

	DefaultSink            = SinkLocal
	DefaultCreateIndexes   = CreateIndexesAtTip
	DefaultMaxInFlight     = 8
	DefaultReconnectMin    = time.Second
	DefaultReconnectMax    = 30 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultCursorPoints    = 20

	// SQSMessageBytes is SQS's default maximum message size (256 KiB) and
	// MaxMessageBytes the largest a queue can be configured to accept (1 MiB).
	SQSMessageBytes = 256 << 10
	MaxMessageBytes = 1 << 20
	MinMessageBytes = 1 << 10 // the smallest maximum SQS accepts

	// DefaultBatchBytes is the default limit of an encoded batch envelope.
	// An SQS message body is text, so the binary envelope travels base64
	// encoded, which inflates it by 4/3: 180 KiB become 240 KiB, which
	// leaves 16 KiB of SQS's default 256 KiB limit (SQSMessageBytes) for the
	// message attributes and the request around the body.
	DefaultBatchBytes        = 180 << 10
	DefaultBatchMessageBytes = SQSMessageBytes
	DefaultBatchBlocks       = 500
	// DefaultBatchWait is how long a block near the tip may wait for
	// company before its batch is sent anyway.
	DefaultBatchWait = 2 * time.Second

	// DefaultIngestHistoryTxnBytes is the estimated payload the ingest
	// function gathers the history messages of one invocation into per
	// transaction (chaindb.DefaultTxnBytes): a quarter above TiDB Cloud
	// Starter's 16 MiB, from which it bills writes eight times cheaper.
	DefaultIngestHistoryTxnBytes = 20 << 20
	// DefaultIngestMaxTxnBytes caps one such transaction (chaindb.DefaultMaxTxnBytes).
	DefaultIngestMaxTxnBytes = 64 << 20
	// MaxIngestTxnBytes bounds both: TiDB holds a transaction's writes in
	// memory, several times their size.
	MaxIngestTxnBytes = 1 << 30

	DefaultSQSRegion = "us-east-1"

	DefaultHTTPAddr = "127.0.0.1:9108"

	DefaultLogLevel  = "info"
	DefaultLogFormat = LogJSON

	LogJSON = "json"
	LogText = "text"
)

// SSLMode says how the database connection is encrypted and authenticated.
// The names and meanings are MySQL's --ssl-mode.
type SSLMode string

// The SSL modes.
const (
	// SSLDisabled is plaintext. It is allowed only to a loopback host.
	SSLDisabled SSLMode = "DISABLED"
	// SSLRequired encrypts but does NOT authenticate the server: anyone on
	// the path can present any certificate. Use it only knowingly.
	SSLRequired SSLMode = "REQUIRED"
	// SSLVerifyCA verifies the server's certificate chain against SSLCA (or
	// the system roots) but not its name.
	SSLVerifyCA SSLMode = "VERIFY_CA"
	// SSLVerifyIdentity verifies the chain and that the certificate is for
	// ServerName (or Host). The default.
	SSLVerifyIdentity SSLMode = "VERIFY_IDENTITY"
)

// SSLModes lists the modes, weakest first.
var SSLModes = []SSLMode{SSLDisabled, SSLRequired, SSLVerifyCA, SSLVerifyIdentity}

// Config is the configuration of every Nectar binary.
type Config struct {
	// Network is mainnet, preprod or preview, or any name with GenesisFile.
	Network string `toml:"network" json:"network"`
	// GenesisFile is a Shelley genesis file, for networks without shipped
	// constants (or to override them).
	GenesisFile string `toml:"genesis_file" json:"genesis_file,omitempty"`
	// ByronEpochs is the number of Byron epochs of a GenesisFile network.
	ByronEpochs uint64 `toml:"byron_epochs" json:"byron_epochs,omitempty"`

	DB       DB       `toml:"db" json:"db"`
	Follower Follower `toml:"follower" json:"follower"`
	Batch    Batch    `toml:"batch" json:"batch"`
	Ingest   Ingest   `toml:"ingest" json:"ingest"`
	SQS      SQS      `toml:"sqs" json:"sqs"`
	HTTP     HTTP     `toml:"http" json:"http"`
	Log      Log      `toml:"log" json:"log"`

	// File is the TOML file the config was loaded from, if any.
	File string `toml:"-" json:"file,omitempty"`
}

// DB is how to reach the database.
type DB struct {
	// Host is the server's name or IP address; a path starting with "/" is a
	// unix socket. Mutually exclusive with DSN.
	Host     string `toml:"host" json:"host,omitempty"`
	Port     int    `toml:"port" json:"port"`
	User     string `toml:"user" json:"user,omitempty"`
	Password string `toml:"password" json:"-"`
	Database string `toml:"database" json:"database"`
	// DSN is a full go-sql-driver/mysql DSN, an alternative to Host and
	// Port. User and Password, when set, override the DSN's; the DSN's
	// database name, when it has one, overrides Database. Its password is a
	// secret like Password. It must not carry a tls parameter: SSLMode and
	// the ssl_* fields govern TLS either way.
	DSN string `toml:"dsn" json:"-"`

	SSLMode SSLMode `toml:"ssl_mode" json:"ssl_mode"`
	SSLCA   string  `toml:"ssl_ca" json:"ssl_ca,omitempty"`     // PEM CA bundle; the system roots when empty
	SSLCert string  `toml:"ssl_cert" json:"ssl_cert,omitempty"` // PEM client certificate
	SSLKey  string  `toml:"ssl_key" json:"ssl_key,omitempty"`   // PEM client key
	// ServerName overrides Host as the name the server certificate must be
	// for (VERIFY_IDENTITY) and as the TLS SNI name.
	ServerName string `toml:"server_name" json:"server_name,omitempty"`
	// SecretARN names an AWS Secrets Manager secret holding the credentials
	// (used by the Lambda functions; fetched elsewhere).
	SecretARN string `toml:"secret_arn" json:"secret_arn,omitempty"`

	MaxOpenConns    int           `toml:"max_open_conns" json:"max_open_conns"`
	MaxIdleConns    int           `toml:"max_idle_conns" json:"max_idle_conns"`
	ConnMaxLifetime time.Duration `toml:"conn_max_lifetime" json:"conn_max_lifetime"`
	ConnMaxIdleTime time.Duration `toml:"conn_max_idle_time" json:"conn_max_idle_time"` // 0: no limit
	Timeout         time.Duration `toml:"timeout" json:"timeout"`                       // dial
	ReadTimeout     time.Duration `toml:"read_timeout" json:"read_timeout"`             // 0: none
	WriteTimeout    time.Duration `toml:"write_timeout" json:"write_timeout"`           // 0: none
}

// Follower configures the always-on chain follower.
type Follower struct {
	NodeSocket  string `toml:"node_socket" json:"node_socket,omitempty"`   // cardano-node N2C unix socket
	NodeAddress string `toml:"node_address" json:"node_address,omitempty"` // host:port, N2C over TCP
	ChunkDir    string `toml:"chunk_dir" json:"chunk_dir,omitempty"`       // ImmutableDB chunk directory
	// StartSlot and StartHash name the point to start after; both or
	// neither (neither: the stored cursor, else the origin).
	StartSlot       uint64        `toml:"start_slot" json:"start_slot,omitempty"`
	StartHash       string        `toml:"start_hash" json:"start_hash,omitempty"`
	Sink            string        `toml:"sink" json:"sink"`
	MaxInFlight     int           `toml:"max_in_flight" json:"max_in_flight"`
	ReconnectMin    time.Duration `toml:"reconnect_min" json:"reconnect_min"`
	ReconnectMax    time.Duration `toml:"reconnect_max" json:"reconnect_max"`
	ShutdownTimeout time.Duration `toml:"shutdown_timeout" json:"shutdown_timeout"`
	CursorPoints    int           `toml:"cursor_points" json:"cursor_points"`
	CreateIndexes   string        `toml:"create_indexes" json:"create_indexes"` // tip or off
}

// Batch bounds the batches the follower cuts.
type Batch struct {
	// MaxBytes bounds an encoded batch envelope, before base64; see
	// DefaultBatchBytes.
	MaxBytes ByteSize `toml:"max_bytes" json:"max_bytes"`
	// MaxMessageBytes is the queue's maximum message size (the base64 body).
	MaxMessageBytes ByteSize      `toml:"max_message_bytes" json:"max_message_bytes"`
	MaxBlocks       int           `toml:"max_blocks" json:"max_blocks"`
	MaxWait         time.Duration `toml:"max_wait" json:"max_wait"` // at the tip
}

// Ingest configures how the ingest function writes.
type Ingest struct {
	// HistoryTxnBytes: the history messages of one invocation are written
	// together in transactions of at least this estimated payload, each
	// message still atomic and idempotent on its own; 0 writes each message
	// in a transaction of its own. The event source must hand one invocation
	// that much (template.yaml: HistoryBatchSize, HistoryBatchingWindow).
	HistoryTxnBytes ByteSize `toml:"history_txn_bytes" json:"history_txn_bytes"`
	// MaxTxnBytes caps one such transaction.
	MaxTxnBytes ByteSize `toml:"max_txn_bytes" json:"max_txn_bytes"`
}

// SQS locates the queues.
type SQS struct {
	Region          string `toml:"region" json:"region"`
	Endpoint        string `toml:"endpoint" json:"endpoint,omitempty"` // e.g. a local emulator
	HistoryQueueURL string `toml:"history_queue_url" json:"history_queue_url,omitempty"`
	TipQueueURL     string `toml:"tip_queue_url" json:"tip_queue_url,omitempty"` // FIFO
	// The queues' dead-letter queues: the ingest function sends a message
	// that can never apply to its queue's DLQ itself, at once.
	HistoryDLQURL string `toml:"history_dlq_url" json:"history_dlq_url,omitempty"`
	TipDLQURL     string `toml:"tip_dlq_url" json:"tip_dlq_url,omitempty"` // FIFO
}

// HTTP is the follower's listener for /metrics, /healthz and /readyz.
type HTTP struct {
	Addr string `toml:"addr" json:"addr"` // empty or "off": no listener
}

// HTTPOff as http.addr turns the listener off where an empty value cannot
// (an empty environment variable means "not set").
const HTTPOff = "off"

// Off reports whether the follower serves no /metrics, /healthz, /readyz.
func (h HTTP) Off() bool { return h.Addr == "" || h.Addr == HTTPOff }

// Log configures log/slog.
type Log struct {
	Level  string `toml:"level" json:"level"`   // debug, info, warn, error
	Format string `toml:"format" json:"format"` // json or text
}

// Default returns a Config holding the defaults. It does not read the
// environment (Load applies $AWS_REGION).
func Default() *Config {
	return &Config{
		Network: DefaultNetwork,
		DB: DB{
			Port:            DefaultDBPort,
			Database:        DefaultDBDatabase,
			SSLMode:         DefaultSSLMode,
			MaxOpenConns:    DefaultMaxOpenConns,
			MaxIdleConns:    DefaultMaxIdleConns,
			ConnMaxLifetime: DefaultConnMaxLifetime,
			ConnMaxIdleTime: DefaultConnMaxIdleTime,
			Timeout:         DefaultDBTimeout,
			ReadTimeout:     DefaultDBReadTimeout,
			WriteTimeout:    DefaultDBWriteTimeout,
		},
		Follower: Follower{
			Sink:            DefaultSink,
			MaxInFlight:     DefaultMaxInFlight,
			ReconnectMin:    DefaultReconnectMin,
			ReconnectMax:    DefaultReconnectMax,
			ShutdownTimeout: DefaultShutdownTimeout,
			CursorPoints:    DefaultCursorPoints,
			CreateIndexes:   DefaultCreateIndexes,
		},
		Batch: Batch{
			MaxBytes:        DefaultBatchBytes,
			MaxMessageBytes: DefaultBatchMessageBytes,
			MaxBlocks:       DefaultBatchBlocks,
			MaxWait:         DefaultBatchWait,
		},
		Ingest: Ingest{
			HistoryTxnBytes: DefaultIngestHistoryTxnBytes,
			MaxTxnBytes:     DefaultIngestMaxTxnBytes,
		},
		SQS:  SQS{Region: DefaultSQSRegion},
		HTTP: HTTP{Addr: DefaultHTTPAddr},
		Log:  Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
	}
}
