// Package secretstest is a local stand-in for AWS Secrets Manager: a real
// HTTP server on 127.0.0.1 that speaks enough of the JSON 1.1 protocol for
// the aws-sdk-go-v2 client and aws-secretsmanager-caching-go
// (DescribeSecret and GetSecretValue), and counts the calls so tests can
// check caching and refreshes.
//
// Point a client at it with a base endpoint (URL) and any static
// credentials: requests must be signed (carry an Authorization header), as
// AWS requires, but the signature is not checked.
package secretstest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version stages.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
)

// Operation targets, as sent in X-Amz-Target.
const (
	TargetDescribeSecret = "secretsmanager.DescribeSecret"
	TargetGetSecretValue = "secretsmanager.GetSecretValue"
)

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu      sync.Mutex
	secrets map[string]*secret // by ARN and by name
	calls   map[string]int     // by operation name ("GetSecretValue")
}

type secret struct {
	arn, name string
	versions  []*version // oldest first
}

type version struct {
	id      string
	text    string
	created time.Time
	stages  []string
}

// New starts a Server on 127.0.0.1, closed when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{secrets: map[string]*secret{}, calls: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("secretstest: listen: %v", err)
	}
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	s.srv.Start()
	tb.Cleanup(s.srv.Close)
	return s
}

// URL is the base endpoint to give the client.
func (s *Server) URL() string { return s.srv.URL }

// Put stores secretString as a new version of the secret id and makes it
// AWSCURRENT; the version that was current becomes AWSPREVIOUS, as after a
// rotation. id is an ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-xxxxxx)
// or a plain name, for which an ARN is made up. The secret answers to both
// its ARN and its name. Put returns the new version's id.
func (s *Server) Put(id, secretString string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[id]
	if !ok {
		arn, name := id, nameOf(id)
		if !strings.HasPrefix(id, "arn:") {
			arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:" + id + "-" + randomHex(3)
		}
		sec = &secret{arn: arn, name: name}
		s.secrets[arn] = sec
		s.secrets[name] = sec
	}
	for _, v := range sec.versions {
		switch {
		case hasStage(v, StageCurrent):
			v.stages = []string{StagePrevious}
		case hasStage(v, StagePrevious):
			v.stages = nil
		}
	}
	v := &version{id: newVersionID(), text: secretString, created: time.Now(), stages: []string{StageCurrent}}
	sec.versions = append(sec.versions, v)
	return v.id
}

// Calls returns how many requests for target the server has answered,
// errors included. target is an operation ("GetSecretValue") or its
// X-Amz-Target ("secretsmanager.GetSecretValue").
func (s *Server) Calls(target string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[strings.TrimPrefix(target, "secretsmanager.")]
}

// nameOf takes the name out of a secret ARN, dropping the six characters
// Secrets Manager appends; anything else is a name already.
func nameOf(id string) string {
	const marker = ":secret:"
	i := strings.Index(id, marker)
	if !strings.HasPrefix(id, "arn:") || i < 0 {
		return id
	}
	name := id[i+len(marker):]
	if j := strings.LastIndexByte(name, '-'); j >= 0 && len(name)-j == 7 {
		name = name[:j]
	}
	return name
}

func hasStage(v *version, stage string) bool {
	for _, s := range v.stages {
		if s == stage {
			return true
		}
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newVersionID returns a UUID-shaped id, as Secrets Manager's are.
func newVersionID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ServeHTTP answers one JSON 1.1 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowedException", "only POST is supported")
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "secretsmanager.")
	if !ok {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "missing or unknown X-Amz-Target")
		return
	}
	s.mu.Lock()
	s.calls[op]++
	s.mu.Unlock()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-amz-json-1.1") {
		writeError(w, http.StatusBadRequest, "SerializationException", "Content-Type must be application/x-amz-json-1.1")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeError(w, http.StatusBadRequest, "UnrecognizedClientException", "the request is not signed (no SigV4 Authorization header)")
		return
	}
	var in struct {
		SecretId     string
		VersionId    string
		VersionStage string
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "the body is not a JSON object")
		return
	}
	if in.SecretId == "" {
		writeError(w, http.StatusBadRequest, "InvalidParameterException", "SecretId is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[in.SecretId]
	if !ok {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	switch op {
	case "DescribeSecret":
		stages := map[string][]string{}
		for _, v := range sec.versions {
			if len(v.stages) > 0 {
				stages[v.id] = v.stages
			}
		}
		last := sec.versions[len(sec.versions)-1]
		writeJSON(w, map[string]any{
			"ARN":                sec.arn,
			"Name":               sec.name,
			"VersionIdsToStages": stages,
			"CreatedDate":        epoch(sec.versions[0].created),
			"LastChangedDate":    epoch(last.created),
		})
	case "GetSecretValue":
		v := find(sec, in.VersionId, in.VersionStage)
		if v == nil {
			writeError(w, http.StatusBadRequest, "ResourceNotFoundException",
				fmt.Sprintf("Secrets Manager can't find the specified secret value for VersionId: %s, VersionStage: %s", in.VersionId, in.VersionStage))
			return
		}
		stages := v.stages
		if stages == nil {
			stages = []string{}
		}
		writeJSON(w, map[string]any{
			"ARN":           sec.arn,
			"Name":          sec.name,
			"VersionId":     v.id,
			"SecretString":  v.text,
			"VersionStages": stages,
			"CreatedDate":   epoch(v.created),
		})
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "operation "+op+" is not supported by secretstest")
	}
}

// find picks a version by id, else by stage (AWSCURRENT when neither is
// given); both given must agree.
func find(sec *secret, id, stage string) *version {
	if id == "" && stage == "" {
		stage = StageCurrent
	}
	for _, v := range sec.versions {
		if (id == "" || v.id == id) && (stage == "" || hasStage(v, stage)) {
			return v
		}
	}
	return nil
}

// epoch is a timestamp as the JSON protocol writes it: seconds since the
// epoch, with fractions.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}
