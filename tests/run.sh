#!/bin/sh
# run.sh: runs the unit suites (Check) and every end-to-end scenario in tests/e2e/, then prints one
# summary line "check: N passed, N failed, N skipped". Exit status 1 when anything failed.
# Environment: BUILD (build directory holding bin/), E2E (a glob of scenario names to run, default all),
# REKEY_CPS (the control planes to run the scenarios that support several on, default "sandbox real").
# A scenario whose header has a line "# control-planes: sandbox real" runs once per control plane
# named there and in REKEY_CPS, with REKEY_CP set (rotate_lib.sh's sbx_up starts `up --real` for real).
# kubectl: build/realcp/bin/kubectl (v1.34, `make realcp`) comes first on PATH when it was built.
set -u
BUILD=${BUILD:-build/asan}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export REKEYCTL="$top/$BUILD/bin/rekeyctl" SANDBOX="$top/$BUILD/bin/rekey-sandbox" BUILD
REALCP_BIN="$top/build/realcp/bin"
export REALCP_BIN
if [ -x "$REALCP_BIN/kubectl" ]; then
	mkdir -p "$top/$BUILD/e2e-bin"
	ln -sf "$REALCP_BIN/kubectl" "$top/$BUILD/e2e-bin/kubectl"
	PATH="$top/$BUILD/e2e-bin:$PATH"
	export PATH
fi
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

# run_scenario FILE LABEL: runs one scenario (REKEY_CP already exported) and counts its lines.
run_scenario() {
	echo "== e2e $2"
	t0=$(date +%s)
	sh "$1" >"$log" 2>&1
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
		echo "not ok $2: scenario exited $rc"
	fi
	if [ "$rc" != 0 ] || [ "$n_bad" != 0 ]; then
		echo "-- output of $2 (last 60 lines):"
		tail -n 60 "$log"
	fi
	echo "-- $2: $(($(date +%s) - t0)) s"
}

for scenario in tests/e2e/[0-9]*.sh; do
	[ -f "$scenario" ] || continue
	name=$(basename "$scenario" .sh)
	case "$name" in ${E2E:-*}) ;; *) continue ;; esac
	cps=$(sed -n 's/^# control-planes: //p' "$scenario" | head -n 1)
	if [ -z "$cps" ]; then
		export REKEY_CP=sandbox
		run_scenario "$scenario" "$name"
		continue
	fi
	for cp in $cps; do
		case " ${REKEY_CPS:-sandbox real} " in *" $cp "*) ;; *) continue ;; esac
		export REKEY_CP=$cp
		run_scenario "$scenario" "$name[$cp]"
	done
done
rm -f "$log"
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
