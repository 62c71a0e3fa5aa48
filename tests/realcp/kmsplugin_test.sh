#!/bin/sh
# kmsplugin_test.sh: runs the Go tests of the KMS v2 test plugin (tests/realcp/kmsplugin): the
# plugin served on a unix socket in a temp dir and called over gRPC (round trip, rotation, faults,
# stop/start, decode, bad command lines). With the race detector when cgo can build it.
# Exits with go test's status. Environment: KMSPLUGIN_TEST_FLAGS (extra go test flags, e.g. -v).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
command -v go >/dev/null 2>&1 || {
	echo "kmsplugin_test: go is not installed" >&2
	exit 1
}
race=""
if [ "$(go env CGO_ENABLED)" = 1 ] && command -v "$(go env CC)" >/dev/null 2>&1; then race=-race; fi
cd "$here/kmsplugin"
# -mod=readonly: the committed go.sum is the check, as in build.sh
# shellcheck disable=SC2086
exec go test -mod=readonly -count=1 $race ${KMSPLUGIN_TEST_FLAGS:-} ./...
