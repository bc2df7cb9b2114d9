// Command ingest is the Lambda function behind both SQS queues: it decodes
// each message's batch and applies it, or its rollback, to TiDB, reporting
// partial batch failures so that only failed messages are retried.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/nectar-indexer/nectar/shared/lambdafn"
)

func main() {
	ctx := context.Background()
	// Built once per container, outside the handler, and reused across invocations.
	f, err := lambdafn.LoadFunction("ingest", os.Getenv, os.Stdout, os.Stderr)
	if err == nil {
		_, err = f.Open(ctx)
	}
	if err != nil {
		// An init failure leaves the messages on the queue to be retried.
		fmt.Fprintln(os.Stderr, "ingest: start:", err)
		os.Exit(1)
	}
	defer f.Close()
	lambda.Start(f.NewHandler(lambdafn.DefaultConcurrency).Handle)
}
