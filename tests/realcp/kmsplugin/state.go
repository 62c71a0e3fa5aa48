// state.go: the plugin's state file, the one place both the serving process and the CLI commands
// read: the KEKs (AES-256 keys, base64), the current key_id, the faults to inject and whether to
// serve. The file is JSON, mode 0600, replaced atomically (write aside, fsync, rename) under an
// flock on "<state>.lock", so the server may re-read it on every call without locking.
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// kek is one key encryption key. IDs are never reused: see newKeyID.
type kek struct {
	ID      string    `json:"id"`
	Key     string    `json:"key"`
	Created time.Time `json:"created"`
}

// faults are what the server injects into calls. Methods lists hold "status", "encrypt",
// "decrypt"; an empty list means every method. Generation changes on every edit, so the server
// restarts its failure counter when the fault changes.
type faults struct {
	Generation     uint64   `json:"generation"`
	Latency        string   `json:"latency,omitempty"`
	LatencyMethods []string `json:"latency_methods,omitempty"`
	FailRatio      float64  `json:"fail_ratio,omitempty"`
	FailCode       string   `json:"fail_code,omitempty"`
	FailMethods    []string `json:"fail_methods,omitempty"`
	// Healthz, when set, is what Status reports instead of "ok".
	Healthz string `json:"healthz,omitempty"`
	// StatusKeyID, when set, makes Status report a bad key_id: "empty" or "long" (1025 bytes).
	StatusKeyID string `json:"status_key_id,omitempty"`
}

// pluginState is the whole state file.
type pluginState struct {
	Current string `json:"current"`
	Serial  int    `json:"serial"`
	Keys    []kek  `json:"keys"`
	Faults  faults `json:"faults"`
	// Serving false: the server closes its socket until Serving is true again. StopMode "stale"
	// leaves the socket file behind with nobody listening (connection refused) instead of removing it.
	Serving  bool   `json:"serving"`
	StopMode string `json:"stop_mode,omitempty"`
	// Written by serve: where it listens and its pid (the CLI waits for it to act on stop/start).
	Socket string `json:"socket,omitempty"`
	PID    int    `json:"pid,omitempty"`
}

// keyByID returns the raw KEK with that id, or nil.
func (s *pluginState) keyByID(id string) ([]byte, error) {
	for _, k := range s.Keys {
		if k.ID == id {
			raw, err := base64.StdEncoding.DecodeString(k.Key)
			if err != nil || len(raw) != 32 {
				return nil, fmt.Errorf("state: key %q is not 32 bytes of base64", id)
			}
			return raw, nil
		}
	}
	return nil, nil
}

// rotate adds a new KEK and makes it current; it returns the new key_id. The id carries a serial
// that only grows and 4 random bytes, so it differs from every earlier one even across state files.
func (s *pluginState) rotate(now time.Time) (string, error) {
	key := make([]byte, 32)
	suffix := make([]byte, 4)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	if _, err := rand.Read(suffix); err != nil {
		return "", err
	}
	s.Serial++
	id := fmt.Sprintf("kek-%d-%s", s.Serial, hex.EncodeToString(suffix))
	for _, k := range s.Keys {
		if k.ID == id {
			return "", fmt.Errorf("state: key_id %s already exists", id)
		}
	}
	s.Keys = append(s.Keys, kek{ID: id, Key: base64.StdEncoding.EncodeToString(key), Created: now.UTC()})
	s.Current = id
	return id, nil
}

// loadState reads the state file; the file must be 0600 (it holds keys).
func loadState(path string) (*pluginState, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm() != 0o600 {
		return nil, fmt.Errorf("%s: mode %04o, want 0600 (it holds keys)", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s pluginState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if s.Current == "" || len(s.Keys) == 0 {
		return nil, fmt.Errorf("%s: no current key", path)
	}
	if k, err := s.keyByID(s.Current); err != nil || k == nil {
		return nil, fmt.Errorf("%s: current key %q missing or bad", path, s.Current)
	}
	return &s, nil
}

// writeState replaces the state file atomically with mode 0600.
func writeState(path string, s *pluginState) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kmsplugin-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// updateState runs edit on the state under the lock and writes the result. With create, a missing
// file starts as a fresh state with one KEK, serving.
func updateState(path string, create bool, edit func(*pluginState) error) (*pluginState, error) {
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s.lock: %v", path, err)
	}
	s, err := loadState(path)
	if errors.Is(err, os.ErrNotExist) && create {
		s = &pluginState{Serving: true}
		if _, err = s.rotate(time.Now()); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if err := edit(s); err != nil {
		return nil, err
	}
	if err := writeState(path, s); err != nil {
		return nil, err
	}
	return s, nil
}
