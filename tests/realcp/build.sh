#!/bin/sh
# build.sh: builds the real control plane (kube-apiserver, kubectl, etcd, etcdctl) from the Go modules in
# tests/realcp/ into build/realcp/bin/ under the repository root.
#
# Each module's binaries are rebuilt only when its go.mod, go.sum or this script changed since the
# last successful build (build/realcp/apiserver.stamp and etcd.stamp hold their sha256); a warm run
# does not call go at all. A failed download or build stops here with Go's error and a non-zero exit.
# It also builds kmsplugin, the KMS v2 test plugin (tests/realcp/kmsplugin), stamped the same way
# (build/realcp/kmsplugin.stamp also covers the plugin's .go files).
#
# Environment: REALCP_OUT (output dir, default build/realcp/bin; the stamps go in its parent),
# REALCP_FORCE=1 (rebuild anyway), REALCP_JOBS (go build -p, default 2). GOMODCACHE and GOCACHE
# keep their defaults so downloads and compiled packages persist between runs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${REALCP_OUT:-$top/build/realcp/bin}
stampdir=$(dirname "$out")
jobs=${REALCP_JOBS:-2}

# Pinned versions: keep in step with apiserver/go.mod, etcd/go.mod and README.md.
K8S_VERSION=v1.34.4
K8S_MAJOR=1
K8S_MINOR=34
# Release date of k8s.io/kubernetes v1.34.4 on the module proxy (its .info Time): a fixed buildDate
# keeps the binary reproducible.
K8S_BUILD_DATE=2026-02-10T12:53:36Z

now() { date +%s; }
t_start=$(now)

# stamp_of MODULE_DIR: the text recorded for a build of that module.
stamp_of() {
	(cd "$here" && sha256sum "$1/go.mod" "$1/go.sum" $(find "$1" -name '*.go' | sort) build.sh)
}

# fresh MODULE BINARY...: true when every binary exists and the stamp matches the current files.
fresh() {
	mod=$1
	shift
	[ "${REALCP_FORCE:-0}" = 1 ] && return 1
	[ -f "$stampdir/$mod.stamp" ] || return 1
	for b in "$@"; do
		[ -x "$out/$b" ] || return 1
	done
	[ "$(stamp_of "$mod")" = "$(cat "$stampdir/$mod.stamp")" ]
}

need_apiserver=1
need_etcd=1
fresh apiserver kube-apiserver kubectl && need_apiserver=0
fresh etcd etcd etcdctl && need_etcd=0
need_kmsplugin=1
fresh kmsplugin kmsplugin && need_kmsplugin=0
if [ "$need_apiserver" = 0 ] && [ "$need_etcd" = 0 ] && [ "$need_kmsplugin" = 0 ]; then
	echo "realcp: up to date in $out (kube-apiserver and kubectl $K8S_VERSION, etcd, etcdctl, kmsplugin; $(($(now) - t_start)) s)"
	exit 0
fi

command -v go >/dev/null 2>&1 || {
	echo "realcp: go is not installed (Go >= 1.26 is needed to build kube-apiserver and etcd)" >&2
	exit 1
}

# The committed go.sum files are the trust anchor: -mod=readonly makes a missing or different hash
# an error, and a build with a complete go.sum never asks the checksum database. Keep GOSUMDB as
# configured when the database answers (directly or through GOPROXY's /sumdb/ endpoint), else turn
# it off, which changes nothing for a build whose go.sum is complete.
sumdb=$(go env GOSUMDB)
if [ "$sumdb" != off ]; then
	name=${sumdb%% *}
	proxy=$(go env GOPROXY | sed 's/[,|].*//')
	reach=0
	if command -v curl >/dev/null 2>&1; then
		case "$proxy" in
		http*) if curl -fsS -m 10 -o /dev/null "$proxy/sumdb/$name/supported" 2>/dev/null; then reach=1; fi ;;
		esac
		if [ "$reach" = 0 ] && curl -fsS -m 10 -o /dev/null "https://$name/latest" 2>/dev/null; then
			reach=1
		fi
	fi
	if [ "$reach" = 0 ]; then
		echo "realcp: checksum database $name unreachable: GOSUMDB=off, the committed go.sum files are the check"
		export GOSUMDB=off
	fi
fi

mkdir -p "$out" "$stampdir"
echo "realcp: $(go version), GOMODCACHE=$(go env GOMODCACHE), -p $jobs"

# gobuild MODULE_DIR OUTPUT PACKAGE [extra go build flags]: builds one binary atomically.
gobuild() {
	mod=$1 bin=$2 pkg=$3
	shift 3
	t0=$(now)
	echo "realcp: building $bin ($pkg)"
	rm -f "$out/.$bin.tmp"
	if ! (cd "$here/$mod" && CGO_ENABLED=0 go build -mod=readonly -trimpath -p "$jobs" "$@" \
		-o "$out/.$bin.tmp" "$pkg"); then
		rm -f "$out/.$bin.tmp"
		echo "realcp: building $bin failed (see Go's error above)" >&2
		exit 1
	fi
	mv -f "$out/.$bin.tmp" "$out/$bin"
	echo "realcp: built $bin in $(($(now) - t0)) s"
}

if [ "$need_etcd" = 1 ]; then
	rm -f "$stampdir/etcd.stamp"
	gobuild etcd etcd go.etcd.io/etcd/server/v3
	gobuild etcd etcdctl go.etcd.io/etcd/etcdctl/v3
	stamp_of etcd >"$stampdir/etcd.stamp"
fi

# The KMS v2 test plugin: a small module on k8s.io/kms (seconds to build).
if [ "$need_kmsplugin" = 1 ]; then
	rm -f "$stampdir/kmsplugin.stamp"
	gobuild kmsplugin kmsplugin .
	stamp_of kmsplugin >"$stampdir/kmsplugin.stamp"
fi

if [ "$need_apiserver" = 1 ]; then
	rm -f "$stampdir/apiserver.stamp"
	ldflags="-s -w"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$K8S_MAJOR"
		ldflags="$ldflags -X $pkg.gitMinor=$K8S_MINOR -X $pkg.gitTreeState=clean"
		ldflags="$ldflags -X $pkg.buildDate=$K8S_BUILD_DATE"
	done
	gobuild apiserver kube-apiserver ./kube-apiserver -ldflags "$ldflags"
	gobuild apiserver kubectl k8s.io/kubernetes/cmd/kubectl -ldflags "$ldflags"
	stamp_of apiserver >"$stampdir/apiserver.stamp"
fi

echo "realcp: done in $(($(now) - t_start)) s: $out"
