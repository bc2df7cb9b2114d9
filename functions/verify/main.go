// Command verify is the scheduled Lambda function that runs `nectar verify`
// against TiDB and reports the chain's continuity as metrics, for the
// chain-gap alarm.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/nectar-indexer/nectar/shared/lambdafn"
)

func main() {
	f, err := lambdafn.LoadFunction("verify", os.Getenv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify: start:", err)
		os.Exit(1)
	}
	defer f.Close()
	// The database opens inside the handler, so that a failure to connect is
	// an invocation error (and the function's Errors alarm), not a crash loop.
	h := &lambdafn.VerifyHandler{Open: f.Open, Network: f.Network.Name, Logger: f.Logger, Metrics: f.Metrics}
	lambda.Start(h.Handle)
}
