// server.go: the serving process. It registers the real k8s.io/kms/pkg/service GRPCService (the
// handler the KMS v2 API is served by) on a gRPC server listening on a unix socket, and watches the
// state file so that `kmsplugin stop` closes the socket and `kmsplugin start` listens again without
// restarting the process. The listener is ours rather than GRPCService.ListenAndServe's so that it
// can be closed and reopened (ListenAndServe sets its server field unsynchronised) and so that
// "stop --stale" can leave the socket file behind.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	kmsapi "k8s.io/kms/apis/v2"
	kmsservice "k8s.io/kms/pkg/service"
)

// watchPeriod is how often the server re-reads the state file for stop/start.
const watchPeriod = 50 * time.Millisecond

type serveOptions struct {
	socket      string
	statePath   string
	timeout     time.Duration // grpc.ConnectionTimeout, as GRPCService.ListenAndServe uses
	annotations bool
	log         io.Writer
}

// listener is one open socket with its gRPC server.
type listener struct {
	gs *grpc.Server
	ln *net.UnixListener
}

// listen removes a stale socket file and starts serving on a new one (mode 0600).
func listen(o serveOptions, handler kmsapi.KeyManagementServiceServer) (*listener, error) {
	if err := os.Remove(o.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %v", o.socket, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: o.socket, Net: "unix"})
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(o.socket, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	gs := grpc.NewServer(grpc.ConnectionTimeout(o.timeout))
	kmsapi.RegisterKeyManagementServiceServer(gs, handler)
	go func() { _ = gs.Serve(ln) }()
	return &listener{gs: gs, ln: ln}, nil
}

// close stops serving at once (open RPCs are cancelled); stale leaves the socket file in place.
func (l *listener) close(stale bool) {
	l.ln.SetUnlinkOnClose(!stale)
	l.gs.Stop()
}

// serve runs until ctx ends: it records its socket and pid in the state (creating the state with a
// first KEK when there is none), then follows the state's serving flag.
func serve(ctx context.Context, o serveOptions) error {
	if o.log != nil {
		o.log = &syncWriter{w: o.log}
	}
	s, err := updateState(o.statePath, true, func(s *pluginState) error {
		s.Socket, s.PID, s.Serving, s.StopMode = o.socket, os.Getpid(), true, ""
		return nil
	})
	if err != nil {
		return err
	}
	plugin := newKMSPlugin(o.statePath, o.annotations, o.log)
	var handler kmsapi.KeyManagementServiceServer = kmsservice.NewGRPCService(o.socket, o.timeout, plugin)
	cur, err := listen(o, handler)
	if err != nil {
		return err
	}
	logf(o.log, "serving on %s, key_id %s, state %s", o.socket, s.Current, o.statePath)
	tick := time.NewTicker(watchPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if cur != nil {
				cur.close(false)
			}
			logf(o.log, "stopped")
			return nil
		case <-tick.C:
		}
		s, err := loadState(o.statePath)
		if err != nil {
			logf(o.log, "state: %v", err)
			continue
		}
		switch {
		case !s.Serving && cur != nil:
			cur.close(s.StopMode == "stale")
			cur = nil
			logf(o.log, "socket closed (stop, mode %q)", s.StopMode)
		case s.Serving && cur == nil:
			if cur, err = listen(o, handler); err != nil {
				logf(o.log, "listen: %v", err)
				cur = nil
				continue
			}
			logf(o.log, "serving again on %s", o.socket)
		}
	}
}

// syncWriter serialises the log lines of concurrent calls.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "kmsplugin: t=%d "+format+"\n", append([]any{time.Now().UnixMilli()}, args...)...)
	}
}
