// Command kube-apiserver is the upstream kube-apiserver command (k8s.io/kubernetes/cmd/kube-apiserver,
// same imports, same app.NewAPIServerCommand) with two test knobs, each a package variable upstream
// exports for its own tests; unset, the binary behaves exactly as upstream's:
//   - REKEY_ENCRYPTION_CONFIG_POLL holds a Go duration (e.g. "2s"): --encryption-provider-config-
//     automatic-reload polls the file that often instead of every minute
//     (controller.EncryptionConfigFileChangePollDuration, "so that integration tests can crank up the
//     reload speed").
//   - REKEY_KMSV2_CLOCK_SKEW_FILE names a file: the KMS v2 clock (kmsv2.NowFunc, "exported so tests can
//     override it") reads the wall clock plus the Go duration that file holds when it exists (re-read
//     on every call; absent: no skew). Writing "5m" there expires every cached write DEK seed at once,
//     as upstream's integration test does by moving NowFunc 5 minutes forward, instead of waiting out
//     the 3 minutes writes stay possible after the plugin's last good Status.
package main

import (
	"fmt"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // as upstream: time zones for CronJob

	"k8s.io/apiserver/pkg/server/options/encryptionconfig/controller"
	"k8s.io/apiserver/pkg/storage/value/encrypt/envelope/kmsv2"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	if text := os.Getenv("REKEY_ENCRYPTION_CONFIG_POLL"); text != "" {
		period, err := time.ParseDuration(text)
		if err != nil || period <= 0 {
			fmt.Fprintf(os.Stderr, "REKEY_ENCRYPTION_CONFIG_POLL=%q: want a positive Go duration\n", text)
			os.Exit(2)
		}
		controller.EncryptionConfigFileChangePollDuration = period
	}
	if path := os.Getenv("REKEY_KMSV2_CLOCK_SKEW_FILE"); path != "" {
		kmsv2.NowFunc = func() time.Time { return time.Now().Add(clockSkew(path)) }
	}
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}

// clockSkew returns the Go duration held in the file at path: zero when the file does not exist, and
// zero with a line on stderr when it holds anything else than a duration.
func clockSkew(path string) time.Duration {
	text, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	skew, err := time.ParseDuration(strings.TrimSpace(string(text)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "REKEY_KMSV2_CLOCK_SKEW_FILE %s: %q is not a Go duration; no skew\n", path, text)
		return 0
	}
	return skew
}
