// main.go: the kmsplugin command line. `serve` runs the KMS v2 plugin on a unix socket; every other
// command edits the state file the running server re-reads (rotate, faults, stop/start) or reads it
// (status, keyid). Usage errors print one line and exit 2; other failures exit 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	kmsapi "k8s.io/kms/apis/v2"
)

const usage = `usage:
  kmsplugin serve --socket PATH --state FILE [--timeout 3s] [--no-annotations]
  kmsplugin rotate --state FILE                      new KEK, prints its key_id
  kmsplugin latency DURATION|off [--methods LIST] --state FILE
  kmsplugin fail RATIO CODE|off [--methods LIST] --state FILE   e.g. fail 0.5 unavailable
  kmsplugin healthz TEXT|ok --state FILE             Status healthz text ("ok" = healthy)
  kmsplugin bad-keyid empty|long|off --state FILE    Status reports an invalid key_id
  kmsplugin stop [--stale] [--wait 10s] --state FILE close the socket (--stale: leave the file)
  kmsplugin start [--wait 10s] --state FILE          listen again
  kmsplugin clear --state FILE                       remove every fault
  kmsplugin status --state FILE                      state and the Status RPC, as JSON
  kmsplugin keyid --state FILE                       the current key_id
  kmsplugin decode [--etcd-key KEY] --state FILE < VALUE
      decodes a stored k8s:enc:kms:v2: value as JSON; with --etcd-key also decrypts it
LIST: comma-separated status,encrypt,decrypt (default: all).`

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// cmdline is a parsed command: positional arguments and --flags (value flags and switches).
type cmdline struct {
	args  []string
	flags map[string]string
}

var valueFlags = map[string]bool{"state": true, "socket": true, "timeout": true, "methods": true, "wait": true,
	"etcd-key": true}
var switchFlags = map[string]bool{"stale": true, "no-annotations": true}

func parseCmdline(argv []string) (cmdline, error) {
	c := cmdline{flags: map[string]string{}}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "--") {
			c.args = append(c.args, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		switch {
		case switchFlags[name] && !hasVal:
			c.flags[name] = "true"
		case valueFlags[name] && hasVal:
			c.flags[name] = val
		case valueFlags[name] && i+1 < len(argv):
			i++
			c.flags[name] = argv[i]
		case valueFlags[name]:
			return c, usagef("--%s needs a value", name)
		default:
			return c, usagef("unknown option %s", a)
		}
	}
	return c, nil
}

// allow checks the flags and the number of positional arguments of a command.
func (c cmdline) allow(cmd string, nargs int, flags ...string) error {
	for f := range c.flags {
		ok := false
		for _, g := range flags {
			ok = ok || f == g
		}
		if !ok {
			return usagef("%s: option --%s not accepted", cmd, f)
		}
	}
	if len(c.args) != nargs {
		return usagef("%s: expected %d argument(s), got %d", cmd, nargs, len(c.args))
	}
	if c.flags["state"] == "" {
		return usagef("%s: --state FILE is required", cmd)
	}
	return nil
}

func parseMethods(list string) ([]string, error) {
	if list == "" {
		return nil, nil
	}
	var out []string
	for _, m := range strings.Split(list, ",") {
		if m != "status" && m != "encrypt" && m != "decrypt" {
			return nil, usagef("--methods: unknown method %q (status, encrypt, decrypt)", m)
		}
		out = append(out, m)
	}
	return out, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command and returns the exit status.
func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(argv, stdin, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "kmsplugin: %s\n", ue.msg)
		return 2
	default:
		fmt.Fprintf(stderr, "kmsplugin: %v\n", err)
		return 1
	}
}

