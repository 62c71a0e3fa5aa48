#!/bin/sh
# 31_fuzz.sh: runs every libFuzzer harness of tests/fuzz (snapshot reader, value classifier,
# EncryptionConfiguration loader, Prometheus text parser, etcd RangeResponse decoder, plan, kubeconfig,
# exec credential output, apiserver JSON) for a short time (FUZZ_SECONDS, default 10 here); SKIP when
# clang or its libFuzzer runtime is missing. The long runs are recorded in tests/fuzz/RESULTS.md.
. tests/e2e/lib.sh
FUZZ_SECONDS=${FUZZ_SECONDS:-10} sh tests/fuzz/run.sh
