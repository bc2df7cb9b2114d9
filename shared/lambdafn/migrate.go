package lambdafn

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/nectar-indexer/nectar/shared/schema"
)

// MigrateResult is what a direct invocation of the migrate function returns.
type MigrateResult struct {
	Applied []int `json:"applied"`
}

// MigrateHandler runs migrations as a Lambda function: as a CloudFormation custom
// resource (it answers the stack's pre-signed URL on Create, Update and
// Delete, also when migrating fails, so a stack never hangs) or on direct
// invocation with any other payload.
type MigrateHandler struct {
	DB     func(ctx context.Context) (*sql.DB, error)
	Logger *slog.Logger
}

// Handle dispatches on the payload.
func (h *MigrateHandler) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	var probe struct {
		RequestType string `json:"RequestType"`
		ResponseURL string `json:"ResponseURL"`
	}
	if err := json.Unmarshal(payload, &probe); err == nil && probe.RequestType != "" && probe.ResponseURL != "" {
		var ev cfn.Event
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("custom resource event: %w", err)
		}
		// LambdaWrap answers the pre-signed URL with SUCCESS or FAILED (and the error).
		_, err := cfn.LambdaWrap(h.custom)(ctx, ev)
		return nil, err
	}
	applied, err := h.migrate(ctx)
	if err != nil {
		return nil, err
	}
	return MigrateResult{Applied: applied}, nil
}

// custom is the custom resource's body: migrate on Create and Update, nothing
// on Delete (the data outlives the stack).
func (h *MigrateHandler) custom(ctx context.Context, ev cfn.Event) (physicalID string, data map[string]any, err error) {
	physicalID = "nectar-schema"
	if ev.RequestType == cfn.RequestDelete {
		return physicalID, nil, nil
	}
	applied, err := h.migrate(ctx)
	if err != nil {
		return physicalID, nil, err
	}
	return physicalID, map[string]any{"Applied": fmt.Sprint(applied)}, nil
}

func (h *MigrateHandler) migrate(ctx context.Context) ([]int, error) {
	db, err := h.DB(ctx)
	if err != nil {
		return nil, err
	}
	return schema.Migrate(ctx, db, h.Logger)
}
