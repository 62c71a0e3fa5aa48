#!/bin/sh
# 31_fuzz.sh: runs every libFuzzer harness of tests/fuzz (snapshot reader, value classifier,
# EncryptionConfiguration loader, Prometheus text parser, etcd RangeResponse decoder, plan, kubeconfig,
# exec credential output, apiserver JSON) for a short time (FUZZ_SECONDS, default 5 here), two at once
# (FUZZ_JOBS), each going on from the corpus its last run kept in build/fuzz/corpus (FUZZ_KEEP_CORPUS:
# a warm check starts at the coverage earlier checks reached instead of spending its seconds finding it
# again); SKIP when clang or its libFuzzer runtime is missing. The long runs are recorded in
# tests/fuzz/RESULTS.md.
. tests/e2e/lib.sh
FUZZ_SECONDS=${FUZZ_SECONDS:-5} FUZZ_JOBS=${FUZZ_JOBS:-2} FUZZ_KEEP_CORPUS=${FUZZ_KEEP_CORPUS:-1} sh tests/fuzz/run.sh
