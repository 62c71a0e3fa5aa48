// decode_test.go: `kmsplugin decode` on values built here the way the KMS v2 envelope stores them
// (a seed wrapped by the running plugin, HKDF-derived DEK, AES-GCM with the etcd key as AAD), in an
// unusual field order and with an unknown field, and on broken values. The real apiserver's values
// are decoded by tests/realcp/kms_smoke.sh.
package main

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// sealStored builds "k8s:enc:kms:v2:NAME:" + EncryptedObject for plaintext under the plugin's KEK.
func sealStored(t *testing.T, f *fixture, etcdKey string, plaintext []byte) []byte {
	t.Helper()
	seed := make([]byte, 32)
	info := make([]byte, 32)
	nonce := make([]byte, 12)
	for _, b := range [][]byte{seed, info, nonce} {
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
	}
	e := f.encrypt(t, seed)
	dek, err := hkdf.Expand(sha256.New, seed, string(info), 32)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := newGCM(dek)
	if err != nil {
		t.Fatal(err)
	}
	data := append(append(info, nonce...), aead.Seal(nil, nonce, plaintext, []byte(etcdKey))...)
	b := []byte("k8s:enc:kms:v2:testkms:")
	b = protowire.AppendTag(b, 5, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	for k, v := range e.Annotations {
		var entry []byte
		entry = protowire.AppendTag(entry, 1, protowire.BytesType)
		entry = protowire.AppendString(entry, k)
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendBytes(entry, v)
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, entry)
	}
	b = protowire.AppendTag(b, 9, protowire.VarintType) // unknown: skipped
	b = protowire.AppendVarint(b, 7)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, e.Ciphertext)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, e.KeyId)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, data)
}

func decodeCLI(f *fixture, stored []byte, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := run(append([]string{"decode", "--state", f.state}, args...), bytes.NewReader(stored), &out, &errb)
	return rc, out.String(), errb.String()
}

func TestDecodeStoredValue(t *testing.T) {
	f := startPlugin(t, true)
	key := "/registry/secrets/default/s1"
	stored := sealStored(t, f, key, []byte("k8s\x00secret bytes"))
	rc, out, errs := decodeCLI(f, stored, "--etcd-key", key)
	if rc != 0 {
		t.Fatalf("decode: exit %d: %s", rc, errs)
	}
	var o encryptedObject
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatal(err)
	}
	plain, _ := base64.StdEncoding.DecodeString(o.PlaintextB64)
	if o.Provider != "testkms" || o.KeyID != f.cli(t, "keyid") || o.DEKSourceType != 1 || o.SeedLen != 32 ||
		o.Annotations[annotationKey] != annotationValue || string(plain) != "k8s\x00secret bytes" {
		t.Fatalf("decoded %+v", o)
	}
	if got := o.FieldOrder; len(got) != 6 || got[0] != 5 || got[len(got)-1] != 1 {
		t.Fatalf("field order %v", got)
	}
	// the DEK source is identified by its hash: another seal has another one
	var o2 encryptedObject
	_, out2, _ := decodeCLI(f, sealStored(t, f, key, []byte("x")))
	if err := json.Unmarshal([]byte(out2), &o2); err != nil || len(o.DEKSourceSHA256) != 64 || o2.DEKSourceSHA256 == o.DEKSourceSHA256 {
		t.Fatalf("encrypted_dek_source_sha256 %q and %q (%v)", o.DEKSourceSHA256, o2.DEKSourceSHA256, err)
	}
	// without --etcd-key it only decodes
	if rc, out, _ = decodeCLI(f, stored); rc != 0 || strings.Contains(out, "plaintext") {
		t.Fatalf("decode without key: exit %d, %s", rc, out)
	}
	// after a rotation the old KEK still opens it
	f.cli(t, "rotate")
	if rc, _, errs = decodeCLI(f, stored, "--etcd-key", key); rc != 0 {
		t.Fatalf("decode after rotate: %s", errs)
	}
	for name, tc := range map[string]struct {
		value []byte
		key   string
		want  string
	}{
		"wrong AAD":   {stored, "/registry/secrets/default/other", "does not authenticate"},
		"aescbc":      {[]byte("k8s:enc:aescbc:v1:key1:xxxx"), key, "does not start with"},
		"no name":     {[]byte("k8s:enc:kms:v2:"), key, "no provider name"},
		"truncated":   {stored[:len(stored)-5], key, "field 1"},
		"foreign KEK": {bytes.Replace(stored, []byte("kek-1-"), []byte("kek-9-"), 1), key, "not in the state file"},
	} {
		rc, _, errs := decodeCLI(f, tc.value, "--etcd-key", tc.key)
		if rc != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, %q; want exit 1 and %q", name, rc, errs, tc.want)
		}
	}
}
