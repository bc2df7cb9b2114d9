// Command fn is a Lambda function for the eventsource tests: what it does
// with each SQS record depends on the record's body.
//
//	ok              succeed
//	fail            report the record in batchItemFailures
//	error           fail the whole invocation (a handler error)
//	exit            exit the process mid-invocation (a crash)
//	sleep:DURATION  sleep, ignoring the deadline, then succeed
//	env:NAME=VALUE  succeed if the environment has NAME=VALUE, else fail the record
//	bogus           answer with a batchItemFailures entry naming no record
//
// Every record is logged to stderr as "fn: record ID BODY" and to stdout as
// "fn: out ID".
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	fail := func(id string) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	for _, r := range ev.Records {
		fmt.Fprintf(os.Stderr, "fn: record %s %s\n", r.MessageId, r.Body)
		fmt.Fprintf(os.Stdout, "fn: out %s\n", r.MessageId)
		switch body := r.Body; {
		case body == "ok":
		case body == "fail":
			fail(r.MessageId)
		case body == "error":
			return resp, errors.New("fn: asked to fail the invocation")
		case body == "exit":
			os.Exit(3)
		case body == "bogus":
			fail("no-such-message")
		case strings.HasPrefix(body, "sleep:"):
			d, err := time.ParseDuration(strings.TrimPrefix(body, "sleep:"))
			if err != nil {
				return resp, err
			}
			// Sleep past the deadline on purpose: only the emulator's own
			// timeout may end it (a function that honoured ctx would race it).
			time.Sleep(d)
		case strings.HasPrefix(body, "env:"):
			kv := strings.TrimPrefix(body, "env:")
			k, v, _ := strings.Cut(kv, "=")
			if os.Getenv(k) != v {
				fail(r.MessageId)
			}
		default:
			fail(r.MessageId)
		}
	}
	return resp, nil
}

func main() { lambda.Start(handle) }
