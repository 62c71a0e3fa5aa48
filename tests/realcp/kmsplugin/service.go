// service.go: the KMS v2 service itself (k8s.io/kms/pkg/service.Service). Encrypt wraps the
// apiserver's DEK seed with AES-256-GCM under the current KEK (AAD = the key_id) and returns that
// key_id plus one annotation; Decrypt finds the KEK by the request's key_id, so every KEK ever
// created keeps decrypting; Status reports "v2", "ok" and the current key_id. Every call re-reads
// the state file, then applies the injected faults (latency first, then failure), and logs one line.
package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	kmsservice "k8s.io/kms/pkg/service"
)

const (
	apiVersion = "v2"
	// annotationKey must be a fully qualified domain name (the apiserver validates it).
	annotationKey   = "kmsplugin.rekeyctl.local"
	annotationValue = "aes-256-gcm"
	// keyIDMaxSize is the apiserver's limit (kmsv2.KeyIDMaxSize); "long" reports one byte more.
	keyIDMaxSize = 1024
)

// kmsPlugin implements kmsservice.Service over the state file.
type kmsPlugin struct {
	statePath   string
	annotations bool
	log         io.Writer

	mu         sync.Mutex
	generation uint64 // fault generation the counters belong to
	calls      map[string]uint64
}

var _ kmsservice.Service = (*kmsPlugin)(nil)

func newKMSPlugin(statePath string, annotations bool, log io.Writer) *kmsPlugin {
	return &kmsPlugin{statePath: statePath, annotations: annotations, log: log, calls: map[string]uint64{}}
}

// methodIn reports whether method is selected by list (empty = all).
func methodIn(method string, list []string) bool {
	if len(list) == 0 {
		return true
	}
	for _, m := range list {
		if m == method {
			return true
		}
	}
	return false
}

// shouldFail decides deterministically: call n of a method (since the fault last changed) fails
// when floor(n*ratio) > floor((n-1)*ratio), so exactly ratio of the calls fail, spread evenly.
func (p *kmsPlugin) shouldFail(method string, f faults) bool {
	if f.FailRatio <= 0 || !methodIn(method, f.FailMethods) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.Generation != p.generation {
		p.generation = f.Generation
		p.calls = map[string]uint64{}
	}
	p.calls[method]++
	n := float64(p.calls[method])
	return int64(n*f.FailRatio) > int64((n-1)*f.FailRatio)
}

// begin loads the state and applies the faults for one call; a non-nil error is the call's result.
func (p *kmsPlugin) begin(ctx context.Context, method string) (*pluginState, error) {
	s, err := loadState(p.statePath)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "kmsplugin: %v", err)
	}
	f := s.Faults
	if f.Latency != "" && methodIn(method, f.LatencyMethods) {
		d, err := time.ParseDuration(f.Latency)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "kmsplugin: bad latency %q in state", f.Latency)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if p.shouldFail(method, f) {
		code, _ := parseCode(f.FailCode)
		return nil, status.Errorf(code, "kmsplugin: injected %s failure", method)
	}
	return s, nil
}

// finish logs one line per call: unix milliseconds, method, gRPC code, key_id (shortened when
// over 64 bytes), duration.
func (p *kmsPlugin) finish(method string, start time.Time, keyID string, err error) {
	if p.log == nil {
		return
	}
	if len(keyID) > 64 {
		keyID = fmt.Sprintf("%s...(%d bytes)", keyID[:16], len(keyID))
	}
	fmt.Fprintf(p.log, "kmsplugin: call t=%d method=%s code=%s key_id=%s dur_ms=%d\n",
		start.UnixMilli(), method, status.Code(err), keyID, time.Since(start).Milliseconds())
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// unwrap opens what Encrypt made: nonce(12) || ct || tag(16), AAD = the key_id.
func unwrap(kek []byte, keyID string, ct []byte) ([]byte, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	if len(ct) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("ciphertext too short")
	}
	n := aead.NonceSize()
	out, err := aead.Open(nil, ct[:n], ct[n:], []byte(keyID))
	if err != nil {
		return nil, fmt.Errorf("ciphertext does not authenticate under key_id %q", keyID)
	}
	return out, nil
}

