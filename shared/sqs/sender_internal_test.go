package sqs

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

func entries(sizes []int, groups string) []*entry {
	out := make([]*entry, len(sizes))
	for i, s := range sizes {
		g := ""
		if groups != "" {
			g = string(groups[i])
		}
		out[i] = &entry{msg: Message{ID: "m" + strconv.Itoa(i), GroupID: g}, batchID: strconv.Itoa(i), size: s}
	}
	return out
}

func ids(es []*entry) string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e.batchID)
	}
	return b.String()
}

func repeat(n, size int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = size
	}
	return out
}

func TestNextBatch(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name   string
		sizes  []int
		groups string // one letter per entry; "" for a standard queue
		want   string
	}{
		{"ten of 25", repeat(25, 100), "", "0,1,2,3,4,5,6,7,8,9"},
		{"fewer than ten", repeat(3, 100), "", "0,1,2"},
		{"bytes cut", repeat(5, 300<<10), "", "0,1,2"},
		{"exactly 1 MiB fits", repeat(4, 256<<10), "", "0,1,2,3"},
		{"one byte over", []int{256 << 10, 256 << 10, 256 << 10, 256<<10 + 1}, "", "0,1,2"},
		{"stops at first misfit", []int{mib - 10, 20, 5}, "", "0"},
		{"oversized first goes alone", []int{mib + 1, 1}, "", "0"},
		{"fifo one per group", repeat(6, 10), "aabbca", "0,2,4"},
		{"fifo single group", repeat(4, 10), "aaaa", "0"},
		{"fifo many groups", repeat(12, 10), "abcdefghijkl", "0,1,2,3,4,5,6,7,8,9"},
		{"fifo bytes cut", []int{600 << 10, 10, 600 << 10}, "abc", "0,1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(nextBatch(entries(tt.sizes, tt.groups), tt.groups != "", mib))
			if got != tt.want {
				t.Errorf("nextBatch = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestMessageSize(t *testing.T) {
	m := Message{Body: "hello", Attributes: map[string]string{"k": "vv", "key2": ""}}
	// body 5 + (1+6+2) + (4+6+0)
	if got := m.Size(); got != 24 {
		t.Errorf("Size = %d, want 24", got)
	}
}

func TestEntryRetryable(t *testing.T) {
	tests := []struct {
		code        string
		senderFault bool
		want        bool
	}{
		{"InternalError", false, true},
		{"ServiceUnavailable", false, true},
		{"RequestThrottled", true, true},
		{"KmsThrottled", true, true},
		{"SomethingNew", false, true},
		{"InvalidParameterValue", true, false},
		{"InvalidMessageContents", true, false},
		{"MissingParameter", true, false},
	}
	for _, tt := range tests {
		if got := entryRetryable(tt.code, tt.senderFault); got != tt.want {
			t.Errorf("entryRetryable(%s, %v) = %v, want %v", tt.code, tt.senderFault, got, tt.want)
		}
	}
}

func TestClassifyCall(t *testing.T) {
	tests := []struct {
		name            string
		err             error
		wantCode        string
		wantSenderFault bool
	}{
		{"transport", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, "", false},
		{"queue gone", &types.QueueDoesNotExist{Message: aws.String("gone")}, "QueueDoesNotExist", true},
		{"batch too long", &types.BatchRequestTooLong{}, "BatchRequestTooLong", true},
		{"throttled", &types.RequestThrottled{}, "RequestThrottled", false},
		{"server fault", &smithy.GenericAPIError{Code: "Oops", Fault: smithy.FaultServer}, "Oops", false},
		{"unknown fault", &smithy.GenericAPIError{Code: "Oops"}, "Oops", false},
		{"client fault", &smithy.GenericAPIError{Code: "InvalidParameterValue", Fault: smithy.FaultClient}, "InvalidParameterValue", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, sf := classifyCall(tt.err)
			if code != tt.wantCode || sf != tt.wantSenderFault {
				t.Errorf("classifyCall = (%q, sender fault %v), want (%q, %v)", code, sf, tt.wantCode, tt.wantSenderFault)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"config ok", Config{Region: "us-east-1", Endpoint: "http://127.0.0.1:4566"}.Validate()},
		{"config bad endpoint", Config{Endpoint: "127.0.0.1:4566"}.Validate()},
		{"config half credentials", Config{AccessKeyID: "a"}.Validate()},
		{"sender ok", SenderOptions{}.Validate()},
		{"sender negative attempts", SenderOptions{MaxAttempts: -1}.Validate()},
		{"sender batch too big", SenderOptions{MaxBatchBytes: MaxBatchBytes + 1}.Validate()},
		{"sender min above max", SenderOptions{MinBackoff: time.Second, MaxBackoff: time.Millisecond}.Validate()},
		{"queues ok", QueueOptions{}.Validate()},
		{"queues small messages", QueueOptions{MaxMessageBytes: 10}.Validate()},
		{"queues receive count", QueueOptions{MaxReceiveCount: 1001}.Validate()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOK := strings.HasSuffix(tt.name, " ok")
			if wantOK && tt.err != nil {
				t.Fatalf("unexpected error: %v", tt.err)
			}
			if !wantOK && !errors.Is(tt.err, ErrInvalidConfig) {
				t.Fatalf("error %v, want ErrInvalidConfig", tt.err)
			}
		})
	}
}

func TestSenderDefaults(t *testing.T) {
	o := SenderOptions{}.withDefaults()
	if o.MaxAttempts != DefaultMaxAttempts || o.MinBackoff != DefaultMinBackoff ||
		o.MaxBackoff != DefaultMaxBackoff || o.MaxBatchBytes != MaxBatchBytes {
		t.Errorf("defaults = %+v", o)
	}
	o = SenderOptions{MaxBackoff: 10 * time.Millisecond}.withDefaults()
	if o.MinBackoff != 10*time.Millisecond {
		t.Errorf("MinBackoff = %s, want capped at MaxBackoff", o.MinBackoff)
	}
}

func TestSendErrorMessage(t *testing.T) {
	e := &SendError{Queue: "q", Total: 3, Failed: []EntryError{
		{ID: "big", Code: "InvalidParameterValue", Message: "too long", SenderFault: true, Attempts: 1},
		{ID: "next", GroupID: "g", Err: ErrGroupBlocked},
	}}
	want := "send to q: 2 of 3 messages not sent: big (InvalidParameterValue: too long; sender fault; 1 attempts); " +
		"next (" + ErrGroupBlocked.Error() + ")"
	if e.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", e.Error(), want)
	}
	if !errors.Is(e, ErrGroupBlocked) || e.IsRetryable() {
		t.Errorf("Is(ErrGroupBlocked) = %v, IsRetryable = %v", errors.Is(e, ErrGroupBlocked), e.IsRetryable())
	}
}
