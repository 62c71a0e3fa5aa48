#!/bin/sh
# run.sh: builds the libFuzzer harnesses (clang -fsanitize=fuzzer,address,undefined) and runs each for
# FUZZ_SECONDS (default 20) from its committed seed corpus (copied to a temp dir: new inputs are not
# written into the repo), with tests/fuzz/NAME.dict as its dictionary when there is one. FUZZ_TARGETS
# (names without fuzz_, space-separated; default all) picks some. FUZZ_JOBS (default 1) harnesses fuzz
# at once. FUZZ_KEEP_CORPUS=1 keeps each harness's corpus in build/fuzz/corpus/NAME between runs (the
# committed seeds are copied in each time), so short repeated runs go on from the coverage the last
# run reached instead of finding it again.
# Prints "ok fuzz_NAME: N runs in S s, cov C ft F, corpus K" / "not ok fuzz_NAME: why" / "SKIP ...";
# exit 1 on a crash. Crash inputs are kept in build/fuzz/crashes/, the logs in build/fuzz/NAME.log.
# A harness is compiled again only when its sources, a header, the flags or clang changed
# (build/fuzz/NAME.stamp).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
SECS=${FUZZ_SECONDS:-20}
JOBS=${FUZZ_JOBS:-1}
case $JOBS in '' | *[!0-9]* | 0*)
	echo "run.sh: FUZZ_JOBS=$JOBS: want a whole number of at least 1" >&2
	exit 2
	;;
esac
OUT=build/fuzz
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "SKIP fuzz: clang not installed"
	exit 0
fi
mkdir -p "$OUT/crashes"
probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' >"$probe/p.c"
if ! "$CLANG" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
	rm -rf "$probe"
	echo "SKIP fuzz: $CLANG has no libFuzzer runtime"
	exit 0
fi
rm -rf "$probe"
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -DREKEY_VERSION=\"fuzz\""
LIBS=$(pkg-config --libs libcrypto libsodium yaml-0.1 jansson libcurl)
CORE="src/util/pbwire.c src/util/err.c src/util/buf.c src/util/base64.c"
failed=0
# build_stamp SOURCES...: one line naming what a harness is built from (the compiler, flags and
# libraries, the sources and every header they could include); a harness whose stamp file matches is
# not compiled again.
build_stamp() {
	# shellcheck disable=SC2046,SC2086
	{ "$CLANG" --version; echo "$FLAGS $LIBS"; cat "$@" $(find include src tests/fuzz -name '*.h' | sort); } |
		sha256sum | cut -d' ' -f1
}
run() { # run NAME SOURCES...
	name=$1
	shift
	case " ${FUZZ_TARGETS:-${name#fuzz_}} " in *" ${name#fuzz_} "*) ;; *) return ;; esac
	# shellcheck disable=SC2086
	stamp=$(build_stamp "tests/fuzz/$name.c" "$@" $CORE)
	if [ -x "$OUT/$name" ] && [ "$(cat "$OUT/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
		: # built from these very sources, flags and compiler: reuse it
	elif ! $CLANG $FLAGS -o "$OUT/$name" "tests/fuzz/$name.c" "$@" $CORE $LIBS 2>"$OUT/$name.build.log"; then
		echo "not ok $name: build failed: $(head -c 300 "$OUT/$name.build.log")"
		rm -f "$OUT/$name.stamp"
		failed=1
		return
	else
		echo "$stamp" >"$OUT/$name.stamp"
	fi
	[ "$running" -ge "$JOBS" ] && collect
	fuzz "$name" &
	running=$((running + 1))
	ran="$ran $name"
}
# fuzz NAME: fuzzes one built harness for SECS seconds; its result line in $OUT/NAME.result.
fuzz() {
	name=$1
	if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
		corpus=$OUT/corpus/${name#fuzz_}
		mkdir -p "$corpus"
	else
		corpus=$(mktemp -d)
	fi
	cp "tests/fuzz/corpus/${name#fuzz_}/"* "$corpus/" 2>/dev/null
	dict=
	[ -f "tests/fuzz/${name#fuzz_}.dict" ] && dict="-dict=tests/fuzz/${name#fuzz_}.dict"
	# shellcheck disable=SC2086
	if "$OUT/$name" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=1024 -artifact_prefix="$OUT/crashes/$name-" \
		$dict "$corpus" >"$OUT/$name.log" 2>&1; then
		runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$OUT/$name.log" | tail -n 1)
		cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$OUT/$name.log" | tail -n 1 |
			sed 's/cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\)/cov \1 ft \2, corpus \3/')
		echo "ok $name: ${runs:-ran for ${SECS}s}, ${cov:-no coverage line}" >"$OUT/$name.result"
	else
		echo "not ok $name: crash, see $OUT/$name.log and $OUT/crashes/" >"$OUT/$name.result"
	fi
	[ "${FUZZ_KEEP_CORPUS:-0}" = 1 ] || rm -rf "$corpus"
}
# collect: waits for the harnesses fuzzing now and prints their result lines in the order they started.
collect() {
	wait
	for started in $ran; do
		cat "$OUT/$started.result" 2>/dev/null || echo "not ok $started: no result"
		grep -q '^ok ' "$OUT/$started.result" 2>/dev/null || failed=1
		rm -f "$OUT/$started.result"
	done
	ran= running=0
}
ran= running=0
run fuzz_snapshot src/verify/snapshot.c
run fuzz_classify src/codec/codec.c src/codec/codec_chain.c src/codec/codec_crypto.c src/codec/codec_object.c \
	src/encconfig/keys.c
run fuzz_encconfig src/encconfig/encconfig.c src/encconfig/encconfig_load.c src/encconfig/encconfig_validate.c src/encconfig/encconfig_edit.c \
	src/encconfig/encconfig_emit.c src/encconfig/encconfig_file.c src/encconfig/encconfig_select.c \
	src/encconfig/encconfig_splice.c src/encconfig/keys.c src/encconfig/keyfile.c \
	src/util/fsutil.c src/util/duration.c src/util/yamldoc.c
run fuzz_promtext src/metrics/promtext.c src/metrics/promhist.c src/metrics/promapi.c
run fuzz_etcdrange src/etcd/etcdrange.c src/grpc/grpc_wire.c
YAML="src/util/yamldoc.c src/util/fsutil.c src/util/clock.c src/util/duration.c src/encconfig/keys.c
	src/encconfig/encconfig.c"
# shellcheck disable=SC2086
run fuzz_plan src/plan/plan.c src/plan/plan_breakglass.c src/encconfig/keyfile.c src/encconfig/encconfig_validate.c src/util/tz.c src/rewrite/rewrite_settings.c $YAML
KUBE="src/kube/kube.c src/kube/kube_auth.c src/kube/kube_list.c src/kube/execcred.c src/kube/kubeconfig.c
	src/kube/kubeconfig_yaml.c src/util/child.c src/util/log.c $YAML"
# shellcheck disable=SC2086
run fuzz_kubeconfig $KUBE
# shellcheck disable=SC2086
run fuzz_execcred $KUBE
# shellcheck disable=SC2086
run fuzz_apijson $KUBE src/rewrite/rewrite_outcome.c src/rewrite/rewrite_settings.c
collect
exit $failed
