// decode.go: `kmsplugin decode` reads a value the kube-apiserver stored in etcd under KMS v2
// ("k8s:enc:kms:v2:<name>:" + protobuf EncryptedObject), decodes the protobuf by hand (field numbers
// from k8s.io/apiserver .../kmsv2/v2/api.proto: encryptedData=1, keyID=2, encryptedDEKSource=3,
// annotations=4 map<string,bytes>, encryptedDEKSourceType=5) and, given the state file holding the
// KEK, decrypts it independently of the apiserver: the DEK source unwrapped by this plugin's KEK; for
// type 1 (HKDF_SHA256_XNONCE_AES_GCM_SEED) the DEK is HKDF-Expand(SHA-256, seed, info = the first 32
// bytes of encryptedData), 32 bytes, then AES-256-GCM over nonce(12) || ciphertext || tag(16) with
// the etcd key as AAD; for type 0 (AES_GCM_KEY) the DEK source is the key itself, no info.
package main

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

const kmsV2Prefix = "k8s:enc:kms:v2:"

// encryptedObject is the decoded EncryptedObject plus what decryption found.
type encryptedObject struct {
	Provider           string            `json:"provider"`
	FieldOrder         []int             `json:"field_order"`
	KeyID              string            `json:"key_id"`
	DEKSourceType      uint64            `json:"encrypted_dek_source_type"`
	DEKSourceLen       int               `json:"encrypted_dek_source_len"`
	DEKSourceSHA256    string            `json:"encrypted_dek_source_sha256"`
	Annotations        map[string]string `json:"annotations"`
	EncryptedDataLen   int               `json:"encrypted_data_len"`
	SeedLen            int               `json:"dek_source_plaintext_len,omitempty"`
	PlaintextLen       int               `json:"plaintext_len,omitempty"`
	PlaintextB64       string            `json:"plaintext_b64,omitempty"`
	PlaintextSHA256    string            `json:"plaintext_sha256,omitempty"`
	encryptedData      []byte
	encryptedDEKSource []byte
}

// parseStored splits the prefix and decodes the EncryptedObject protobuf.
func parseStored(value []byte) (*encryptedObject, error) {
	if !strings.HasPrefix(string(value), kmsV2Prefix) {
		return nil, fmt.Errorf("value does not start with %q", kmsV2Prefix)
	}
	rest := value[len(kmsV2Prefix):]
	i := strings.IndexByte(string(rest), ':')
	if i <= 0 {
		return nil, fmt.Errorf("no provider name after %q", kmsV2Prefix)
	}
	o := &encryptedObject{Provider: string(rest[:i]), Annotations: map[string]string{}}
	b := rest[i+1:]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("bad protobuf tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		o.FieldOrder = append(o.FieldOrder, int(num))
		var err error
		if b, err = o.consumeField(num, typ, b); err != nil {
			return nil, fmt.Errorf("field %d: %v", num, err)
		}
	}
	return o, nil
}

// consumeField stores one field of the EncryptedObject and returns the bytes after it.
func (o *encryptedObject) consumeField(num protowire.Number, typ protowire.Type, b []byte) ([]byte, error) {
	if num == 5 && typ == protowire.VarintType {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		o.DEKSourceType = v
		return b[n:], nil
	}
	if typ != protowire.BytesType || num < 1 || num > 4 {
		n := protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		return b[n:], nil // unknown fields are skipped, as proto.Unmarshal does
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return nil, protowire.ParseError(n)
	}
	switch num {
	case 1:
		o.encryptedData, o.EncryptedDataLen = v, len(v)
	case 2:
		o.KeyID = string(v)
	case 3:
		sum := sha256.Sum256(v)
		o.encryptedDEKSource, o.DEKSourceLen, o.DEKSourceSHA256 = v, len(v), hex.EncodeToString(sum[:])
	case 4:
		k, val, err := parseMapEntry(v)
		if err != nil {
			return nil, err
		}
		o.Annotations[k] = string(val)
	}
	return b[n:], nil
}

// parseMapEntry decodes one map<string,bytes> entry: key = 1, value = 2.
func parseMapEntry(b []byte) (string, []byte, error) {
	var key string
	var val []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return "", nil, fmt.Errorf("bad map entry")
		}
		v, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return "", nil, protowire.ParseError(m)
		}
		if num == 1 {
			key = string(v)
		} else if num == 2 {
			val = v
		}
		b = b[n+m:]
	}
	return key, val, nil
}

// decrypt unwraps the DEK source with the state's KEK and opens encryptedData with aad (the etcd key).
func (o *encryptedObject) decrypt(s *pluginState, aad string) error {
	kek, err := s.keyByID(o.KeyID)
	if err != nil {
		return err
	}
	if kek == nil {
		return fmt.Errorf("key_id %q is not in the state file", o.KeyID)
	}
	seed, err := unwrap(kek, o.KeyID, o.encryptedDEKSource)
	if err != nil {
		return err
	}
	o.SeedLen = len(seed)
	data := o.encryptedData
	dek := seed
	switch o.DEKSourceType {
	case 1:
		if len(data) < 32 {
			return fmt.Errorf("encryptedData shorter than the 32-byte info")
		}
		if dek, err = hkdf.Expand(sha256.New, seed, string(data[:32]), 32); err != nil {
			return err
		}
		data = data[32:]
	case 0:
	default:
		return fmt.Errorf("unknown encryptedDEKSourceType %d", o.DEKSourceType)
	}
	aead, err := newGCM(dek)
	if err != nil {
		return err
	}
	if len(data) < aead.NonceSize()+aead.Overhead() {
		return fmt.Errorf("encryptedData too short")
	}
	plain, err := aead.Open(nil, data[:12], data[12:], []byte(aad))
	if err != nil {
		return fmt.Errorf("encryptedData does not authenticate with AAD %q", aad)
	}
	sum := sha256.Sum256(plain)
	o.PlaintextLen, o.PlaintextB64, o.PlaintextSHA256 = len(plain), base64.StdEncoding.EncodeToString(plain), hex.EncodeToString(sum[:])
	return nil
}

// cmdDecode: kmsplugin decode [--etcd-key KEY] --state FILE < value; with --etcd-key it decrypts.
func cmdDecode(c cmdline, stdin io.Reader, stdout io.Writer) error {
	if err := c.allow("decode", 0, "state", "etcd-key"); err != nil {
		return err
	}
	value, err := io.ReadAll(stdin)
	if err != nil {
		return err
	}
	o, err := parseStored(value)
	if err != nil {
		return err
	}
	if key, ok := c.flags["etcd-key"]; ok {
		s, err := loadState(c.flags["state"])
		if err != nil {
			return err
		}
		if err := o.decrypt(s, key); err != nil {
			return err
		}
	}
	out, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	return nil
}