// Encrypt wraps data (the apiserver's DEK seed) as nonce(12) || ciphertext || tag(16).
func (p *kmsPlugin) Encrypt(ctx context.Context, _ string, data []byte) (resp *kmsservice.EncryptResponse, err error) {
	start := time.Now()
	keyID := ""
	defer func() { p.finish("encrypt", start, keyID, err) }()
	s, err := p.begin(ctx, "encrypt")
	if err != nil {
		return nil, err
	}
	keyID = s.Current
	key, err := s.keyByID(keyID)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err = rand.Read(nonce); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	resp = &kmsservice.EncryptResponse{Ciphertext: aead.Seal(nonce, nonce, data, []byte(keyID)), KeyID: keyID}
	if p.annotations {
		resp.Annotations = map[string][]byte{annotationKey: []byte(annotationValue)}
	}
	return resp, nil
}

// Decrypt unwraps with the KEK named by the request's key_id: NotFound for an unknown key_id,
// InvalidArgument when the ciphertext does not authenticate or the annotation is missing.
func (p *kmsPlugin) Decrypt(ctx context.Context, _ string, req *kmsservice.DecryptRequest) (out []byte, err error) {
	start := time.Now()
	defer func() { p.finish("decrypt", start, req.KeyID, err) }()
	s, err := p.begin(ctx, "decrypt")
	if err != nil {
		return nil, err
	}
	key, err := s.keyByID(req.KeyID)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if key == nil {
		return nil, status.Errorf(codes.NotFound, "kmsplugin: unknown key_id %q", req.KeyID)
	}
	if p.annotations && string(req.Annotations[annotationKey]) != annotationValue {
		return nil, status.Errorf(codes.InvalidArgument, "kmsplugin: annotation %s missing", annotationKey)
	}
	if out, err = unwrap(key, req.KeyID, req.Ciphertext); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "kmsplugin: %v", err)
	}
	return out, nil
}

// Status reports the API version, the health text and the current key_id (or a bad one on command).
func (p *kmsPlugin) Status(ctx context.Context) (resp *kmsservice.StatusResponse, err error) {
	start := time.Now()
	keyID := ""
	defer func() { p.finish("status", start, keyID, err) }()
	s, err := p.begin(ctx, "status")
	if err != nil {
		return nil, err
	}
	keyID = s.Current
	switch s.Faults.StatusKeyID {
	case "empty":
		keyID = ""
	case "long":
		keyID = strings.Repeat("k", keyIDMaxSize+1)
	}
	healthz := "ok"
	if s.Faults.Healthz != "" {
		healthz = s.Faults.Healthz
	}
	return &kmsservice.StatusResponse{Version: apiVersion, Healthz: healthz, KeyID: keyID}, nil
}

// grpcCodes are the names `fail` accepts (lower case, with or without underscores).
var grpcCodes = map[string]codes.Code{
	"canceled": codes.Canceled, "unknown": codes.Unknown, "invalidargument": codes.InvalidArgument,
	"deadlineexceeded": codes.DeadlineExceeded, "notfound": codes.NotFound,
	"alreadyexists": codes.AlreadyExists, "permissiondenied": codes.PermissionDenied,
	"resourceexhausted": codes.ResourceExhausted, "failedprecondition": codes.FailedPrecondition,
	"aborted": codes.Aborted, "outofrange": codes.OutOfRange, "unimplemented": codes.Unimplemented,
	"internal": codes.Internal, "unavailable": codes.Unavailable, "dataloss": codes.DataLoss,
	"unauthenticated": codes.Unauthenticated,
}

// parseCode maps "unavailable", "DeadlineExceeded", "deadline_exceeded", ... to a gRPC code.
func parseCode(name string) (codes.Code, error) {
	c, ok := grpcCodes[strings.ToLower(strings.ReplaceAll(name, "_", ""))]
	if !ok {
		return codes.Unknown, fmt.Errorf("unknown gRPC status code %q (e.g. unavailable, deadline_exceeded, internal)", name)
	}
	return c, nil
}
