#!/bin/sh
# run.sh: builds the libFuzzer harnesses (clang -fsanitize=fuzzer,address,undefined) and runs each for
# FUZZ_SECONDS (default 20) from its committed seed corpus (copied to a temp dir: new inputs are not
# written into the repo). Prints "ok fuzz_NAME" / "not ok fuzz_NAME: why" / "SKIP ..."; exit 1 on a
# crash. Crash inputs are kept in build/fuzz/crashes/.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
SECS=${FUZZ_SECONDS:-20}
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
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude"
LIBS=$(pkg-config --libs libcrypto libsodium yaml-0.1)
CORE="src/util/pbwire.c src/util/err.c src/util/buf.c src/util/base64.c"
failed=0
run() { # run NAME SOURCES...
	name=$1
	shift
	if ! $CLANG $FLAGS -o "$OUT/$name" "tests/fuzz/$name.c" "$@" $CORE $LIBS 2>"$OUT/$name.build.log"; then
		echo "not ok $name: build failed: $(head -c 300 "$OUT/$name.build.log")"
		failed=1
		return
	fi
	corpus=$(mktemp -d)
	cp "tests/fuzz/corpus/${name#fuzz_}/"* "$corpus/" 2>/dev/null
	if "$OUT/$name" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=1024 -artifact_prefix="$OUT/crashes/$name-" \
		"$corpus" >"$OUT/$name.log" 2>&1; then
		runs=$(grep -Eo 'Done [0-9]+ runs' "$OUT/$name.log" | tail -n 1)
		echo "ok $name: ${runs:-ran} in ${SECS}s"
	else
		echo "not ok $name: crash, see $OUT/$name.log and $OUT/crashes/"
		failed=1
	fi
	rm -rf "$corpus"
}
run fuzz_snapshot src/verify/snapshot.c
run fuzz_classify src/codec/codec.c src/codec/codec_chain.c src/codec/codec_crypto.c src/encconfig/keys.c
run fuzz_encconfig src/encconfig/encconfig.c src/encconfig/encconfig_load.c src/encconfig/encconfig_validate.c src/encconfig/encconfig_edit.c \
	src/encconfig/encconfig_emit.c src/encconfig/encconfig_file.c src/encconfig/encconfig_select.c \
	src/encconfig/encconfig_splice.c src/encconfig/keys.c src/encconfig/keyfile.c \
	src/util/fsutil.c src/util/duration.c src/util/yamldoc.c
run fuzz_promtext src/metrics/promtext.c src/metrics/promhist.c src/metrics/promapi.c
run fuzz_etcdrange src/etcd/etcdrange.c src/grpc/grpc_wire.c
exit $failed
