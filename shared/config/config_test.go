package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load with nothing = %+v, want the defaults %+v", c, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"network", c.Network, "preview"},
		{"db.port", c.DB.Port, 4000},
		{"db.database", c.DB.Database, "nectar"},
		{"db.ssl_mode", c.DB.SSLMode, SSLVerifyIdentity},
		{"db.max_open_conns", c.DB.MaxOpenConns, 4},
		{"db.max_idle_conns", c.DB.MaxIdleConns, 4},
		{"db.conn_max_lifetime", c.DB.ConnMaxLifetime, 5 * time.Minute},
		{"db.conn_max_idle_time", c.DB.ConnMaxIdleTime, time.Minute},
		{"db.timeout", c.DB.Timeout, 10 * time.Second},
		{"db.read_timeout", c.DB.ReadTimeout, 60 * time.Second},
		{"db.write_timeout", c.DB.WriteTimeout, 60 * time.Second},
		{"follower.sink", c.Follower.Sink, "local"},
		{"follower.max_in_flight", c.Follower.MaxInFlight, 8},
		{"follower.reconnect_min", c.Follower.ReconnectMin, time.Second},
		{"follower.reconnect_max", c.Follower.ReconnectMax, 30 * time.Second},
		{"follower.shutdown_timeout", c.Follower.ShutdownTimeout, 30 * time.Second},
		{"follower.cursor_points", c.Follower.CursorPoints, 20},
		{"batch.max_bytes", c.Batch.MaxBytes, ByteSize(180 << 10)},
		{"batch.max_message_bytes", c.Batch.MaxMessageBytes, ByteSize(256 << 10)},
		{"batch.max_blocks", c.Batch.MaxBlocks, 500},
		{"batch.max_wait", c.Batch.MaxWait, 2 * time.Second},
		{"ingest.history_txn_bytes", c.Ingest.HistoryTxnBytes, ByteSize(20 << 20)},
		{"ingest.max_txn_bytes", c.Ingest.MaxTxnBytes, ByteSize(64 << 20)},
		{"sqs.region", c.SQS.Region, "us-east-1"},
		{"http.addr", c.HTTP.Addr, "127.0.0.1:9108"},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "json"},
	}
	for _, tc := range checks {
		if tc.got != tc.want {
			t.Errorf("default %s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	// The default batch, base64-encoded, fits the default SQS message.
	if base64Len(DefaultBatchBytes) > SQSMessageBytes {
		t.Errorf("DefaultBatchBytes in base64 is %d bytes, over %d", base64Len(DefaultBatchBytes), SQSMessageBytes)
	}

	c, err = Load(nil, env(map[string]string{"AWS_REGION": "eu-central-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SQS.Region != "eu-central-1" {
		t.Errorf("sqs.region with AWS_REGION = %q, want eu-central-1", c.SQS.Region)
	}
}

// TestPrecedence: defaults < file < environment < flags, field by field,
// for every kind of field.
func TestPrecedence(t *testing.T) {
	type values struct {
		host     string
		port     int
		lifetime time.Duration
		bytes    ByteSize
		slot     uint64
		mode     SSLMode
	}
	def := values{"", 4000, 5 * time.Minute, 180 << 10, 0, SSLVerifyIdentity}
	file := values{"file.example", 4001, 6 * time.Minute, 100 << 10, 11, SSLVerifyCA}
	envv := values{"env.example", 4002, 7 * time.Minute, 110 << 10, 12, SSLRequired}
	flagv := values{"flag.example", 4003, 8 * time.Minute, 120 << 10, 13, SSLDisabled}

	fileText := `
[db]
host = "file.example"
port = 4001
conn_max_lifetime = "6m"
ssl_mode = "verify_ca"
[batch]
max_bytes = "100KiB"
[follower]
start_slot = 11
`
	envMap := map[string]string{
		"NECTAR_DB_HOST": "env.example", "NECTAR_DB_PORT": "4002", "NECTAR_DB_CONN_MAX_LIFETIME": "7m",
		"NECTAR_BATCH_MAX_BYTES": "112640", "NECTAR_FOLLOWER_START_SLOT": "12", "NECTAR_DB_SSL_MODE": "REQUIRED",
	}
	flagArgs := []string{"--db-host", "flag.example", "--db-port=4003", "--db-conn-max-lifetime", "8m",
		"--batch-max-bytes", "120KiB", "--follower-start-slot", "13", "--db-ssl-mode", "disabled"}

	tests := []struct {
		name                   string
		useFile, useEnv, flags bool
		want                   values
	}{
		{"defaults", false, false, false, def},
		{"file over defaults", true, false, false, file},
		{"env over defaults", false, true, false, envv},
		{"env over file", true, true, false, envv},
		{"flags over defaults", false, false, true, flagv},
		{"flags over file", true, false, true, flagv},
		{"flags over env", false, true, true, flagv},
		{"flags over env over file", true, true, true, flagv},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{}
			var args []string
			if tc.useFile {
				args = append(args, "--config", writeFile(t, t.TempDir(), "nectar.toml", fileText))
			}
			if tc.useEnv {
				for k, v := range envMap {
					e[k] = v
				}
			}
			if tc.flags {
				args = append(args, flagArgs...)
			}
			c, err := Load(args, env(e))
			if err != nil {
				t.Fatal(err)
			}
			got := values{c.DB.Host, c.DB.Port, c.DB.ConnMaxLifetime, c.Batch.MaxBytes, c.Follower.StartSlot, c.DB.SSLMode}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}

	t.Run("partial sources merge field by field", func(t *testing.T) {
		p := writeFile(t, t.TempDir(), "n.toml", "[db]\nhost = \"file.example\"\nuser = \"file-user\"\n")
		c, err := Load([]string{"--db-user", "flag-user"},
			env(map[string]string{ConfigEnv: p, "NECTAR_DB_PORT": "4100"}))
		if err != nil {
			t.Fatal(err)
		}
		if c.DB.Host != "file.example" || c.DB.User != "flag-user" || c.DB.Port != 4100 || c.DB.Database != "nectar" {
			t.Errorf("got host %q user %q port %d database %q", c.DB.Host, c.DB.User, c.DB.Port, c.DB.Database)
		}
		if c.File != p {
			t.Errorf("File = %q, want %q", c.File, p)
		}
	})

	t.Run("--config over NECTAR_CONFIG", func(t *testing.T) {
		dir := t.TempDir()
		a := writeFile(t, dir, "a.toml", "network = \"mainnet\"\n")
		b := writeFile(t, dir, "b.toml", "network = \"preprod\"\n")
		c, err := Load([]string{"--config", b}, env(map[string]string{ConfigEnv: a}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Network != "preprod" || c.File != b {
			t.Errorf("network %q from %q, want preprod from %q", c.Network, c.File, b)
		}
	})

	t.Run("every option has a flag and an env var that set it", func(t *testing.T) {
		for _, o := range options {
			c := Default()
			var text string
			switch p := o.field(c).(type) {
			case *string:
				text = "x-" + o.key
			case *SSLMode:
				text = "VERIFY_CA"
			case *int, *uint64:
				text = "7"
			case *time.Duration:
				text = "7s"
			case *ByteSize:
				text = "7KiB"
			default:
				t.Fatalf("%s: unexpected type %T", o.key, p)
			}
			fromFlag, err := Load([]string{"--" + FlagName(o.key), text}, env(nil))
			if err != nil {
				t.Fatalf("%s: flag: %v", o.key, err)
			}
			fromEnv, err := Load(nil, env(map[string]string{EnvName(o.key): text}))
			if err != nil {
				t.Fatalf("%s: env: %v", o.key, err)
			}
			if reflect.DeepEqual(fromFlag, Default()) {
				t.Errorf("--%s %s changed nothing", FlagName(o.key), text)
			}
			if !reflect.DeepEqual(fromFlag, fromEnv) {
				t.Errorf("%s: flag and environment disagree:\n%+v\n%+v", o.key, fromFlag, fromEnv)
			}
		}
	})
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // substring of the error
	}{
		{"missing config file", []string{"--config", filepath.Join(dir, "nope.toml")}, nil, "nope.toml"},
		{"unknown key", []string{"--config", writeFile(t, dir, "typo.toml", "[db]\nsslmode = \"DISABLED\"\n")}, nil, "db.sslmode"},
		{"wrong type", []string{"--config", writeFile(t, dir, "type.toml", "[db]\nport = \"x\"\n")}, nil, "port"},
		{"bad size in file", []string{"--config", writeFile(t, dir, "size.toml", "[batch]\nmax_bytes = \"12 parsecs\"\n")}, nil, "max_bytes"},
		{"bad env int", nil, map[string]string{"NECTAR_DB_PORT": "forty"}, "NECTAR_DB_PORT (db.port)"},
		{"bad env duration", nil, map[string]string{"NECTAR_DB_TIMEOUT": "10"}, "NECTAR_DB_TIMEOUT (db.timeout)"},
		{"bad env size", nil, map[string]string{"NECTAR_BATCH_MAX_BYTES": "-1"}, "NECTAR_BATCH_MAX_BYTES (batch.max_bytes)"},
		{"bad flag", []string{"--db-port", "x"}, nil, "db-port"},
		{"unknown flag", []string{"--db-sslmode", "x"}, nil, "db-sslmode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			_, err := LoadFlags(fs, tc.args, env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	fs := flag.NewFlagSet("nectar", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	_, err := LoadFlags(fs, []string{"--help"}, env(map[string]string{"AWS_REGION": "ap-south-1"}))
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	help := out.String()
	for _, o := range options {
		if !strings.Contains(help, "-"+FlagName(o.key)+" ") && !strings.Contains(help, "-"+FlagName(o.key)+"\n") {
			t.Errorf("--help does not list -%s", FlagName(o.key))
		}
		if !strings.Contains(help, "(env "+EnvName(o.key)+")") {
			t.Errorf("--help does not name %s", EnvName(o.key))
		}
	}
	for _, want := range []string{
		"TiDB host name or IP; a path starting with / is a unix socket (env NECTAR_DB_HOST)",
		"(default 4000)", "(default VERIFY_IDENTITY)", "(default 5m0s)", "(default 180KiB)",
		`(default "ap-south-1")`, "-config file", "(env NECTAR_CONFIG)", "-batch-max-bytes size",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"0", 0, true},
		{"184320", 180 << 10, true},
		{"180KiB", 180 << 10, true},
		{"180 kib", 180 << 10, true},
		{"1MiB", 1 << 20, true},
		{"2GiB", 2 << 30, true},
		{"512B", 512, true},
		{"1.5MiB", 0, false},
		{"-1", 0, false},
		{"1MB", 0, false},
		{"KiB", 0, false},
		{"", 0, false},
		{"99999999999999GiB", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseByteSize(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseByteSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
			if tc.ok {
				back, err := ParseByteSize(got.String())
				if err != nil || back != got {
					t.Errorf("round trip via %q = %d, %v", got.String(), back, err)
				}
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.3.4.5": true, "::1": true, "[::1]": true, "localhost": true,
		"LocalHost": true, "::ffff:127.0.0.1": true, "/run/mysqld/mysqld.sock": true,
		"": false, "192.0.2.1": false, "10.0.0.1": false, "0.0.0.0": false, "::": false,
		"localhost.example.com": false, "db.local": false, "128.0.0.1": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// valid returns a config that passes ValidateFollower, with real files.
func valid(tb testing.TB) *Config {
	tb.Helper()
	dir := tb.TempDir()
	c := Default()
	c.DB.Host = "gateway01.example.com"
	c.DB.User = "nectar"
	c.DB.Password = "pw"
	c.DB.SSLCA = writeFile(tb, dir, "ca.pem", "ca")
	c.Follower.NodeSocket = "/run/cardano/node.socket"
	return c
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "file", "x")
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name     string
		mutate   func(c *Config)
		follower bool     // ValidateFollower rather than Validate
		want     []string // the fields named, in order; nil: valid
		msg      string   // substring of the error
	}{
		{"valid", func(c *Config) {}, true, nil, ""},
		{"valid loopback plaintext", func(c *Config) {
			c.DB.Host, c.DB.SSLMode, c.DB.SSLCA = "127.0.0.1", SSLDisabled, ""
		}, true, nil, ""},
		{"valid unix socket plaintext", func(c *Config) {
			c.DB.Host, c.DB.SSLMode, c.DB.SSLCA, c.DB.Port = "/run/mysqld/mysqld.sock", SSLDisabled, "", 0
		}, true, nil, ""},
		{"valid dsn", func(c *Config) {
			c.DB.Host, c.DB.User, c.DB.DSN = "", "", "u:p@tcp(gateway01.example.com:4000)/nectar"
		}, true, nil, ""},
		{"valid secret arn only", func(c *Config) {
			c.DB.Host, c.DB.User, c.DB.SecretARN = "", "", "arn:aws:secretsmanager:us-east-1:1:secret:x"
		}, false, nil, ""},
		{"valid custom network", func(c *Config) { c.Network, c.GenesisFile, c.ByronEpochs = "sancho", file, 0 }, false, nil, ""},
		{"valid sqs sink", func(c *Config) {
			c.Follower.Sink = SinkSQS
			c.SQS.HistoryQueueURL = "https://sqs.us-east-1.amazonaws.com/1/history"
			c.SQS.TipQueueURL = "https://sqs.us-east-1.amazonaws.com/1/tip.fifo"
		}, true, nil, ""},
		{"valid 1 MiB messages", func(c *Config) { c.Batch.MaxMessageBytes, c.Batch.MaxBytes = MiB, 768*KiB }, false, nil, ""},

		{"no network", func(c *Config) { c.Network = "" }, false, []string{"network"}, "required"},
		{"unknown network", func(c *Config) { c.Network = "sancho" }, false, []string{"network"}, "genesis_file"},
		{"genesis file missing", func(c *Config) { c.Network, c.GenesisFile = "sancho", missing }, false, []string{"genesis_file"}, "missing.pem"},
		{"byron epochs without genesis", func(c *Config) { c.ByronEpochs = 4 }, false, []string{"byron_epochs"}, ""},

		{"ssl mode unknown", func(c *Config) { c.DB.SSLMode = "VERIFY" }, false, []string{"db.ssl_mode"},
			`db.ssl_mode: "VERIFY" is not one of DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY`},
		{"plaintext to remote host", func(c *Config) { c.DB.Host, c.DB.SSLMode, c.DB.SSLCA = "192.0.2.1", SSLDisabled, "" },
			false, []string{"db.ssl_mode"}, "loopback"},
		{"plaintext to a name", func(c *Config) { c.DB.SSLMode, c.DB.SSLCA = SSLDisabled, "" }, false, []string{"db.ssl_mode"}, "gateway01.example.com"},
		{"plaintext via dsn", func(c *Config) {
			c.DB.Host, c.DB.SSLMode, c.DB.SSLCA, c.DB.DSN = "", SSLDisabled, "", "u:p@tcp(192.0.2.1:4000)/nectar"
		}, false, []string{"db.ssl_mode"}, "192.0.2.1"},
		{"plaintext with secret and no host", func(c *Config) {
			c.DB.Host, c.DB.SSLMode, c.DB.SSLCA, c.DB.SecretARN = "", SSLDisabled, "", "arn:x"
		}, false, []string{"db.ssl_mode"}, "not set"},
		{"plaintext with a CA", func(c *Config) { c.DB.Host, c.DB.SSLMode = "localhost", SSLDisabled }, false, []string{"db.ssl_ca"}, "DISABLED"},
		{"required with a CA", func(c *Config) { c.DB.SSLMode = SSLRequired }, false, []string{"db.ssl_ca"}, "VERIFY_CA"},
		{"cert without key", func(c *Config) { c.DB.SSLCert = file }, false, []string{"db.ssl_key"}, ""},
		{"key without cert", func(c *Config) { c.DB.SSLKey = file }, false, []string{"db.ssl_cert"}, ""},
		{"ca missing", func(c *Config) { c.DB.SSLCA = missing }, false, []string{"db.ssl_ca"}, "missing.pem"},
		{"cert and key missing", func(c *Config) { c.DB.SSLCert, c.DB.SSLKey = missing, missing }, false,
			[]string{"db.ssl_cert", "db.ssl_key"}, ""},
		{"ca is a directory", func(c *Config) { c.DB.SSLCA = dir }, false, []string{"db.ssl_ca"}, "directory"},
		{"bad server name", func(c *Config) { c.DB.ServerName = "a b" }, false, []string{"db.server_name"}, ""},
		{"no host", func(c *Config) { c.DB.Host = "" }, false, []string{"db.host"}, "required"},
		{"no user", func(c *Config) { c.DB.User = "" }, false, []string{"db.user"}, "required"},
		{"dsn and host", func(c *Config) { c.DB.DSN = "u@tcp(h:1)/d" }, false, []string{"db.dsn"}, "not both"},
		{"dsn unparsable, password not quoted", func(c *Config) {
			c.DB.Host, c.DB.DSN = "", "u:hunter2@tcp(h:1"
		}, false, []string{"db.dsn"}, "withheld"},
		{"dsn with tls", func(c *Config) { c.DB.Host, c.DB.DSN = "", "u@tcp(h:1)/d?tls=skip-verify" }, false, []string{"db.dsn"}, "ssl_mode"},
		{"port 0", func(c *Config) { c.DB.Port = 0 }, false, []string{"db.port"}, "1-65535"},
		{"port 65536", func(c *Config) { c.DB.Port = 65536 }, false, []string{"db.port"}, ""},
		{"no database", func(c *Config) { c.DB.Database = "" }, false, []string{"db.database"}, ""},
		{"no connections", func(c *Config) { c.DB.MaxOpenConns, c.DB.MaxIdleConns = 0, 0 }, false, []string{"db.max_open_conns"}, ""},
		{"more idle than open", func(c *Config) { c.DB.MaxIdleConns = 5 }, false, []string{"db.max_idle_conns"}, ""},
		{"lifetime 30m", func(c *Config) { c.DB.ConnMaxLifetime = 30 * time.Minute }, false, []string{"db.conn_max_lifetime"}, "30m"},
		{"lifetime 0", func(c *Config) { c.DB.ConnMaxLifetime = 0 }, false, []string{"db.conn_max_lifetime"}, ""},
		{"negative idle time", func(c *Config) { c.DB.ConnMaxIdleTime = -1 }, false, []string{"db.conn_max_idle_time"}, ""},
		{"no dial timeout", func(c *Config) { c.DB.Timeout = 0 }, false, []string{"db.timeout"}, ""},
		{"negative io timeouts", func(c *Config) { c.DB.ReadTimeout, c.DB.WriteTimeout = -1, -1 }, false,
			[]string{"db.read_timeout", "db.write_timeout"}, ""},

		{"batch over message", func(c *Config) { c.Batch.MaxBytes = 300 * KiB }, false, []string{"batch.max_bytes"}, "max_message_bytes"},
		{"batch over message after base64", func(c *Config) { c.Batch.MaxBytes = 200 * KiB }, false, []string{"batch.max_bytes"}, "base64"},
		{"batch 0", func(c *Config) { c.Batch.MaxBytes = 0 }, false, []string{"batch.max_bytes"}, ""},
		{"message over 1 MiB", func(c *Config) { c.Batch.MaxMessageBytes = 2 * MiB }, false, []string{"batch.max_message_bytes"}, "1MiB"},
		{"message tiny", func(c *Config) { c.Batch.MaxMessageBytes, c.Batch.MaxBytes = 100, 10 }, false, []string{"batch.max_message_bytes"}, ""},
		{"no blocks", func(c *Config) { c.Batch.MaxBlocks = 0 }, false, []string{"batch.max_blocks"}, ""},
		{"too many blocks", func(c *Config) { c.Batch.MaxBlocks = 100000 }, false, []string{"batch.max_blocks"}, ""},
		{"no wait", func(c *Config) { c.Batch.MaxWait = 0 }, false, []string{"batch.max_wait"}, ""},
		{"history messages one per transaction", func(c *Config) { c.Ingest.HistoryTxnBytes = 0 }, false, nil, ""},
		{"history transactions negative", func(c *Config) { c.Ingest.HistoryTxnBytes = -1 }, false, []string{"ingest.history_txn_bytes"}, ""},
		{"history transactions over 1 GiB", func(c *Config) { c.Ingest.HistoryTxnBytes, c.Ingest.MaxTxnBytes = 2<<30, 2<<30 },
			false, []string{"ingest.history_txn_bytes", "ingest.max_txn_bytes"}, ""},
		{"largest transaction below the target", func(c *Config) { c.Ingest.MaxTxnBytes = 16 * MiB }, false, []string{"ingest.max_txn_bytes"}, "history_txn_bytes"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, false, []string{"log.level"}, ""},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, false, []string{"log.format"}, ""},

		{"follower ok without source under Validate", func(c *Config) { c.Follower.NodeSocket = "" }, false, nil, ""},
		{"follower without source", func(c *Config) { c.Follower.NodeSocket = "" }, true, []string{"follower.node_socket"}, "chunk_dir"},
		{"socket and address", func(c *Config) { c.Follower.NodeAddress = "node:3001" }, true, []string{"follower.node_address"}, "not both"},
		{"bad node address", func(c *Config) { c.Follower.NodeSocket, c.Follower.NodeAddress = "", "node" }, true, []string{"follower.node_address"}, ""},
		{"chunk dir missing", func(c *Config) { c.Follower.ChunkDir = filepath.Join(dir, "nope") }, true, []string{"follower.chunk_dir"}, ""},
		{"chunk dir is a file", func(c *Config) { c.Follower.ChunkDir = file }, true, []string{"follower.chunk_dir"}, "not a directory"},
		{"start slot without hash", func(c *Config) { c.Follower.StartSlot = 5 }, true, []string{"follower.start_hash"}, "required"},
		{"start hash not hex", func(c *Config) { c.Follower.StartHash = "zz" }, true, []string{"follower.start_hash"}, "64 hex"},
		{"sink unknown", func(c *Config) { c.Follower.Sink = "kafka" }, true, []string{"follower.sink"}, ""},
		{"sqs sink without queues", func(c *Config) { c.Follower.Sink = SinkSQS }, true,
			[]string{"sqs.history_queue_url", "sqs.tip_queue_url"}, ""},
		{"tip queue not fifo", func(c *Config) {
			c.Follower.Sink = SinkSQS
			c.SQS.HistoryQueueURL = "https://sqs.us-east-1.amazonaws.com/1/history"
			c.SQS.TipQueueURL = "https://sqs.us-east-1.amazonaws.com/1/tip"
		}, true, []string{"sqs.tip_queue_url"}, "FIFO"},
		{"bad endpoint", func(c *Config) {
			c.Follower.Sink = SinkSQS
			c.SQS.Endpoint = "localhost:9324"
			c.SQS.HistoryQueueURL = "https://sqs.us-east-1.amazonaws.com/1/history"
			c.SQS.TipQueueURL = "https://sqs.us-east-1.amazonaws.com/1/tip.fifo"
		}, true, []string{"sqs.endpoint"}, ""},
		{"in flight 0", func(c *Config) { c.Follower.MaxInFlight = 0 }, true, []string{"follower.max_in_flight"}, ""},
		{"reconnect min 0", func(c *Config) { c.Follower.ReconnectMin = 0 }, true, []string{"follower.reconnect_min"}, ""},
		{"reconnect max below min", func(c *Config) { c.Follower.ReconnectMax = 500 * time.Millisecond }, true, []string{"follower.reconnect_max"}, ""},
		{"no shutdown time", func(c *Config) { c.Follower.ShutdownTimeout = 0 }, true, []string{"follower.shutdown_timeout"}, ""},
		{"no cursor points", func(c *Config) { c.Follower.CursorPoints = 0 }, true, []string{"follower.cursor_points"}, ""},
		{"bad http addr", func(c *Config) { c.HTTP.Addr = "9108" }, true, []string{"http.addr"}, ""},
		{"http off", func(c *Config) { c.HTTP.Addr = HTTPOff }, true, nil, ""},
		{"http on a free port", func(c *Config) { c.HTTP.Addr = "127.0.0.1:0" }, true, nil, ""},

		{"all problems at once", func(c *Config) {
			c.Network = ""
			c.DB.SSLMode = "VERIFY"
			c.DB.Port = 0
			c.Batch.MaxBlocks = 0
			c.Follower.NodeSocket = ""
		}, true, []string{"network", "db.ssl_mode", "db.port", "batch.max_blocks", "follower.node_socket"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid(t)
			tc.mutate(c)
			validate := c.Validate
			if tc.follower {
				validate = c.ValidateFollower
			}
			err := validate()
			if got := Fields(err); !slices.Equal(got, tc.want) {
				t.Fatalf("fields %q, want %q; error:\n%v", got, tc.want, err)
			}
			if err == nil {
				return
			}
			for _, f := range tc.want {
				if !strings.Contains(err.Error(), f+": ") {
					t.Errorf("error does not name %s: %v", f, err)
				}
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q lacks %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error quotes the password: %v", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is not a *FieldError: %T", err)
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	const pw, dsnPW = "s3cr3t-Pa55word", "dsn-Pa55word"
	c := valid(t)
	c.DB.Password = pw
	c.DB.DSN = "nectar:" + dsnPW + "@tcp(db.example.com:4000)/nectar?parseTime=true"

	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c, "db", c.DB)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "config", *c, "db", &c.DB)
	cJSON, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	vJSON, err := json.Marshal(*c)
	if err != nil {
		t.Fatal(err)
	}
	dbJSON, err := json.Marshal(c.DB)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String":         c.String(),
		"%v":             fmt.Sprintf("%v", c),
		"%+v":            fmt.Sprintf("%+v", c),
		"%#v":            fmt.Sprintf("%#v", c),
		"%s":             fmt.Sprintf("%s", c),
		"%+v value":      fmt.Sprintf("%+v", *c),
		"%q":             fmt.Sprintf("%q", c),
		"Println":        fmt.Sprintln(c),
		"DB %+v":         fmt.Sprintf("%+v", c.DB),
		"DB %#v":         fmt.Sprintf("%#v", c.DB),
		"*DB %+v":        fmt.Sprintf("%+v", &c.DB),
		"DB String":      c.DB.String(),
		"Redacted %+v":   fmt.Sprintf("%+v", c.Redacted()),
		"Redacted field": c.Redacted().DB.Password + c.Redacted().DB.DSN,
		"json *Config":   string(cJSON),
		"json Config":    string(vJSON),
		"json DB":        string(dbJSON),
		"slog text":      text.String(),
		"slog json":      js.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, pw) || strings.Contains(out, dsnPW) {
			t.Errorf("%s leaks a password: %s", name, out)
		}
		if !strings.Contains(out, Mask) {
			t.Errorf("%s does not show the mask: %s", name, out)
		}
	}
	// Everything else is still there.
	for _, want := range []string{"gateway01.example.com", "db.example.com:4000", "VERIFY_IDENTITY"} {
		if !strings.Contains(c.String(), want) || !strings.Contains(string(cJSON), want) {
			t.Errorf("redacted output lost %q:\n%s\n%s", want, c, cJSON)
		}
	}
	// Redaction works on copies: the config itself keeps its secrets.
	if c.DB.Password != pw || !strings.Contains(c.DB.DSN, dsnPW) {
		t.Error("redaction changed the config")
	}
	// An unset password stays visibly unset.
	if d := (DB{}).Redacted(); d.Password != "" || d.DSN != "" {
		t.Errorf("empty secrets redacted to %q, %q", d.Password, d.DSN)
	}
	if got := RedactDSN("u:hunter2@tcp(h:1"); strings.Contains(got, "hunter2") {
		t.Errorf("RedactDSN of a bad DSN = %q", got)
	}
}

// An empty environment variable means "not set", so the listener is turned
// off with "off" there; an empty flag value turns it off too.
func TestHTTPOff(t *testing.T) {
	tests := []struct {
		name string
		env  string
		args []string
		off  bool
	}{
		{"default", "", nil, false},
		{"env off", "off", nil, true},
		{"env address", "127.0.0.1:0", nil, false},
		{"empty flag", "", []string{"--http-addr="}, true},
		{"flag off over env address", "127.0.0.1:9200", []string{"--http-addr", "off"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.args, func(k string) string {
				if k == "NECTAR_HTTP_ADDR" {
					return tc.env
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			if c.HTTP.Off() != tc.off {
				t.Fatalf("http.addr %q: Off() = %v, want %v", c.HTTP.Addr, c.HTTP.Off(), tc.off)
			}
			if err := c.ValidateFollower(); err != nil && strings.Contains(err.Error(), "http.addr") {
				t.Fatalf("http.addr %q refused: %v", c.HTTP.Addr, err)
			}
		})
	}
}
