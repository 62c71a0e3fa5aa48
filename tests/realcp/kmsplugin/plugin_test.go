// plugin_test.go: the plugin served for real on a unix socket in a temp dir and called through the
// generated KMS v2 gRPC client, with its CLI (run) applying rotations and faults to the running
// server: round trip, rotation keeping old KEKs, key_ids never reused, the 0600 state file,
// latency, failure ratios with chosen codes, stop/start, bad Status answers, bad command lines.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	kmsapi "k8s.io/kms/apis/v2"
)

// fixture is one running plugin.
type fixture struct {
	state, socket string
	client        kmsapi.KeyManagementServiceClient
	log           *bytes.Buffer
}

// startPlugin serves a fresh plugin until the test ends and returns a client connected to it.
func startPlugin(t *testing.T, annotations bool) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{state: filepath.Join(dir, "state.json"), socket: filepath.Join(dir, "kms.sock"), log: &bytes.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, serveOptions{socket: f.socket, statePath: f.state, timeout: 3 * time.Second,
			annotations: annotations, log: f.log})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !socketAccepts(f.socket) {
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("plugin socket not accepting after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// WaitForReady like the kube-apiserver's client: while the socket is down a call waits for its
	// deadline instead of failing fast.
	conn, err := grpc.NewClient("unix://"+f.socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.WaitForReady(true)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f.client = kmsapi.NewKeyManagementServiceClient(conn)
	return f
}

// cli runs a kmsplugin command against the fixture's state and returns its stdout.
func (f *fixture) cli(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if rc := run(append(args, "--state", f.state), nil, &out, &errb); rc != 0 {
		t.Fatalf("kmsplugin %v: exit %d: %s", args, rc, errb.String())
	}
	return strings.TrimSpace(out.String())
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func (f *fixture) status(t *testing.T) *kmsapi.StatusResponse {
	t.Helper()
	r, err := f.client.Status(ctxTimeout(t, 5*time.Second), &kmsapi.StatusRequest{})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return r
}

func (f *fixture) encrypt(t *testing.T, plaintext []byte) *kmsapi.EncryptResponse {
	t.Helper()
	r, err := f.client.Encrypt(ctxTimeout(t, 5*time.Second), &kmsapi.EncryptRequest{Plaintext: plaintext, Uid: "u"})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return r
}

func (f *fixture) decrypt(e *kmsapi.EncryptResponse, keyID string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := f.client.Decrypt(ctx, &kmsapi.DecryptRequest{Ciphertext: e.Ciphertext, KeyId: keyID, Uid: "u",
		Annotations: e.Annotations})
	if err != nil {
		return nil, err
	}
	return r.Plaintext, nil
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if status.Code(err) != want {
		t.Fatalf("got %v (code %v), want code %v", err, status.Code(err), want)
	}
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	f := startPlugin(t, true)
	st := f.status(t)
	if st.Version != "v2" || st.Healthz != "ok" || st.KeyId == "" {
		t.Fatalf("Status = %+v, want v2/ok/non-empty key_id", st)
	}
	seed := bytes.Repeat([]byte{0x5a}, 32)
	e := f.encrypt(t, seed)
	if e.KeyId != st.KeyId {
		t.Fatalf("Encrypt key_id %q, Status key_id %q", e.KeyId, st.KeyId)
	}
	if bytes.Contains(e.Ciphertext, seed) || len(e.Ciphertext) != 12+32+16 || len(e.Ciphertext) >= 1024 {
		t.Fatalf("ciphertext %d bytes (want nonce+32+tag, no plaintext inside)", len(e.Ciphertext))
	}
	if string(e.Annotations[annotationKey]) != annotationValue {
		t.Fatalf("annotations %v", e.Annotations)
	}
	got, err := f.decrypt(e, e.KeyId)
	if err != nil || !bytes.Equal(got, seed) {
		t.Fatalf("Decrypt = %x, %v", got, err)
	}
	// two encryptions of one plaintext differ (random nonce)
	if e2 := f.encrypt(t, seed); bytes.Equal(e2.Ciphertext, e.Ciphertext) {
		t.Fatal("same ciphertext twice")
	}
	// the annotation is checked: dropping it fails
	e.Annotations = nil
	_, err = f.decrypt(e, e.KeyId)
	wantCode(t, err, codes.InvalidArgument)
	if !strings.Contains(f.log.String(), "method=decrypt code=InvalidArgument") {
		t.Fatalf("log lacks the failed decrypt:\n%s", f.log.String())
	}
}

func TestNoAnnotations(t *testing.T) {
	f := startPlugin(t, false)
	e := f.encrypt(t, []byte("seed"))
	if len(e.Annotations) != 0 {
		t.Fatalf("annotations %v with --no-annotations", e.Annotations)
	}
	if got, err := f.decrypt(e, e.KeyId); err != nil || string(got) != "seed" {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
}

func TestRotateKeepsOldKEKs(t *testing.T) {
	f := startPlugin(t, true)
	old := f.encrypt(t, []byte("old seed"))
	newID := f.cli(t, "rotate")
	if newID == old.KeyId || newID == "" {
		t.Fatalf("rotate gave %q, old %q", newID, old.KeyId)
	}
	if got := f.cli(t, "keyid"); got != newID {
		t.Fatalf("keyid %q, rotate said %q", got, newID)
	}
	if st := f.status(t); st.KeyId != newID {
		t.Fatalf("Status key_id %q after rotate, want %q (no restart)", st.KeyId, newID)
	}
	cur := f.encrypt(t, []byte("new seed"))
	if cur.KeyId != newID {
		t.Fatalf("Encrypt key_id %q after rotate, want %q", cur.KeyId, newID)
	}
	if got, err := f.decrypt(old, old.KeyId); err != nil || string(got) != "old seed" {
		t.Fatalf("old KEK no longer decrypts: %q, %v", got, err)
	}
	if got, err := f.decrypt(cur, cur.KeyId); err != nil || string(got) != "new seed" {
		t.Fatalf("new KEK: %q, %v", got, err)
	}
	_, err := f.decrypt(old, newID) // right ciphertext, wrong KEK
	wantCode(t, err, codes.InvalidArgument)
	_, err = f.decrypt(old, "kek-999-00000000")
	wantCode(t, err, codes.NotFound)
}

func TestKeyIDsNeverReused(t *testing.T) {
	f := startPlugin(t, true)
	seen := map[string]bool{f.cli(t, "keyid"): true}
	for i := 0; i < 30; i++ {
		id := f.cli(t, "rotate")
		if seen[id] {
			t.Fatalf("rotation %d reused key_id %s", i, id)
		}
		seen[id] = true
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(f.cli(t, "status")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.KeyIDs) != 31 || !rep.PIDAlive || rep.RPC.(map[string]any)["code"] != "OK" {
		t.Fatalf("status report: %+v", rep)
	}
	// a second state file never repeats the first one's ids either (random suffix)
	other := startPlugin(t, true)
	if id := other.cli(t, "keyid"); seen[id] {
		t.Fatalf("fresh state reused %s", id)
	}
}

func TestStateFileMode(t *testing.T) {
	f := startPlugin(t, true)
	st, err := os.Stat(f.state)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v, %v", st.Mode().Perm(), err)
	}
	f.cli(t, "rotate")
	if st, _ = os.Stat(f.state); st.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v after rotate", st.Mode().Perm())
	}
	if err := os.Chmod(f.state, 0o640); err != nil {
		t.Fatal(err)
	}
	// the server refuses to use keys from a readable file, the CLI too
	_, err = f.client.Encrypt(ctxTimeout(t, 5*time.Second), &kmsapi.EncryptRequest{Plaintext: []byte("x")})
	wantCode(t, err, codes.Internal)
	var out, errb bytes.Buffer
	if rc := run([]string{"rotate", "--state", f.state}, nil, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "want 0600") {
		t.Fatalf("rotate on a 0640 state: exit %d, %q", rc, errb.String())
	}
}

func TestLatency(t *testing.T) {
	f := startPlugin(t, true)
	f.cli(t, "latency", "300ms", "--methods", "encrypt")
	t0 := time.Now()
	f.encrypt(t, []byte("x"))
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Fatalf("Encrypt took %v with 300ms latency", d)
	}
	t0 = time.Now()
	f.status(t)
	if d := time.Since(t0); d >= 300*time.Millisecond {
		t.Fatalf("Status took %v, latency was for encrypt only", d)
	}
	// latency beyond the caller's deadline: the caller sees DeadlineExceeded
	f.cli(t, "latency", "2s")
	_, err := f.client.Status(ctxTimeout(t, 200*time.Millisecond), &kmsapi.StatusRequest{})
	wantCode(t, err, codes.DeadlineExceeded)
	f.cli(t, "latency", "off")
	t0 = time.Now()
	f.encrypt(t, []byte("x"))
	if d := time.Since(t0); d >= 300*time.Millisecond {
		t.Fatalf("Encrypt took %v after latency off", d)
	}
}

func TestFailRatio(t *testing.T) {
	f := startPlugin(t, true)
	for _, tc := range []struct {
		name string
		code codes.Code
	}{{"unavailable", codes.Unavailable}, {"deadline_exceeded", codes.DeadlineExceeded}, {"Internal", codes.Internal}} {
		f.cli(t, "fail", "0.5", tc.name)
		failed := 0
		for i := 1; i <= 10; i++ {
			_, err := f.client.Status(ctxTimeout(t, 5*time.Second), &kmsapi.StatusRequest{})
			if err != nil {
				wantCode(t, err, tc.code)
				failed++
				if i%2 != 0 {
					t.Fatalf("%s: call %d failed, want every second one", tc.name, i)
				}
			}
		}
		if failed != 5 {
			t.Fatalf("%s: %d of 10 failed with ratio 0.5", tc.name, failed)
		}
	}
	f.cli(t, "fail", "1", "unavailable", "--methods", "decrypt")
	e := f.encrypt(t, []byte("x")) // encrypt is not selected
	for i := 0; i < 3; i++ {
		_, err := f.decrypt(e, e.KeyId)
		wantCode(t, err, codes.Unavailable)
	}
	f.cli(t, "fail", "off")
	if _, err := f.decrypt(e, e.KeyId); err != nil {
		t.Fatalf("decrypt after fail off: %v", err)
	}
}

func TestStopStart(t *testing.T) {
	f := startPlugin(t, true)
	f.cli(t, "stop")
	if _, err := os.Stat(f.socket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket still there after stop: %v", err)
	}
	_, err := f.client.Status(ctxTimeout(t, time.Second), &kmsapi.StatusRequest{})
	wantCode(t, err, codes.DeadlineExceeded) // waits for ready, as the apiserver's calls do
	f.cli(t, "start")
	if st := f.status(t); st.Healthz != "ok" {
		t.Fatalf("after start: %+v", st)
	}
	// stale: the socket file stays, connecting is refused
	f.cli(t, "stop", "--stale")
	if st, err := os.Stat(f.socket); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("stale socket file missing: %v", err)
	}
	if _, err := net.Dial("unix", f.socket); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial stale socket: %v, want connection refused", err)
	}
	f.cli(t, "start")
	f.status(t)
}

