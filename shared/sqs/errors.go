package sqs

import (
	"errors"
	"fmt"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

var (
	// ErrInvalidConfig wraps errors about Config or options.
	ErrInvalidConfig = errors.New("invalid sqs configuration")
	// ErrInvalidMessage wraps errors about a Send argument found before
	// anything was sent (missing or duplicate ids, FIFO message without a
	// group); nothing of that call was sent.
	ErrInvalidMessage = errors.New("invalid sqs message")
	// ErrMessageTooLarge marks a message larger than the Sender's
	// MaxBatchBytes (at most SQS's 1 MiB): it cannot be sent at all.
	ErrMessageTooLarge = errors.New("message larger than an SQS batch may be")
	// ErrGroupBlocked marks a FIFO message that was not sent because an
	// earlier message of its group failed: sending it would break the order.
	ErrGroupBlocked = errors.New("not sent: an earlier message of its group failed")
	// ErrNotInResponse marks an entry that SQS listed neither as successful
	// nor as failed.
	ErrNotInResponse = errors.New("entry missing from the SQS response")
)

// SendError reports the messages of one Send call that were not sent. All
// other messages of the call were sent.
type SendError struct {
	Queue  string       // queue name
	Total  int          // messages in the call
	Failed []EntryError // in call order
}

// EntryError is one message that was not sent.
type EntryError struct {
	ID      string // Message.ID
	GroupID string
	// Code and Message are SQS's error code and text ("" for a transport
	// error or a local refusal: see Err).
	Code    string
	Message string
	// SenderFault is true when SQS (or this package) says the message
	// itself is wrong: sending it again unchanged fails again.
	SenderFault bool
	Attempts    int   // SendMessageBatch calls that carried this message
	Err         error // transport error, context error or a sentinel above
}

func (e *SendError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "send to %s: %d of %d messages not sent: ", e.Queue, len(e.Failed), e.Total)
	const shown = 8
	for i, f := range e.Failed {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more", len(e.Failed)-shown)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	return b.String()
}

// Unwrap returns the distinct underlying errors of the entries, so that
// errors.Is(err, context.Canceled) and errors.Is(err, ErrGroupBlocked) work.
func (e *SendError) Unwrap() []error {
	var out []error
	seen := map[error]bool{}
	for _, f := range e.Failed {
		if f.Err != nil && !seen[f.Err] {
			seen[f.Err] = true
			out = append(out, f.Err)
		}
	}
	return out
}

// IDs returns the ids of the messages that were not sent, in call order.
func (e *SendError) IDs() []string {
	ids := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		ids[i] = f.ID
	}
	return ids
}

// IsRetryable reports whether sending the failed messages again, unchanged,
// may succeed: no message failed for a sender fault. (Messages blocked
// behind a failed one in their FIFO group share its verdict.)
func (e *SendError) IsRetryable() bool {
	for _, f := range e.Failed {
		if f.SenderFault {
			return false
		}
	}
	return true
}

func (f EntryError) String() string {
	var b strings.Builder
	b.WriteString(f.ID)
	b.WriteString(" (")
	if f.Code != "" {
		b.WriteString(f.Code)
		if f.Message != "" {
			b.WriteString(": ")
			b.WriteString(f.Message)
		}
	} else if f.Err != nil {
		b.WriteString(f.Err.Error())
	}
	if f.SenderFault {
		b.WriteString("; sender fault")
	}
	if f.Attempts > 0 {
		fmt.Fprintf(&b, "; %d attempts", f.Attempts)
	}
	b.WriteString(")")
	return b.String()
}

// retryableCodes are SQS error codes that say "later", even when SQS marks
// them as the sender's fault (throttling is reported as a client error).
var retryableCodes = map[string]bool{
	"RequestThrottled":        true,
	"ThrottlingException":     true,
	"Throttling":              true,
	"KmsThrottled":            true,
	"InternalError":           true,
	"InternalFailure":         true,
	"ServiceUnavailable":      true,
	"RequestTimeout":          true,
	"RequestTimeoutException": true,
	// OverLimit on a send is a transient in-flight or throughput limit.
	"OverLimit": true,
}

// entryRetryable classifies one failed batch entry by its code and fault
// flag, never by message text.
func entryRetryable(code string, senderFault bool) bool {
	return retryableCodes[code] || !senderFault
}

// classifyCall classifies the error of a whole call, by code, fault and
// HTTP status. senderFault means the request itself is wrong (retrying it
// unchanged fails again). Errors that are not API errors (connection
// refused or reset, timeouts) are transport errors: retryable.
func classifyCall(err error) (code, msg string, senderFault bool) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", "", false
	}
	code, msg = ae.ErrorCode(), ae.ErrorMessage()
	if retryableCodes[code] {
		return code, msg, false
	}
	switch ae.ErrorFault() {
	case smithy.FaultClient:
		return code, msg, true
	case smithy.FaultServer:
		return code, msg, false
	}
	// Unmodeled codes carry no fault: decide by status.
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		s := re.HTTPStatusCode()
		return code, msg, s >= 400 && s < 500 && s != 429
	}
	return code, msg, false
}