func dispatch(argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(argv) == 0 {
		return usagef("no command\n%s", usage)
	}
	cmd := argv[0]
	c, err := parseCmdline(argv[1:])
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return cmdServe(c, stderr)
	case "rotate":
		return cmdRotate(c, stdout)
	case "latency":
		return cmdLatency(c)
	case "fail":
		return cmdFail(c)
	case "healthz":
		return cmdEdit(c, cmd, 1, func(s *pluginState) error {
			s.Faults.Healthz = ""
			if c.args[0] != "ok" {
				s.Faults.Healthz = c.args[0]
			}
			return nil
		})
	case "bad-keyid":
		return cmdBadKeyID(c)
	case "clear":
		return cmdEdit(c, cmd, 0, func(s *pluginState) error {
			s.Faults = faults{Generation: s.Faults.Generation}
			return nil
		})
	case "stop", "start":
		return cmdStopStart(c, cmd == "start")
	case "status":
		return cmdStatus(c, stdout)
	case "keyid":
		return cmdKeyID(c, stdout)
	case "decode":
		return cmdDecode(c, stdin, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usagef("unknown command %q (try: kmsplugin help)", cmd)
}

func cmdServe(c cmdline, stderr io.Writer) error {
	if err := c.allow("serve", 0, "state", "socket", "timeout", "no-annotations"); err != nil {
		return err
	}
	o := serveOptions{socket: c.flags["socket"], statePath: c.flags["state"], timeout: 3 * time.Second,
		annotations: c.flags["no-annotations"] == "", log: stderr}
	if o.socket == "" {
		return usagef("serve: --socket PATH is required")
	}
	if t, ok := c.flags["timeout"]; ok {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return usagef("serve: --timeout %q is not a positive duration", t)
		}
		o.timeout = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, o)
}

// cmdEdit applies edit to an existing state file; every edit starts a new fault generation.
func cmdEdit(c cmdline, cmd string, nargs int, edit func(*pluginState) error, flags ...string) error {
	if err := c.allow(cmd, nargs, append(flags, "state")...); err != nil {
		return err
	}
	_, err := updateState(c.flags["state"], false, func(s *pluginState) error {
		if err := edit(s); err != nil {
			return err
		}
		s.Faults.Generation++
		return nil
	})
	return err
}

func cmdRotate(c cmdline, stdout io.Writer) error {
	var id string
	err := cmdEdit(c, "rotate", 0, func(s *pluginState) (err error) {
		id, err = s.rotate(time.Now())
		return err
	})
	if err == nil {
		fmt.Fprintln(stdout, id)
	}
	return err
}

func cmdLatency(c cmdline) error {
	var d time.Duration
	if len(c.args) == 1 && c.args[0] != "off" {
		var err error
		if d, err = time.ParseDuration(c.args[0]); err != nil || d < 0 {
			return usagef("latency: %q is not a duration (e.g. 200ms, 5s, off)", c.args[0])
		}
	}
	methods, err := parseMethods(c.flags["methods"])
	if err != nil {
		return err
	}
	return cmdEdit(c, "latency", 1, func(s *pluginState) error {
		s.Faults.Latency, s.Faults.LatencyMethods = "", nil
		if d > 0 {
			s.Faults.Latency, s.Faults.LatencyMethods = d.String(), methods
		}
		return nil
	}, "methods")
}

func cmdFail(c cmdline) error {
	nargs, ratio, code := 2, 0.0, ""
	if len(c.args) == 1 && c.args[0] == "off" {
		nargs = 1
	} else if len(c.args) == 2 {
		var err error
		if ratio, err = strconv.ParseFloat(c.args[0], 64); err != nil || ratio < 0 || ratio > 1 {
			return usagef("fail: ratio %q is not a number from 0 to 1", c.args[0])
		}
		if _, err := parseCode(c.args[1]); err != nil {
			return usagef("fail: %v", err)
		}
		code = c.args[1]
	}
	methods, err := parseMethods(c.flags["methods"])
	if err != nil {
		return err
	}
	return cmdEdit(c, "fail", nargs, func(s *pluginState) error {
		s.Faults.FailRatio, s.Faults.FailCode, s.Faults.FailMethods = 0, "", nil
		if ratio > 0 {
			s.Faults.FailRatio, s.Faults.FailCode, s.Faults.FailMethods = ratio, code, methods
		}
		return nil
	}, "methods")
}

