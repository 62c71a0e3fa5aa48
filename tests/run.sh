#!/bin/sh
# run.sh: runs the unit suites (Check) and every end-to-end scenario in tests/e2e/, then prints one
# summary line "check: N passed, N failed, N skipped". Exit status 1 when anything failed.
# Environment: BUILD (build directory holding bin/), E2E (a glob of scenario names to run, default all),
# REKEY_CPS (the control planes to run the scenarios that support several on, default "sandbox real"),
# E2E_JOBS (jobs run at once, default 4; 1 runs them one after the other) and E2E_REAL_JOBS (of
# those, at most this many on the real control plane, default 2).
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
# Check's per-test timeouts guard against hangs, not speed: on a loaded machine (concurrent jobs, 2
# cores) an encconfig case once ran past the default 4 s, so every timeout is 5 times as long.
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-5}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0 skipped=0

# count_unit FILE: counts the Check summary line of the unit suites' output in FILE.
count_unit() {
	summary=$(grep -E '^[0-9]+%: Checks: ' "$1" | tail -n 1)
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
}

# The unit suites and the e2e scenarios run as jobs, up to E2E_JOBS at a time, at most E2E_REAL_JOBS of
# them on the real control plane (each starts etcd and 3 kube-apiservers, and restarts them). Each
# scenario owns its temp dir, sandbox directory and ports (free ones, picked at start). A job's output
# goes to its own file; the blocks are printed in order (unit first, then scenario order) as they
# become complete, so the output reads as a serial run's. A finished job writes its number into a fifo
# the loop below reads (no polling).
E2E_JOBS=${E2E_JOBS:-4}
E2E_REAL_JOBS=${E2E_REAL_JOBS:-2}
for knob in "E2E_JOBS=$E2E_JOBS" "E2E_REAL_JOBS=$E2E_REAL_JOBS"; do
	case ${knob#*=} in
	'' | *[!0-9]* | 0*)
		echo "run.sh: $knob: want a whole number of at least 1" >&2
		exit 2
		;;
	esac
done
work=$(mktemp -d)
mkfifo "$work/done"
exec 3<>"$work/done"
njobs=0
add_job() { # add_job FILE LABEL CP
	njobs=$((njobs + 1))
	alone=0
	grep -q '^# e2e: alone' "$1" 2>/dev/null && alone=1
	eval "job_file_$njobs=\$1 job_label_$njobs=\$2 job_cp_$njobs=\$3 job_state_$njobs=new job_alone_$njobs=$alone"
}
# the unit suites are one more job (the first printed): they run while the e2e scenarios wait
if [ -z "${E2E:-}" ] || [ "${UNIT:-1}" = 1 ]; then
	add_job "$top/$BUILD/bin/unit-tests" unit unit
fi
for scenario in tests/e2e/[0-9]*.sh; do
	[ -f "$scenario" ] || continue
	name=$(basename "$scenario" .sh)
	case "$name" in ${E2E:-*}) ;; *) continue ;; esac
	cps=$(sed -n 's/^# control-planes: //p' "$scenario" | head -n 1)
	if [ -z "$cps" ]; then
		add_job "$scenario" "$name" sandbox
		continue
	fi
	for cp in $cps; do
		case " ${REKEY_CPS:-sandbox real} " in *" $cp "*) ;; *) continue ;; esac
		add_job "$scenario" "$name[$cp]" "$cp"
	done
done

# start_job I: runs job I in the background; its output in $work/I.log, exit code and seconds in
# $work/I.rc and $work/I.secs, then its number into the fifo.
start_job() {
	eval "file=\$job_file_$1 cp=\$job_cp_$1"
	(
		t0=$(date +%s)
		if [ "$cp" = unit ]; then
			"$file" >"$work/$1.log" 2>&1 </dev/null 3>&-
		else
			REKEY_CP=$cp sh "$file" >"$work/$1.log" 2>&1 </dev/null 3>&-
		fi
		echo $? >"$work/$1.rc"
		echo $(($(date +%s) - t0)) >"$work/$1.secs"
		echo "$1" >"$work/done"
	) &
	eval "job_pid_$1=\$! job_state_$1=running"
	running=$((running + 1))
	[ "$cp" = real ] && running_real=$((running_real + 1))
}

# The start order: longest first, by each job's time in the last run ($BUILD/e2e-times, "LABEL
# SECONDS" lines), else in a full run on the project machine (tests/e2e/times, the same format), else
# real-control-plane scenarios first, then scenario order. The output order does not depend on it.
times=$top/$BUILD/e2e-times
i=1
while [ "$i" -le "$njobs" ]; do
	eval "label=\$job_label_$i cp=\$job_cp_$i"
	last=$(cat "$times" tests/e2e/times 2>/dev/null | awk -v l="$label" '$1 == l {print $2}' | head -n 1)
	[ -n "$last" ] || { [ "$cp" = real ] && last=1000000 || last=100000; }
	echo "$last $i"
	i=$((i + 1))
