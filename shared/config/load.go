package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Names of the options Load reads outside the Config fields.
const (
	ConfigFlag = "config"        // --config FILE
	ConfigEnv  = "NECTAR_CONFIG" // used when --config is not given
	EnvPrefix  = "NECTAR_"
	// RegionEnv is the AWS region variable the SQS region defaults to (the
	// Lambda runtime sets it).
	RegionEnv = "AWS_REGION"
)

// option is one configurable field. Its TOML key is key; its environment
// variable and flag are derived from key (see EnvName and FlagName).
type option struct {
	key   string            // TOML path: "db.ssl_mode"
	usage string            // for --help; a `word` in backquotes names the value
	field func(*Config) any // pointer to the field
}

// EnvName is the environment variable of an option's TOML key:
// "db.ssl_mode" → NECTAR_DB_SSL_MODE.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// FlagName is the flag of an option's TOML key: "db.ssl_mode" → db-ssl-mode.
func FlagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// options lists every configurable field, in --help order.
var options = []option{
	{"network", "Cardano `network`: mainnet, preprod or preview, or any name with --genesis-file", func(c *Config) any { return &c.Network }},
	{"genesis_file", "Shelley genesis `file` for a network without shipped constants", func(c *Config) any { return &c.GenesisFile }},
	{"byron_epochs", "number of Byron epochs of a --genesis-file network", func(c *Config) any { return &c.ByronEpochs }},

	{"db.host", "TiDB host name or IP; a path starting with / is a unix socket", func(c *Config) any { return &c.DB.Host }},
	{"db.port", "TiDB port", func(c *Config) any { return &c.DB.Port }},
	{"db.user", "database user", func(c *Config) any { return &c.DB.User }},
	{"db.password", "database password (prefer the environment or the config file: flags show in ps)", func(c *Config) any { return &c.DB.Password }},
	{"db.database", "database name", func(c *Config) any { return &c.DB.Database }},
	{"db.dsn", "full go-sql-driver/mysql `DSN`, instead of host and port (secret: it may hold the password)", func(c *Config) any { return &c.DB.DSN }},
	{"db.ssl_mode", "TLS `mode`: DISABLED (loopback only), REQUIRED (encrypted, server NOT authenticated), VERIFY_CA or VERIFY_IDENTITY", func(c *Config) any { return &c.DB.SSLMode }},
	{"db.ssl_ca", "PEM `file` of the CA that signs the server certificate (default: the system roots)", func(c *Config) any { return &c.DB.SSLCA }},
	{"db.ssl_cert", "PEM client certificate `file` (with --db-ssl-key)", func(c *Config) any { return &c.DB.SSLCert }},
	{"db.ssl_key", "PEM client key `file` (with --db-ssl-cert)", func(c *Config) any { return &c.DB.SSLKey }},
	{"db.server_name", "`name` the server certificate must be for, instead of the host", func(c *Config) any { return &c.DB.ServerName }},
	{"db.secret_arn", "AWS Secrets Manager `ARN` of the database credentials", func(c *Config) any { return &c.DB.SecretARN }},
	{"db.max_open_conns", "connection pool size", func(c *Config) any { return &c.DB.MaxOpenConns }},
	{"db.max_idle_conns", "idle connections kept in the pool", func(c *Config) any { return &c.DB.MaxIdleConns }},
	{"db.conn_max_lifetime", "close connections older than this (under 30m: TiDB Serverless cuts them at 30m)", func(c *Config) any { return &c.DB.ConnMaxLifetime }},
	{"db.conn_max_idle_time", "close connections idle for longer (0: never)", func(c *Config) any { return &c.DB.ConnMaxIdleTime }},
	{"db.timeout", "dial timeout", func(c *Config) any { return &c.DB.Timeout }},
	{"db.read_timeout", "I/O read timeout (0: none)", func(c *Config) any { return &c.DB.ReadTimeout }},
	{"db.write_timeout", "I/O write timeout (0: none)", func(c *Config) any { return &c.DB.WriteTimeout }},

	{"follower.node_socket", "cardano-node N2C unix socket `path`", func(c *Config) any { return &c.Follower.NodeSocket }},
	{"follower.node_address", "cardano-node N2C `host:port` over TCP", func(c *Config) any { return &c.Follower.NodeAddress }},
	{"follower.chunk_dir", "ImmutableDB chunk `directory` to read blocks from", func(c *Config) any { return &c.Follower.ChunkDir }},
	{"follower.start_slot", "slot of the point to start after (with --follower-start-hash)", func(c *Config) any { return &c.Follower.StartSlot }},
	{"follower.start_hash", "block `hash` (hex) of the point to start after", func(c *Config) any { return &c.Follower.StartHash }},
	{"follower.sink", "where batches go: sqs (the queues, for the Lambda functions) or local (ingest in-process)", func(c *Config) any { return &c.Follower.Sink }},
	{"follower.max_in_flight", "batches being sent at once", func(c *Config) any { return &c.Follower.MaxInFlight }},
	{"follower.reconnect_min", "first reconnect backoff", func(c *Config) any { return &c.Follower.ReconnectMin }},
	{"follower.reconnect_max", "longest reconnect backoff", func(c *Config) any { return &c.Follower.ReconnectMax }},
	{"follower.shutdown_timeout", "how long a shutdown may drain", func(c *Config) any { return &c.Follower.ShutdownTimeout }},
	{"follower.cursor_points", "recent points kept in the cursor to re-intersect after a rollback", func(c *Config) any { return &c.Follower.CursorPoints }},
	{"follower.create_indexes", "`mode`: tip (build the query indexes when the follower first reaches its node's tip) or off (leave them to nectar indexes create)", func(c *Config) any { return &c.Follower.CreateIndexes }},

	{"batch.max_bytes", "largest encoded batch, before base64 (bytes or KiB/MiB)", func(c *Config) any { return &c.Batch.MaxBytes }},
	{"batch.max_message_bytes", "the queue's maximum message `size` (at most 1MiB)", func(c *Config) any { return &c.Batch.MaxMessageBytes }},
	{"batch.max_blocks", "most blocks in a batch", func(c *Config) any { return &c.Batch.MaxBlocks }},
	{"batch.max_wait", "longest a block near the tip waits for its batch", func(c *Config) any { return &c.Batch.MaxWait }},

	{"ingest.history_txn_bytes", "estimated payload the history messages of one invocation are written together in, per transaction (0: a transaction per message)", func(c *Config) any { return &c.Ingest.HistoryTxnBytes }},
	{"ingest.max_txn_bytes", "largest such transaction", func(c *Config) any { return &c.Ingest.MaxTxnBytes }},

	{"sqs.region", "AWS region of the queues; defaults to $AWS_REGION, else us-east-1", func(c *Config) any { return &c.SQS.Region }},
	{"sqs.endpoint", "SQS endpoint `URL` (e.g. a local emulator)", func(c *Config) any { return &c.SQS.Endpoint }},
	{"sqs.history_queue_url", "standard queue `URL` for history batches", func(c *Config) any { return &c.SQS.HistoryQueueURL }},
	{"sqs.tip_queue_url", "FIFO queue `URL` for near-tip batches and rollbacks", func(c *Config) any { return &c.SQS.TipQueueURL }},
	{"sqs.history_dlq_url", "dead-letter queue `URL` of the history queue (the ingest function sends what can never apply there)", func(c *Config) any { return &c.SQS.HistoryDLQURL }},
	{"sqs.tip_dlq_url", "dead-letter queue `URL` of the tip queue (FIFO)", func(c *Config) any { return &c.SQS.TipDLQURL }},

	{"http.addr", "listen `address` for /metrics, /healthz, /readyz (empty or off: none)", func(c *Config) any { return &c.HTTP.Addr }},

	{"log.level", "log `level`: debug, info, warn or error", func(c *Config) any { return &c.Log.Level }},
	{"log.format", "log `format`: json or text", func(c *Config) any { return &c.Log.Format }},
}

