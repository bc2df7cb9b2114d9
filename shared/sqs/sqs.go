// Package sqs is Nectar's Amazon SQS dependency: a client built from one
// Config, a Sender that publishes batches without losing or reordering them,
// a Receiver for the local event-source poller, and CreateQueues for local
// runs and tests.
//
// Locally it talks to fauxqs (infra/local/sqs.sh) through Config.Endpoint.
package sqs

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
)

// API is the part of the SQS client this package uses. *awssqs.Client
// implements it; tests wrap a real client to inject failures.
type API interface {
	SendMessageBatch(ctx context.Context, in *awssqs.SendMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error)
	ReceiveMessage(ctx context.Context, in *awssqs.ReceiveMessageInput, opts ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *awssqs.DeleteMessageInput, opts ...func(*awssqs.Options)) (*awssqs.DeleteMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *awssqs.DeleteMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *awssqs.ChangeMessageVisibilityInput, opts ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityOutput, error)
	GetQueueAttributes(ctx context.Context, in *awssqs.GetQueueAttributesInput, opts ...func(*awssqs.Options)) (*awssqs.GetQueueAttributesOutput, error)
	CreateQueue(ctx context.Context, in *awssqs.CreateQueueInput, opts ...func(*awssqs.Options)) (*awssqs.CreateQueueOutput, error)
	GetQueueUrl(ctx context.Context, in *awssqs.GetQueueUrlInput, opts ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error)
}

var _ API = (*awssqs.Client)(nil)

// Config says how to reach SQS.
type Config struct {
	// Region is the AWS region; empty means the SDK's default chain
	// (AWS_REGION, shared config).
	Region string `json:"region" toml:"region"`
	// Endpoint overrides the service endpoint, e.g. http://127.0.0.1:PORT
	// for fauxqs. Empty means the real SQS endpoint of Region.
	Endpoint string `json:"endpoint" toml:"endpoint"`
	// AccessKeyID and SecretAccessKey set static credentials (tests, local
	// emulators). Empty means the SDK's default credential chain (the Lambda
	// role, instance profile, environment, ...).
	AccessKeyID     string `json:"access_key_id" toml:"access_key_id"`
	SecretAccessKey string `json:"-" toml:"secret_access_key"`
	// RetryMaxAttempts bounds the SDK's own retries of one call; 0 keeps the
	// SDK default (3). The Sender retries failed entries on top of this.
	RetryMaxAttempts int `json:"retry_max_attempts" toml:"retry_max_attempts"`
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: sqs endpoint %q: want http(s)://host[:port]", ErrInvalidConfig, c.Endpoint)
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return fmt.Errorf("%w: sqs access_key_id and secret_access_key must be set together", ErrInvalidConfig)
	}
	if c.RetryMaxAttempts < 0 {
		return fmt.Errorf("%w: sqs retry_max_attempts %d is negative", ErrInvalidConfig, c.RetryMaxAttempts)
	}
	return nil
}

// NewClient builds an SQS client from cfg. Build it once and reuse it.
func NewClient(ctx context.Context, cfg Config) (*awssqs.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var loadOpts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	if cfg.RetryMaxAttempts > 0 {
		loadOpts = append(loadOpts, config.WithRetryMaxAttempts(cfg.RetryMaxAttempts))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, fmt.Errorf("%w: sqs region is not set (Config.Region or AWS_REGION)", ErrInvalidConfig)
	}
	return awssqs.NewFromConfig(awsCfg, func(o *awssqs.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	}), nil
}

// IsFIFO reports whether a queue URL (or name) names a FIFO queue: SQS
// requires FIFO queue names to end in ".fifo".
func IsFIFO(queueURL string) bool { return strings.HasSuffix(queueURL, ".fifo") }

// queueName is the last path element of a queue URL, for messages.
func queueName(queueURL string) string {
	if i := strings.LastIndexByte(queueURL, '/'); i >= 0 {
		return queueURL[i+1:]
	}
	return queueURL
}
