#!/bin/sh
# 31_fuzz.sh: runs the libFuzzer harnesses of the snapshot reader and the value classifier for a
# short time (FUZZ_SECONDS, default 10 here); SKIP when clang or its libFuzzer runtime is missing.
. tests/e2e/lib.sh
FUZZ_SECONDS=${FUZZ_SECONDS:-10} sh tests/fuzz/run.sh
