#!/bin/sh
# run.sh: runs the unit suites (Check) and every end-to-end scenario in tests/e2e/, then prints one
# summary line "check: N passed, N failed, N skipped". Exit status 1 when anything failed.
# Environment: BUILD (build directory holding bin/), E2E (a glob of scenario names to run, default all).
set -u
BUILD=${BUILD:-build/asan}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export REKEYCTL="$top/$BUILD/bin/rekeyctl" SANDBOX="$top/$BUILD/bin/rekey-sandbox" BUILD
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0 skipped=0
log=$(mktemp)

if [ -z "${E2E:-}" ] || [ "${UNIT:-1}" = 1 ]; then
	"$top/$BUILD/bin/unit-tests" 2>&1 | tee "$log"
	summary=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1)
	checks=$(echo "$summary" | sed -n 's/.*Checks: \([0-9]*\).*/\1/p')
	fails=$(echo "$summary" | sed -n 's/.*Failures: \([0-9]*\).*/\1/p')
	errors=$(echo "$summary" | sed -n 's/.*Errors: \([0-9]*\).*/\1/p')
	if [ -z "$checks" ]; then
		echo "unit: the unit test runner printed no summary (crashed?)"
		failed=$((failed + 1))
	else
		failed=$((failed + fails + errors))
		passed=$((passed + checks - fails - errors))
	fi
fi

for scenario in tests/e2e/[0-9]*.sh; do
	[ -f "$scenario" ] || continue
	name=$(basename "$scenario" .sh)
	case "$name" in ${E2E:-*}) ;; *) continue ;; esac
	echo "== e2e $name"
	sh "$scenario" >"$log" 2>&1
	rc=$?
	grep -E '^(ok|not ok|SKIP) ' "$log"
	n_ok=$(grep -c '^ok ' "$log")
	n_bad=$(grep -c '^not ok ' "$log")
	n_skip=$(grep -c '^SKIP ' "$log")
	passed=$((passed + n_ok))
	failed=$((failed + n_bad))
	skipped=$((skipped + n_skip))
	if [ "$rc" != 0 ] && [ "$n_bad" = 0 ]; then
		failed=$((failed + 1))
		echo "not ok $name: scenario exited $rc"
	fi
	if [ "$rc" != 0 ] || [ "$n_bad" != 0 ]; then
		echo "-- output of $name (last 60 lines):"
		tail -n 60 "$log"
	fi
done
rm -f "$log"
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
