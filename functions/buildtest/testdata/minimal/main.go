// Command minimal is the baseline of the Lambda benchmarks in
// functions/buildtest: the smallest Go SQS function (aws-lambda-go and
// nothing else), built with the same flags as Nectar's functions. Its size
// and init time are the floor every Go function on provided.al2023 pays.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	})
}
