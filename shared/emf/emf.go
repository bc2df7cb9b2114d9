// Package emf writes metrics as CloudWatch Embedded Metric Format log lines:
// one JSON object per line that CloudWatch Logs turns into metrics, with no
// agent and no API call from inside a Lambda function.
package emf

import (
	"encoding/json"
	"io"
	"sort"
	"sync"
	"time"
)

// Unit is a CloudWatch metric unit.
type Unit string

// Units used by Nectar.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Bytes        Unit = "Bytes"
)

// Metric is one value to emit.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Writer emits EMF lines under one namespace with fixed dimensions.
type Writer struct {
	mu         sync.Mutex
	w          io.Writer
	namespace  string
	dimensions map[string]string
	now        func() time.Time
}

// New returns a Writer. dimensions are attached to every metric (e.g. {"Function": "ingest"}).
func New(w io.Writer, namespace string, dimensions map[string]string) *Writer {
	return &Writer{w: w, namespace: namespace, dimensions: dimensions, now: time.Now}
}

// Emit writes one line holding the metrics.
func (e *Writer) Emit(metrics ...Metric) error {
	if e == nil || len(metrics) == 0 {
		return nil
	}
	dims := make([]string, 0, len(e.dimensions))
	for k := range e.dimensions {
		dims = append(dims, k)
	}
	sort.Strings(dims)
	type def struct {
		Name string `json:"Name"`
		Unit Unit   `json:"Unit"`
	}
	defs := make([]def, len(metrics))
	line := map[string]any{}
	for k, v := range e.dimensions {
		line[k] = v
	}
	for i, m := range metrics {
		defs[i] = def{m.Name, m.Unit}
		line[m.Name] = m.Value
	}
	line["_aws"] = map[string]any{
		"Timestamp": e.now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  e.namespace,
			"Dimensions": [][]string{dims},
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err = e.w.Write(append(b, '\n'))
	return err
}
