package secretstest_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/nectar-indexer/nectar/shared/secrets/secretstest"
)

const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nectar/db-AbCdEf"

func client(s *secretstest.Server) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
	})
}

func TestRealClient(t *testing.T) {
	s := secretstest.New(t)
	c := client(s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	v1 := s.Put(arn, "one")
	for _, id := range []string{arn, "nectar/db"} { // by ARN and by name
		d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatalf("DescribeSecret(%s): %v", id, err)
		}
		if aws.ToString(d.ARN) != arn || aws.ToString(d.Name) != "nectar/db" {
			t.Fatalf("ARN %q, Name %q", aws.ToString(d.ARN), aws.ToString(d.Name))
		}
		if st := d.VersionIdsToStages[v1]; len(st) != 1 || st[0] != "AWSCURRENT" {
			t.Fatalf("VersionIdsToStages = %v", d.VersionIdsToStages)
		}
	}

	v2 := s.Put(arn, "two") // rotation
	if v2 == v1 {
		t.Fatal("Put reused the version id")
	}
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if d.VersionIdsToStages[v2][0] != "AWSCURRENT" || d.VersionIdsToStages[v1][0] != "AWSPREVIOUS" {
		t.Fatalf("after rotation: %v", d.VersionIdsToStages)
	}

	for _, tc := range []struct {
		in   secretsmanager.GetSecretValueInput
		want string
		ver  string
	}{
		{secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}, "two", v2},
		{secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: aws.String(v1)}, "one", v1},
		{secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSPREVIOUS")}, "one", v1},
		{secretsmanager.GetSecretValueInput{SecretId: aws.String("nectar/db"), VersionId: aws.String(v2)}, "two", v2},
	} {
		g, err := c.GetSecretValue(ctx, &tc.in)
		if err != nil {
			t.Fatalf("GetSecretValue: %v", err)
		}
		if aws.ToString(g.SecretString) != tc.want || aws.ToString(g.VersionId) != tc.ver || aws.ToString(g.ARN) != arn {
			t.Fatalf("got %q version %q ARN %q", aws.ToString(g.SecretString), aws.ToString(g.VersionId), aws.ToString(g.ARN))
		}
		if g.CreatedDate == nil || time.Since(*g.CreatedDate) > time.Minute || time.Since(*g.CreatedDate) < 0 {
			t.Fatalf("CreatedDate = %v", g.CreatedDate)
		}
	}

	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("unknown secret: %v, want ResourceNotFoundException", err)
	}
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: aws.String("no-such-version")})
	if !errors.As(err, &nf) {
		t.Fatalf("unknown version: %v, want ResourceNotFoundException", err)
	}

	if got := s.Calls("GetSecretValue"); got != 6 {
		t.Errorf("Calls(GetSecretValue) = %d, want 6", got)
	}
	if got := s.Calls(secretstest.TargetDescribeSecret); got != 3 {
		t.Errorf("Calls(DescribeSecret) = %d, want 3", got)
	}
}

func TestRejects(t *testing.T) {
	s := secretstest.New(t)
	s.Put("plain-name", "x")
	post := func(target, auth, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.URL(), bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	const signed = "AWS4-HMAC-SHA256 Credential=x"
	for _, tc := range []struct {
		name, target, auth, body, errType string
	}{
		{"unsigned", secretstest.TargetGetSecretValue, "", `{"SecretId":"plain-name"}`, "UnrecognizedClientException"},
		{"unknown operation", "secretsmanager.PutSecretValue", signed, `{"SecretId":"plain-name"}`, "UnknownOperationException"},
		{"not JSON", secretstest.TargetGetSecretValue, signed, `{`, "SerializationException"},
		{"unknown secret", secretstest.TargetDescribeSecret, signed, `{"SecretId":"other"}`, "ResourceNotFoundException"},
		{"ok", secretstest.TargetGetSecretValue, signed, `{"SecretId":"plain-name"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(tc.target, tc.auth, tc.body)
			if got := resp.Header.Get("X-Amzn-ErrorType"); got != tc.errType {
				t.Errorf("error type %q, want %q", got, tc.errType)
			}
			want := http.StatusOK
			if tc.errType != "" {
				want = http.StatusBadRequest
			}
			if resp.StatusCode != want {
				t.Errorf("status %d, want %d", resp.StatusCode, want)
			}
		})
	}
}
