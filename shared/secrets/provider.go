package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-secretsmanager-caching-go/v2/secretcache"

	"github.com/nectar-indexer/nectar/shared/config"
)

// Defaults.
const (
	// DefaultTTL is how long a secret is used before the cache checks for a
	// new version (the cache picks a random point between TTL/2 and TTL).
	DefaultTTL = time.Hour
	// DefaultMinRefreshInterval spaces the refreshes a Pool makes by itself
	// when logins fail, so a secret that stays wrong does not turn every
	// failed login into a Secrets Manager call.
	DefaultMinRefreshInterval = 10 * time.Second
)

// API is the part of the Secrets Manager API the cache uses. The
// aws-sdk-go-v2 *secretsmanager.Client implements it.
type API interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ API = (*secretsmanager.Client)(nil)

// Options configure a Provider.
type Options struct {
	// SecretARN names the secret (its ARN, or its name). Required.
	SecretARN string
	// Region is the secret's AWS region; empty: $AWS_REGION and the rest of
	// the SDK's default configuration. Unused with Client.
	Region string
	// Endpoint is a base URL replacing Secrets Manager's regional endpoint,
	// e.g. a local stand-in such as secretstest. Unused with Client.
	Endpoint string
	// AWSCredentials, when set, sign the requests; otherwise the SDK's
	// default credential chain does (environment, shared files, the Lambda
	// role). Unused with Client.
	AWSCredentials aws.CredentialsProvider
	// TTL bounds how long a secret version is used before the cache checks
	// for a newer one; 0 means DefaultTTL.
	TTL time.Duration
	// MinRefreshInterval spaces a Pool's own refreshes after failed logins;
	// 0 means DefaultMinRefreshInterval. Refresh itself is never limited.
	MinRefreshInterval time.Duration
	// CADir is where a CA from the secret is written; empty: os.TempDir().
	CADir string
	// Client replaces the Secrets Manager client (tests).
	Client API
	// Logger receives refreshes and rotations; nil discards. Credentials
	// are never logged, only the user name.
	Logger *slog.Logger
}

// Provider reads the database credentials from one secret, through an
// aws-secretsmanager-caching-go cache. It is safe for concurrent use; build
// it once per process (in Lambda: outside the handler), so that the cache
// lives across invocations.
type Provider struct {
	arn         string
	client      secretcache.SecretsManagerAPIClient
	ttl         time.Duration
	minInterval time.Duration
	caDir       string
	log         *slog.Logger

	mu    sync.Mutex
	cache *secretcache.Cache
	// last memoises the parse of the last secret string.
	lastText  string
	lastCreds Credentials
}

