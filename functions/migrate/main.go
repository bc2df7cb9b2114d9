// Command migrate is the Lambda function that applies Nectar's schema
// migrations: as a CloudFormation custom resource on deploy, or on direct
// invocation.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/nectar-indexer/nectar/shared/lambdafn"
)

func main() {
	f, err := lambdafn.LoadFunction("migrate", os.Getenv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrate: start:", err)
		os.Exit(1)
	}
	defer f.Close()
	// The database opens inside the handler, so that a failure to connect is
	// answered to CloudFormation instead of leaving the stack waiting.
	h := &lambdafn.MigrateHandler{DB: f.Open, Logger: f.Logger}
	lambda.Start(h.Handle)
}