func TestBadStatusAnswers(t *testing.T) {
	f := startPlugin(t, true)
	f.cli(t, "healthz", "kek unreachable")
	if st := f.status(t); st.Healthz != "kek unreachable" {
		t.Fatalf("healthz %q", st.Healthz)
	}
	f.cli(t, "healthz", "ok")
	f.cli(t, "bad-keyid", "empty")
	if st := f.status(t); st.KeyId != "" {
		t.Fatalf("key_id %q, want empty", st.KeyId)
	}
	f.cli(t, "bad-keyid", "long")
	if st := f.status(t); len(st.KeyId) != 1025 {
		t.Fatalf("key_id %d bytes, want 1025", len(st.KeyId))
	}
	f.cli(t, "clear")
	if st := f.status(t); st.Healthz != "ok" || st.KeyId != f.cli(t, "keyid") {
		t.Fatalf("after clear: %+v", st)
	}
}

func TestBadCommandLines(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	for _, argv := range [][]string{
		{},
		{"bogus", "--state", state},
		{"rotate"},
		{"rotate", "extra", "--state", state},
		{"latency", "--state", state},
		{"latency", "fast", "--state", state},
		{"latency", "1s", "--methods", "list", "--state", state},
		{"fail", "1.5", "unavailable", "--state", state},
		{"fail", "0.5", "nosuchcode", "--state", state},
		{"fail", "0.5", "--state", state},
		{"bad-keyid", "short", "--state", state},
		{"stop", "--wait", "soon", "--state", state},
		{"start", "--stale", "--state", state},
		{"serve", "--state", state},
		{"serve", "--socket", "s", "--timeout", "0", "--state", state},
		{"status", "--frobnicate", "--state", state},
		{"status", "--state"},
	} {
		var out, errb bytes.Buffer
		rc := run(argv, nil, &out, &errb)
		first, _, _ := strings.Cut(errb.String(), "\n")
		if rc != 2 || !strings.HasPrefix(first, "kmsplugin: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line", argv, rc, errb.String())
		}
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a bad command line created the state file")
	}
	// a missing state file is not a usage error, and is not created by edits
	var out, errb bytes.Buffer
	if rc := run([]string{"rotate", "--state", state}, nil, &out, &errb); rc != 1 {
		t.Fatalf("rotate without state: exit %d", rc)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("rotate created the state file")
	}
}
