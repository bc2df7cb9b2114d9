package lambdafn

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"strings"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/emf"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/secrets"
	"github.com/nectar-indexer/nectar/shared/sqs"
)

// Function is what a Lambda function built on ingest holds across
// invocations: one small pool per container, reused.
type Function struct {
	DB      *sql.DB // set by Open
	Config  *config.Config
	Network chain.Network
	Logger  *slog.Logger
	Metrics *emf.Writer
	close   func() error
}

// Close releases the pool.
func (f *Function) Close() error {
	if f.close == nil {
		return nil
	}
	return f.close()
}

// LoadFunction loads the configuration from the environment. Logs are JSON on
// stderr; metrics EMF lines on stdout. It opens nothing: see Open.
func LoadFunction(name string, getenv func(string) string, stdout, stderr io.Writer) (*Function, error) {
	cfg, err := config.Load(nil, getenv)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: logLevel(cfg.Log.Level)})).With("function", name)
	net, err := chain.NetworkByName(cfg.Network)
	if cfg.GenesisFile != "" {
		net, err = chain.NetworkFromGenesis(cfg.Network, cfg.GenesisFile, cfg.ByronEpochs)
	}
	if err != nil {
		return nil, err
	}
	return &Function{Config: cfg, Network: net, Logger: log,
		Metrics: emf.New(stdout, "Nectar", map[string]string{"Function": name, "Network": net.Name})}, nil
}

// Open opens the database once: with credentials from Secrets Manager when
// db.secret_arn is set (refreshed once on an authentication failure, for
// rotation), else from the environment. Later calls return the same pool.
func (f *Function) Open(ctx context.Context) (*sql.DB, error) {
	if f.DB != nil {
		return f.DB, nil
	}
	cfg := f.Config
	if cfg.DB.SecretARN == "" {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
	}
	db, err := secrets.Open(ctx, cfg.DB, cfg.SQS.Region, f.Logger)
	if err != nil {
		return nil, err
	}
	f.DB, f.close = db, db.Close
	return db, nil
}

// NewHandler builds the SQS handler over the function's pool. When the
// configuration names the queues (sqs.history_queue_url, sqs.tip_queue_url)
// and their dead-letter queues (sqs.history_dlq_url, sqs.tip_dlq_url), the
// handler retries failed tip messages soon and dead-letters what can never
// apply itself (Handler.Queue); without them, the queues' own visibility
// timeout and redrive policy do.
//
// With ingest.history_txn_bytes above 0 (the default), the history messages
// of one invocation are written together (Handler.Combine) in transactions
// of at least that much estimated payload.
func (f *Function) NewHandler(concurrency int) *Handler {
	in := f.Config.Ingest
	store := chaindb.New(f.DB, chaindb.Options{Logger: f.Logger, TxnBytes: int(in.HistoryTxnBytes), MaxTxnBytes: int(in.MaxTxnBytes)})
	h := &Handler{Applier: &ingest.Applier{Net: f.Network, Store: store}, Limits: batch.Limits{},
		Concurrency: concurrency, Combine: in.HistoryTxnBytes > 0, Logger: f.Logger, Metrics: f.Metrics, Stats: store}
	q := f.Config.SQS
	h.Queues = map[string]QueueURLs{}
	for _, u := range []QueueURLs{{q.HistoryQueueURL, q.HistoryDLQURL}, {q.TipQueueURL, q.TipDLQURL}} {
		if u.URL != "" {
			h.Queues[urlQueueName(u.URL)] = u
		}
	}
	if len(h.Queues) == 0 {
		return h
	}
	// Building the client reads the AWS configuration; it calls nothing.
	client, err := sqs.NewClient(context.Background(), sqs.Config{Region: q.Region, Endpoint: q.Endpoint})
	if err != nil {
		f.Logger.Warn("no SQS client: failed messages wait for the queues' visibility timeout and redrive policy", "err", err)
		return h
	}
	h.Queue = SQSQueue{Client: client}
	return h
}

func logLevel(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(s)))
	return l
}