// Keys returns the TOML key of every option, in --help order.
func Keys() []string {
	keys := make([]string, len(options))
	for i, o := range options {
		keys[i] = o.key
	}
	return keys
}

// Load builds the Config of a binary without flags of its own from its
// command-line arguments (without the program name) and environment
// (os.Getenv when getenv is nil), in the precedence the package doc gives.
// It returns an error wrapping flag.ErrHelp for -h/--help. It does not
// validate.
func Load(args []string, getenv func(string) string) (*Config, error) {
	fs := flag.NewFlagSet("nectar", flag.ContinueOnError)
	return LoadFlags(fs, args, getenv)
}

// LoadFlags is Load with a caller's flag set, which may already hold the
// binary's own flags: LoadFlags registers every option and --config on fs,
// parses args (fs.Args() holds what is left) and loads.
func LoadFlags(fs *flag.FlagSet, args []string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	// Flags are parsed into their own Config so that they can be applied
	// last, after the file they may name and the environment; only the flags
	// actually given are copied over. Its defaults are what --help shows.
	fromFlags := defaults(getenv)
	RegisterFlags(fs, fromFlags)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("parse flags: %w", err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	c := defaults(getenv)
	path := getenv(ConfigEnv)
	if given[ConfigFlag] {
		path = fromFlags.File
	}
	if path != "" {
		if err := c.loadFile(path); err != nil {
			return nil, err
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return nil, err
	}
	for _, o := range options {
		if given[FlagName(o.key)] {
			dst, src := reflect.ValueOf(o.field(c)).Elem(), reflect.ValueOf(o.field(fromFlags)).Elem()
			dst.Set(src)
		}
	}
	c.normalize()
	return c, nil
}

// defaults is Default with the SQS region taken from $AWS_REGION.
func defaults(getenv func(string) string) *Config {
	c := Default()
	if r := getenv(RegionEnv); r != "" {
		c.SQS.Region = r
	}
	return c
}

// RegisterFlags registers --config and a flag for every option on fs, bound
// to c's fields; c's values are the defaults --help shows. Each usage text
// ends with the option's environment variable.
func RegisterFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.File, ConfigFlag, c.File, "TOML config `file` (env "+ConfigEnv+")")
	for _, o := range options {
		name, usage := FlagName(o.key), o.usage+" (env "+EnvName(o.key)+")"
		switch p := o.field(c).(type) {
		case *string:
			fs.StringVar(p, name, *p, usage)
		case *int:
			fs.IntVar(p, name, *p, usage)
		case *uint64:
			fs.Uint64Var(p, name, *p, usage)
		case *time.Duration:
			fs.DurationVar(p, name, *p, usage)
		case flag.Value: // *ByteSize, *SSLMode
			if !strings.Contains(usage, "`") {
				usage = "`" + valueName(p) + "` " + usage
			}
			fs.Var(p, name, usage)
		default:
			panic(fmt.Sprintf("config: option %s has unsupported type %T", o.key, p)) // a programming error, caught by every test
		}
	}
}

