package lambdafn_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/lambdafn"
)

// cfnResponder is the stack's pre-signed URL: it records the responses.
func cfnResponder(t *testing.T) (*httptest.Server, chan map[string]any) {
	t.Helper()
	got := make(chan map[string]any, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("response is not JSON: %s", body)
		}
		got <- m
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func event(t *testing.T, typ, url string) json.RawMessage {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"RequestType": typ, "ResponseURL": url, "StackId": "arn:aws:cloudformation:us-east-1:1:stack/s/1",
		"RequestId": "r1", "LogicalResourceId": "Schema", "ResourceType": "Custom::NectarSchema"})
	return b
}

func TestCustomResourceFailureAnswersTheStack(t *testing.T) {
	srv, got := cfnResponder(t)
	h := &lambdafn.MigrateHandler{DB: func(context.Context) (*sql.DB, error) { return nil, errors.New("no database configured") }}
	if _, err := h.Handle(context.Background(), event(t, "Create", srv.URL)); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r["Status"] != "FAILED" || r["Reason"] == "" {
		t.Errorf("response %v, want FAILED with a reason", r)
	}
	if _, err := h.Handle(context.Background(), event(t, "Delete", srv.URL)); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r["Status"] != "SUCCESS" {
		t.Errorf("delete answered %v, want SUCCESS without touching the database", r)
	}
}

func TestMigrateHandler(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		db, _ := s.Open(t) // already migrated once
		h := &lambdafn.MigrateHandler{DB: func(context.Context) (*sql.DB, error) { return db, nil }}
		srv, got := cfnResponder(t)
		if _, err := h.Handle(context.Background(), event(t, "Update", srv.URL)); err != nil {
			t.Fatal(err)
		}
		if r := <-got; r["Status"] != "SUCCESS" {
			t.Errorf("update answered %v, want SUCCESS", r)
		}
		res, err := h.Handle(context.Background(), json.RawMessage(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if applied := res.(lambdafn.MigrateResult).Applied; len(applied) != 0 {
			t.Errorf("direct invoke applied %v again, want nothing", applied)
		}
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n == 0 {
			t.Errorf("schema_migrations has %d rows (%v)", n, err)
		}
	})
}