// New returns a Provider for opts.SecretARN. It does not call AWS: the first
// Get does.
func New(ctx context.Context, opts Options) (*Provider, error) {
	if opts.SecretARN == "" {
		return nil, errors.New("secrets: SecretARN is required")
	}
	if opts.TTL < 0 {
		return nil, fmt.Errorf("secrets: TTL %s is negative", opts.TTL)
	}
	if opts.MinRefreshInterval < 0 {
		return nil, fmt.Errorf("secrets: MinRefreshInterval %s is negative", opts.MinRefreshInterval)
	}
	p := &Provider{
		arn:         opts.SecretARN,
		ttl:         opts.TTL,
		minInterval: opts.MinRefreshInterval,
		caDir:       opts.CADir,
		log:         opts.Logger,
	}
	if p.ttl == 0 {
		p.ttl = DefaultTTL
	}
	if p.minInterval == 0 {
		p.minInterval = DefaultMinRefreshInterval
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	api := opts.Client
	if api == nil {
		c, err := newClient(ctx, opts)
		if err != nil {
			return nil, err
		}
		api = c
	}
	p.client = cacheClient{api}
	cache, err := p.newCache()
	if err != nil {
		return nil, err
	}
	p.cache = cache
	return p, nil
}

// newClient builds the SDK client: the default configuration (region,
// credential chain), with the explicit region, credentials and endpoint of
// opts on top.
func newClient(ctx context.Context, opts Options) (*secretsmanager.Client, error) {
	var load []func(*awsconfig.LoadOptions) error
	if opts.Region != "" {
		load = append(load, awsconfig.WithRegion(opts.Region))
	}
	if opts.AWSCredentials != nil {
		load = append(load, awsconfig.WithCredentialsProvider(opts.AWSCredentials))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("secrets: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("secrets: no AWS region: set Options.Region or AWS_REGION")
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	}), nil
}

func (p *Provider) newCache() (*secretcache.Cache, error) {
	c, err := secretcache.New(func(c *secretcache.Cache) {
		c.Client = p.client // with a Client, New loads no AWS config
		c.CacheItemTTL = int64(p.ttl)
		c.MaxCacheSize = 1
	})
	if err != nil {
		return nil, fmt.Errorf("secrets: cache: %w", err)
	}
	return c, nil
}

// ARN returns the secret's ARN (or name) as configured.
func (p *Provider) ARN() string { return p.arn }

// Get returns the credentials of the secret's current version. Within the
// TTL they come from the cache, without a call to AWS.
func (p *Provider) Get(ctx context.Context) (Credentials, error) {
	p.mu.Lock()
	cache := p.cache
	p.mu.Unlock()
	return p.read(ctx, cache)
}

// Refresh forgets the cached secret and reads the current version from
// Secrets Manager (DescribeSecret, then one GetSecretValue): call it when
// the database refuses the cached credentials, which happens after a
// rotation. It is not rate-limited.
//
// aws-secretsmanager-caching-go's own RefreshNow is not used: it sleeps 2.5
// to 5 s without regard to ctx and is not synchronised with readers.
// Replacing the cache has the same effect without either problem.
func (p *Provider) Refresh(ctx context.Context) (Credentials, error) {
	cache, err := p.newCache()
	if err != nil {
		return Credentials{}, err
	}
	p.mu.Lock()
	p.cache = cache
	p.mu.Unlock()
	c, err := p.read(ctx, cache)
	if err != nil {
		return Credentials{}, err
	}
	p.log.Info("database credentials re-read from the secret", "secret", p.arn, "user", c.Username)
	return c, nil
}

func (p *Provider) read(ctx context.Context, cache *secretcache.Cache) (Credentials, error) {
	text, err := cache.GetSecretStringWithContext(ctx, p.arn)
	if err != nil {
		return Credentials{}, fmt.Errorf("get secret %s: %w", p.arn, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if text == p.lastText && text != "" {
		return p.lastCreds, nil
	}
	c, err := Parse(text)
	if err != nil {
		return Credentials{}, fmt.Errorf("secret %s: %w", p.arn, err)
	}
	p.lastText, p.lastCreds = text, c
	return c, nil
}

// Config returns base with the secret's current credentials applied
// (Get, then Credentials.ApplyCADir with Options.CADir).
func (p *Provider) Config(ctx context.Context, base config.DB) (config.DB, error) {
	c, err := p.Get(ctx)
	if err != nil {
		return base, err
	}
	return p.apply(c, base)
}

func (p *Provider) apply(c Credentials, base config.DB) (config.DB, error) {
	db, err := c.ApplyCADir(base, p.caDir)
	if err != nil {
		return base, fmt.Errorf("secret %s: %w", p.arn, err)
	}
	return db, nil
}

// cacheClient adapts an API to the interface secretcache wants, which also
// lists calls the cache never makes.
type cacheClient struct{ API }

var _ secretcache.SecretsManagerAPIClient = cacheClient{}

var errUnused = errors.New("secrets: not used by the cache")

func (cacheClient) CreateSecret(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	return nil, errUnused
}

func (cacheClient) DeleteSecret(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	return nil, errUnused
}

func (cacheClient) ListSecrets(context.Context, *secretsmanager.ListSecretsInput, ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	return nil, errUnused
}

func (cacheClient) UpdateSecret(context.Context, *secretsmanager.UpdateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretOutput, error) {
	return nil, errUnused
}