done | sort -k1,1nr -k2,2n | cut -d' ' -f2 >"$work/order"
order=$(cat "$work/order")

# start_ready: starts jobs in that order while slots are free (a real-control-plane one only while
# fewer than E2E_REAL_JOBS run). A scenario whose header says "# e2e: alone" (it asserts latency
# budgets a busy machine breaks) runs with nothing else, one at a time, before the others.
start_ready() {
	for i in $order; do
		eval "state=\$job_state_$i alone=\$job_alone_$i"
		[ "$alone" = 1 ] && [ "$state" = running ] && return 0
		[ "$alone" = 1 ] && [ "$state" = new ] || continue
		[ "$running" = 0 ] && start_job "$i"
		return 0
	done
	for i in $order; do
		[ "$running" -lt "$E2E_JOBS" ] || return 0
		eval "state=\$job_state_$i cp=\$job_cp_$i"
		[ "$state" = new ] || continue
		[ "$cp" = real ] && [ "$running_real" -ge "$E2E_REAL_JOBS" ] && continue
		start_job "$i"
	done
}

# report_job I: prints job I's block (its ok/not ok/SKIP lines, its output on failure, its time) and
# counts its lines.
report_job() {
	eval "label=\$job_label_$1"
	out=$work/$1.log
	rc=$(cat "$work/$1.rc")
	if [ "$label" = unit ]; then
		cat "$out"
		count_unit "$out"
		echo "-- unit: $(cat "$work/$1.secs") s"
		return
	fi
	echo "== e2e $label"
	grep -E '^(ok|not ok|SKIP) ' "$out"
	n_ok=$(grep -c '^ok ' "$out")
	n_bad=$(grep -c '^not ok ' "$out")
	n_skip=$(grep -c '^SKIP ' "$out")
	passed=$((passed + n_ok))
	failed=$((failed + n_bad))
	skipped=$((skipped + n_skip))
	if [ "$rc" != 0 ] && [ "$n_bad" = 0 ]; then
		failed=$((failed + 1))
		echo "not ok $label: scenario exited $rc"
	fi
	if [ "$rc" != 0 ] || [ "$n_bad" != 0 ]; then
		echo "-- output of $label (last 60 lines):"
		tail -n 60 "$out"
	fi
	echo "-- $label: $(cat "$work/$1.secs") s"
}

# stop_jobs: on INT or TERM, stops the running scenarios (each job's shell and its scenario; the
# scenarios' own EXIT traps tear their sandboxes down) and exits 130.
stop_jobs() {
	i=1
	while [ "$i" -le "$njobs" ]; do
		eval "state=\$job_state_$i pid=\${job_pid_$i:-}"
		[ "$state" = running ] && { pkill -TERM -P "$pid"; kill -TERM "$pid"; } 2>/dev/null
		i=$((i + 1))
	done
	rm -rf "$work"
	exit 130
}
trap stop_jobs INT TERM

running=0 running_real=0 next_report=1
e2e_t0=$(date +%s)
start_ready
while [ "$next_report" -le "$njobs" ]; do
	read -r finished <&3
	wait "$(eval "echo \$job_pid_$finished")" 2>/dev/null
	eval "job_state_$finished=done cp=\$job_cp_$finished"
	running=$((running - 1))
	[ "$cp" = real ] && running_real=$((running_real - 1))
	start_ready
	while [ "$next_report" -le "$njobs" ] && [ "$(eval "echo \$job_state_$next_report")" = done ]; do
		report_job "$next_report"
		next_report=$((next_report + 1))
	done
done
[ "$njobs" -gt 0 ] && echo "-- tests: $njobs jobs in $(($(date +%s) - e2e_t0)) s (E2E_JOBS=$E2E_JOBS, E2E_REAL_JOBS=$E2E_REAL_JOBS)"
exec 3<&-
# this run's times replace the last ones of the same scenarios (the next run's start order)
i=1
while [ "$i" -le "$njobs" ]; do
	eval "label=\$job_label_$i"
	echo "$label $(cat "$work/$i.secs")"
	i=$((i + 1))
done >"$work/times"
[ -f "$times" ] || : >"$times"
awk 'NR == FNR {seen[$1] = 1; print; next} !($1 in seen)' "$work/times" "$times" 2>/dev/null >"$work/times.new" &&
	mv "$work/times.new" "$times"
rm -rf "$work"
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