func cmdBadKeyID(c cmdline) error {
	if len(c.args) == 1 && c.args[0] != "empty" && c.args[0] != "long" && c.args[0] != "off" {
		return usagef("bad-keyid: %q is not empty, long or off", c.args[0])
	}
	return cmdEdit(c, "bad-keyid", 1, func(s *pluginState) error {
		s.Faults.StatusKeyID = ""
		if c.args[0] != "off" {
			s.Faults.StatusKeyID = c.args[0]
		}
		return nil
	})
}

// pidAlive reports whether a process with that pid exists.
func pidAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// socketAccepts reports whether something accepts connections on the unix socket.
func socketAccepts(path string) bool {
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// cmdStopStart flips the serving flag, then waits until the running server has acted on it (the
// socket refuses or accepts connections); without a running server it only records the flag.
func cmdStopStart(c cmdline, start bool) error {
	cmd := map[bool]string{false: "stop", true: "start"}[start]
	flags := []string{"state", "wait"}
	if !start {
		flags = append(flags, "stale")
	}
	if err := c.allow(cmd, 0, flags...); err != nil {
		return err
	}
	wait := 10 * time.Second
	if w, ok := c.flags["wait"]; ok {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 {
			return usagef("%s: --wait %q is not a duration", cmd, w)
		}
		wait = d
	}
	s, err := updateState(c.flags["state"], false, func(s *pluginState) error {
		s.Serving, s.StopMode = start, ""
		if c.flags["stale"] != "" {
			s.StopMode = "stale"
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !pidAlive(s.PID) || s.Socket == "" {
		return nil
	}
	deadline := time.Now().Add(wait)
	for socketAccepts(s.Socket) != start {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: server pid %d did not act within %s", cmd, s.PID, wait)
		}
		time.Sleep(watchPeriod / 2)
	}
	return nil
}

// statusReport is what `status` prints.
type statusReport struct {
	Current  string   `json:"current"`
	KeyIDs   []string `json:"key_ids"`
	Faults   faults   `json:"faults"`
	Serving  bool     `json:"serving"`
	StopMode string   `json:"stop_mode,omitempty"`
	Socket   string   `json:"socket,omitempty"`
	PID      int      `json:"pid,omitempty"`
	PIDAlive bool     `json:"pid_alive"`
	RPC      any      `json:"rpc"`
}

// callStatus calls the Status RPC over the socket.
func callStatus(socket string, timeout time.Duration) (*kmsapi.StatusResponse, error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return kmsapi.NewKeyManagementServiceClient(conn).Status(ctx, &kmsapi.StatusRequest{})
}

func cmdStatus(c cmdline, stdout io.Writer) error {
	if err := c.allow("status", 0, "state"); err != nil {
		return err
	}
	s, err := loadState(c.flags["state"])
	if err != nil {
		return err
	}
	r := statusReport{Current: s.Current, Faults: s.Faults, Serving: s.Serving, StopMode: s.StopMode,
		Socket: s.Socket, PID: s.PID, PIDAlive: pidAlive(s.PID)}
	for _, k := range s.Keys {
		r.KeyIDs = append(r.KeyIDs, k.ID)
	}
	if s.Socket != "" {
		resp, err := callStatus(s.Socket, 3*time.Second)
		if err != nil {
			st := status.Convert(err)
			r.RPC = map[string]string{"code": st.Code().String(), "message": st.Message()}
		} else {
			r.RPC = map[string]string{"code": "OK", "version": resp.Version, "healthz": resp.Healthz, "key_id": resp.KeyId}
		}
	}
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	return nil
}

func cmdKeyID(c cmdline, stdout io.Writer) error {
	if err := c.allow("keyid", 0, "state"); err != nil {
		return err
	}
	s, err := loadState(c.flags["state"])
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, s.Current)
	return nil
}
