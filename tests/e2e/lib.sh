# lib.sh: helpers sourced by the end-to-end scenarios. Each assertion prints "ok NAME" or
# "not ok NAME: why"; tests/run.sh counts them. Scenarios run from the project root.
: "${REKEYCTL:?REKEYCTL must name the rekeyctl binary}"
E2E_FAILED=0
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rekey-e2e-XXXXXX")
chmod 700 "$E2E_TMP"

e2e_cleanup() { rm -rf "$E2E_TMP"; }
trap e2e_cleanup EXIT

ok() { echo "ok $1"; }
not_ok() { echo "not ok $1: $2"; E2E_FAILED=1; }
skip() { echo "SKIP $1: $2"; }

# expect_exit NAME CODE CMD...: runs CMD, checks its exit code; output kept in $E2E_TMP/out, err.
expect_exit() {
	name=$1 want=$2
	shift 2
	"$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	got=$?
	if [ "$got" = "$want" ]; then ok "$name"; else not_ok "$name" "exit $got, want $want: $(head -c 300 "$E2E_TMP/err")"; fi
}

# expect_grep NAME PATTERN FILE: FILE contains PATTERN (extended regex).
expect_grep() {
	if grep -Eq -- "$2" "$3"; then ok "$1"; else not_ok "$1" "no /$2/ in $(head -c 300 "$3")"; fi
}

# expect_no_grep NAME PATTERN FILE: FILE does not contain PATTERN (fixed string).
expect_no_grep() {
	if grep -Fq -- "$2" "$3"; then not_ok "$1" "found '$2' in $3"; else ok "$1"; fi
}

e2e_done() { exit "$E2E_FAILED"; }

# e2e_sandbox_up DIR ARGS...: `rekey-sandbox up --dir DIR ARGS`, torn down with $E2E_TMP on exit; prints
# ok sandbox_up, or not ok and ends the scenario.
e2e_sandbox_up() {
	E2E_SBX=$1
	shift
	trap '"$SANDBOX" down --dir "$E2E_SBX" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT
	if ! "$SANDBOX" up --dir "$E2E_SBX" "$@" >"$E2E_TMP/up.log" 2>&1; then
		not_ok sandbox_up "$(tail -n 5 "$E2E_TMP/up.log")"
		e2e_done
	fi
	ok sandbox_up
}

# e2e_part NAME FUNC: runs the shell function FUNC in the background, in a subshell with its own
# E2E_TMP ($E2E_TMP/NAME) and failure flag, for a part of a scenario that is independent of the rest
# (its own sandbox) and spends its time waiting; its output is kept until e2e_part_wait NAME prints it
# (so the lines come in a fixed order) and its failure fails the scenario. FUNC tears down what it
# starts (a subshell does not run the scenario's EXIT trap).
e2e_part() {
	mkdir -p "$E2E_TMP/$1"
	(
		E2E_TMP=$E2E_TMP/$1 E2E_FAILED=0
		"$2"
		exit "$E2E_FAILED"
	) >"$E2E_TMP/$1.log" 2>&1 </dev/null &
	eval "e2e_part_pid_$1=\$!"
}
e2e_part_wait() {
	eval "wait \"\$e2e_part_pid_$1\"" || E2E_FAILED=1
	cat "$E2E_TMP/$1.log"
}
