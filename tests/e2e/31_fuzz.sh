#!/bin/sh
# 31_fuzz.sh: runs every libFuzzer harness of tests/fuzz (snapshot reader, value classifier,
# EncryptionConfiguration loader, Prometheus text parser, etcd RangeResponse decoder) for a short time
# (FUZZ_SECONDS, default 10 here); SKIP when clang or its libFuzzer runtime is missing.
. tests/e2e/lib.sh
FUZZ_SECONDS=${FUZZ_SECONDS:-10} sh tests/fuzz/run.sh
