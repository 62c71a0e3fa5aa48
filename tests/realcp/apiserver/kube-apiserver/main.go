// Command kube-apiserver is the upstream kube-apiserver command (k8s.io/kubernetes/cmd/kube-apiserver,
// same imports, same app.NewAPIServerCommand) with one test knob: when REKEY_ENCRYPTION_CONFIG_POLL
// holds a Go duration (e.g. "2s"), --encryption-provider-config-automatic-reload polls the file that
// often instead of every minute, through the package variable upstream exports so that its own
// integration tests can crank up the reload speed. Unset, the binary behaves exactly as upstream's.
package main

import (
	"fmt"
	"os"
	"time"
	_ "time/tzdata" // as upstream: time zones for CronJob

	"k8s.io/apiserver/pkg/server/options/encryptionconfig/controller"
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
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
