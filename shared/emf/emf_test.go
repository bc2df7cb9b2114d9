package emf

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestEmit(t *testing.T) {
	var buf bytes.Buffer
	w := New(&buf, "Nectar", map[string]string{"Function": "ingest"})
	w.now = func() time.Time { return time.UnixMilli(1700000000000) }
	if err := w.Emit(Metric{"Blocks", Count, 10}, Metric{"BatchLatency", Milliseconds, 12.5}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Function     string
		Blocks       float64
		BatchLatency float64
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("line is not JSON: %v\n%s", err, buf.String())
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Errorf("want exactly one line, got %q", buf.String())
	}
	cw := got.AWS.CloudWatchMetrics
	if got.AWS.Timestamp != 1700000000000 || len(cw) != 1 || cw[0].Namespace != "Nectar" ||
		len(cw[0].Dimensions) != 1 || cw[0].Dimensions[0][0] != "Function" || got.Function != "ingest" ||
		got.Blocks != 10 || got.BatchLatency != 12.5 || len(cw[0].Metrics) != 2 || cw[0].Metrics[1].Unit != "Milliseconds" {
		t.Errorf("unexpected EMF line: %s", buf.String())
	}
}
