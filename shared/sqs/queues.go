package sqs

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Queue defaults for CreateQueues.
const (
	// DefaultMaxMessageBytes is SQS's classic message size limit, which
	// Nectar's default batch cut fits.
	DefaultMaxMessageBytes = 256 << 10
	// DefaultMaxReceiveCount is how many receives a message gets before SQS
	// moves it to the dead-letter queue.
	DefaultMaxReceiveCount = 5
	// DefaultVisibilityTimeout is SQS's own default.
	DefaultVisibilityTimeout = 30 * time.Second
	// dlqRetention keeps dead letters as long as SQS allows (14 days).
	dlqRetention = 14 * 24 * time.Hour
	// maxVisibilityTimeout is SQS's limit.
	maxVisibilityTimeout = 12 * time.Hour
)

// QueueOptions shape the queues CreateQueues makes. Zero values take the
// defaults.
type QueueOptions struct {
	// MaxMessageBytes is each queue's MaximumMessageSize, 1024..1 MiB
	// (DefaultMaxMessageBytes).
	MaxMessageBytes int
	// MaxReceiveCount is the RedrivePolicy's maxReceiveCount, 1..1000
	// (DefaultMaxReceiveCount).
	MaxReceiveCount int
	// VisibilityTimeout of the two main queues, whole seconds up to 12 h
	// (DefaultVisibilityTimeout). With Lambda, at least six times the
	// function timeout.
	VisibilityTimeout time.Duration
}

func (o QueueOptions) withDefaults() QueueOptions {
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MaxReceiveCount == 0 {
		o.MaxReceiveCount = DefaultMaxReceiveCount
	}
	if o.VisibilityTimeout == 0 {
		o.VisibilityTimeout = DefaultVisibilityTimeout
	}
	return o
}

// Validate reports the first invalid option (after defaults).
func (o QueueOptions) Validate() error {
	o = o.withDefaults()
	switch {
	case o.MaxMessageBytes < 1024 || o.MaxMessageBytes > MaxBatchBytes:
		return fmt.Errorf("%w: MaxMessageBytes %d outside 1024..%d", ErrInvalidConfig, o.MaxMessageBytes, MaxBatchBytes)
	case o.MaxReceiveCount < 1 || o.MaxReceiveCount > 1000:
		return fmt.Errorf("%w: MaxReceiveCount %d outside 1..1000", ErrInvalidConfig, o.MaxReceiveCount)
	case o.VisibilityTimeout < 0 || o.VisibilityTimeout > maxVisibilityTimeout:
		return fmt.Errorf("%w: VisibilityTimeout %s outside 0..%s", ErrInvalidConfig, o.VisibilityTimeout, maxVisibilityTimeout)
	}
	return nil
}

// QueueNames are the names CreateQueues uses for prefix.
type QueueNames struct {
	History, HistoryDLQ, Tip, TipDLQ string
}

// NamesFor returns the queue names for prefix: <prefix>-history (standard)
// and <prefix>-tip.fifo (FIFO), with dead-letter queues <prefix>-history-dlq
// and <prefix>-tip-dlq.fifo.
func NamesFor(prefix string) QueueNames {
	return QueueNames{
		History:    prefix + "-history",
		HistoryDLQ: prefix + "-history-dlq",
		Tip:        prefix + "-tip.fifo",
		TipDLQ:     prefix + "-tip-dlq.fifo",
	}
}

// SQS queue names: 1..80 of [A-Za-z0-9_-], plus ".fifo" for FIFO queues;
// the longest suffix added is "-tip-dlq.fifo" (13).
var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,67}$`)

// CreateQueues creates (or finds, if they exist with the same attributes)
// Nectar's two queues, for local runs and tests: a standard queue for
// history and a FIFO queue for near-tip blocks and rollbacks (explicit
// deduplication ids: ContentBasedDeduplication off), each with a
// dead-letter queue of its kind behind a RedrivePolicy. Production queues
// come from template.yaml, not from here.
func CreateQueues(ctx context.Context, client API, prefix string, opts QueueOptions) (historyURL, tipURL string, err error) {
	if !prefixRE.MatchString(prefix) {
		return "", "", fmt.Errorf("%w: queue prefix %q: want 1..67 of [A-Za-z0-9_-]", ErrInvalidConfig, prefix)
	}
	if err := opts.Validate(); err != nil {
		return "", "", err
	}
	opts = opts.withDefaults()
	names := NamesFor(prefix)
	historyURL, err = createWithDLQ(ctx, client, names.History, names.HistoryDLQ, false, opts)
	if err != nil {
		return "", "", err
	}
	tipURL, err = createWithDLQ(ctx, client, names.Tip, names.TipDLQ, true, opts)
	if err != nil {
		return "", "", err
	}
	return historyURL, tipURL, nil
}

func createWithDLQ(ctx context.Context, client API, name, dlqName string, fifo bool, opts QueueOptions) (string, error) {
	common := map[string]string{
		string(types.QueueAttributeNameMaximumMessageSize): strconv.Itoa(opts.MaxMessageBytes),
	}
	if fifo {
		common[string(types.QueueAttributeNameFifoQueue)] = "true"
		common[string(types.QueueAttributeNameContentBasedDeduplication)] = "false"
	}

	dlqAttrs := maps.Clone(common)
	dlqAttrs[string(types.QueueAttributeNameMessageRetentionPeriod)] = seconds(dlqRetention)
	dlqURL, err := createQueue(ctx, client, dlqName, dlqAttrs)
	if err != nil {
		return "", err
	}
	got, err := client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(dlqURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("get arn of queue %s: %w", dlqName, err)
	}
	dlqARN := got.Attributes[string(types.QueueAttributeNameQueueArn)]
	if dlqARN == "" {
		return "", fmt.Errorf("get arn of queue %s: no QueueArn in the answer", dlqName)
	}
	redrive, err := json.Marshal(struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     int    `json:"maxReceiveCount"`
	}{dlqARN, opts.MaxReceiveCount})
	if err != nil {
		return "", fmt.Errorf("encode redrive policy: %w", err)
	}

	attrs := maps.Clone(common)
	attrs[string(types.QueueAttributeNameVisibilityTimeout)] = seconds(opts.VisibilityTimeout)
	attrs[string(types.QueueAttributeNameRedrivePolicy)] = string(redrive)
	return createQueue(ctx, client, name, attrs)
}

func createQueue(ctx context.Context, client API, name string, attrs map[string]string) (string, error) {
	out, err := client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
