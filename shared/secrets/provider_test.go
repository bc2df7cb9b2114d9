package secrets_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/nectar-indexer/nectar/shared/logbuf"
	"github.com/nectar-indexer/nectar/shared/secrets"
	"github.com/nectar-indexer/nectar/shared/secrets/secretstest"
)

const testARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nectar/db-AbCdEf"

// newProvider returns a Provider reading arn from srv through the real SDK
// client, logging into logs.
func newProvider(t *testing.T, srv *secretstest.Server, arn string, logs *logbuf.Buffer, mod func(*secrets.Options)) *secrets.Provider {
	t.Helper()
	opts := secrets.Options{
		SecretARN:      arn,
		Region:         "us-east-1",
		Endpoint:       srv.URL(),
		AWSCredentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret-key", ""),
		CADir:          t.TempDir(),
	}
	if logs != nil {
		opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(&opts)
	}
	p, err := secrets.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestProviderCaches(t *testing.T) {
	srv := secretstest.New(t)
	srv.Put(testARN, secretJSON(t, full()))
	p := newProvider(t, srv, testARN, nil, nil)
	ctx := ctxT(t)

	for range 3 {
		c, err := p.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Password != pw || c.Username != "app.root" {
			t.Fatalf("got %v", c)
		}
	}
	if d, g := srv.Calls("DescribeSecret"), srv.Calls("GetSecretValue"); d != 1 || g != 1 {
		t.Fatalf("three Gets made %d DescribeSecret and %d GetSecretValue calls, want 1 and 1", d, g)
	}

	// A rotation is not seen within the TTL...
	srv.Put(testARN, secretJSON(t, with(full(), "password", "rotated")))
	if c, _ := p.Get(ctx); c.Password != pw {
		t.Fatal("the cache did not hold the secret")
	}
	// ... until Refresh, which reads it with exactly one GetSecretValue.
	c, err := p.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Password != "rotated" {
		t.Fatal("Refresh returned the old secret")
	}
	if g := srv.Calls("GetSecretValue"); g != 2 {
		t.Fatalf("GetSecretValue calls = %d after Refresh, want 2", g)
	}
	if c, _ := p.Get(ctx); c.Password != "rotated" {
		t.Fatal("Get after Refresh returned the old secret")
	}
	if g := srv.Calls("GetSecretValue"); g != 2 {
		t.Fatalf("GetSecretValue calls = %d after Refresh and Get, want 2", g)
	}
}

func TestProviderTTL(t *testing.T) {
	srv := secretstest.New(t)
	srv.Put(testARN, secretJSON(t, full()))
	// A TTL of 1ns: every Get checks the version (DescribeSecret), and reads
	// the value only when the version changed.
	p := newProvider(t, srv, testARN, nil, func(o *secrets.Options) { o.TTL = time.Nanosecond })
	ctx := ctxT(t)
	for range 2 {
		if _, err := p.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d, g := srv.Calls("DescribeSecret"), srv.Calls("GetSecretValue"); d != 2 || g != 1 {
		t.Fatalf("%d DescribeSecret, %d GetSecretValue; want 2 and 1", d, g)
	}
	srv.Put(testARN, secretJSON(t, with(full(), "password", "rotated")))
	c, err := p.Get(ctx)
	if err != nil || c.Password != "rotated" {
		t.Fatalf("after the TTL: %v, %v", c, err)
	}
}

func TestProviderErrors(t *testing.T) {
	srv := secretstest.New(t)
	ctx := ctxT(t)

	t.Run("unknown secret", func(t *testing.T) {
		p := newProvider(t, srv, "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf", nil, nil)
		_, err := p.Get(ctx)
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("err = %v, want ResourceNotFoundException", err)
		}
		if !strings.Contains(err.Error(), "absent") {
			t.Errorf("error %q does not name the secret", err)
		}
	})

	t.Run("missing password", func(t *testing.T) {
		arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:nopw-AbCdEf"
		srv.Put(arn, secretJSON(t, without(full(), "password")))
		p := newProvider(t, srv, arn, nil, nil)
		_, err := p.Get(ctx)
		var fe *secrets.FieldError
		if !errors.As(err, &fe) || fe.Field != "password" {
			t.Fatalf("err = %v, want a FieldError for password", err)
		}
		if !strings.Contains(err.Error(), `secret field "password" is missing`) || !strings.Contains(err.Error(), arn) {
			t.Errorf("error %q", err)
		}
	})

	t.Run("not JSON", func(t *testing.T) {
		arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:plain-AbCdEf"
		srv.Put(arn, pw)
		p := newProvider(t, srv, arn, nil, nil)
		_, err := p.Get(ctx)
		if !errors.Is(err, secrets.ErrNotJSON) {
			t.Fatalf("err = %v, want ErrNotJSON", err)
		}
		noSecret(t, err.Error(), pw)
	})

	t.Run("options", func(t *testing.T) {
		for _, o := range []secrets.Options{
			{},
			{SecretARN: testARN, TTL: -time.Second, Client: nopAPI{}},
			{SecretARN: testARN, MinRefreshInterval: -time.Second, Client: nopAPI{}},
		} {
			if _, err := secrets.New(ctx, o); err == nil {
				t.Errorf("New(%+v) accepted", o)
			}
		}
	})
}

type nopAPI struct{ secrets.API }
