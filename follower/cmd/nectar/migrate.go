package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/schema"
)

func runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("nectar migrate", flag.ContinueOnError)
	cfg, err := config.LoadFlags(fs, args, os.Getenv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(os.Stderr, cfg.Log)
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := schema.Migrate(ctx, db, log)
	if err != nil {
		return err
	}
	fmt.Printf("applied %d migration(s) %v\n", len(applied), applied)
	return nil
}