func valueName(v flag.Value) string {
	if _, ok := v.(*ByteSize); ok {
		return "size"
	}
	return "value"
}

// applyEnv sets every option whose environment variable is not empty.
func (c *Config) applyEnv(getenv func(string) string) error {
	var errs []error
	for _, o := range options {
		name := EnvName(o.key)
		v := getenv(name)
		if v == "" {
			continue
		}
		if err := setText(o.field(c), v); err != nil {
			errs = append(errs, fmt.Errorf("environment %s (%s): %w", name, o.key, err))
		}
	}
	return errors.Join(errs...)
}

// setText parses s into the field p points to.
func setText(p any, s string) error {
	switch p := p.(type) {
	case *string:
		*p = s
	case *int:
		v, err := strconv.ParseInt(strings.TrimSpace(s), 0, strconv.IntSize)
		if err != nil {
			return fmt.Errorf("invalid integer %q", s)
		}
		*p = int(v)
	case *uint64:
		v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 64)
		if err != nil {
			return fmt.Errorf("invalid unsigned integer %q", s)
		}
		*p = v
	case *time.Duration:
		v, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("invalid duration %q (want e.g. 90s, 5m)", s)
		}
		*p = v
	case flag.Value:
		return p.Set(s)
	default:
		return fmt.Errorf("unsupported field type %T", p)
	}
	return nil
}

// loadFile decodes the TOML file at path over c. Keys c does not know are an
// error (a typo must not silently leave a default in place).
func (c *Config) loadFile(path string) error {
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return fmt.Errorf("config file %s: unknown key(s) %s (known: %s)", path,
			strings.Join(keys, ", "), strings.Join(Keys(), ", "))
	}
	c.File = path
	return nil
}

// normalize puts case-insensitive enumerations into their canonical case.
func (c *Config) normalize() {
	c.Network = strings.ToLower(strings.TrimSpace(c.Network))
	c.DB.SSLMode = SSLMode(strings.ToUpper(strings.TrimSpace(string(c.DB.SSLMode))))
	c.Follower.Sink = strings.ToLower(strings.TrimSpace(c.Follower.Sink))
	c.Log.Level = strings.ToLower(strings.TrimSpace(c.Log.Level))
	c.Log.Format = strings.ToLower(strings.TrimSpace(c.Log.Format))
}
