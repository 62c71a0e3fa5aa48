#!/bin/sh
# 71_status_watch.sh: `rekeyctl status` of a rotation run (stage, node gates, rewrite progress, rate, ETA,
# budget) while it runs and after, and the rotation's Prometheus textfile (--metrics-file) at both times; `--watch` in a real terminal (tmux) redraws in place: the picture
# changes between two looks while only one picture is ever on the screen or in its scrollback, and the
# watch ends by itself with the run; piped, `--watch` prints one JSON line per refresh.
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

command -v tmux >/dev/null || { not_ok tmux_installed "tmux is missing (make deps installs it)"; e2e_done; }
sbx_up st --apiservers 2 --secrets 150 --namespaces 2 || { not_ok sandbox_up "see log"; e2e_done; }
# a rewrite of ~15 s to watch, checkpointed (and so visible to status) every 10 objects
sed -i -e 's/qps: [0-9]*, burst: [0-9]*/qps: 10, burst: 10/' -e 's/batchSize: [0-9]*/batchSize: 10/' "$PLAN"

expect_exit status_no_run 2 "$REKEYCTL" status --cluster sandbox --state "$STATE"
expect_grep status_no_run_message "no run for cluster sandbox" "$E2E_TMP/err"

# wait_for NAME SECONDS CMD...: runs CMD every 0.2 s until it succeeds; not ok NAME when it never does.
wait_for() {
	name=$1 limit=$2
	shift 2
	deadline=$(($(date +%s) + limit))
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && { not_ok "$name" "not within ${limit}s"; return 1; }
		sleep 0.2
	done
	ok "$name"
}
in_rewrite() {
	"$REKEYCTL" status --cluster sandbox --state "$STATE" -o json >"$E2E_TMP/st.json" 2>/dev/null &&
		[ "$(jq -r '.stage.name + " " + (.rewrite.done > 0 | tostring)' "$E2E_TMP/st.json")" = "rewrite true" ]
}

# prom_check NAME PYTHON-EXPR: the rotation's textfile parses (every sample line: name{labels} value) and
# the expression over m (name -> [(labels, value)]) and v(name, **labels) is true.
PROM=$E2E_TMP/rotation.prom
prom_check() { prom_true "$2" && ok "$1" || not_ok "$1" "$(tail -c 600 "$E2E_TMP/prom.err")"; }
prom_true() {
	python3 - "$PROM" "$1" >"$E2E_TMP/prom.err" 2>&1 <<'PY'
import re, sys, time
m = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    g = re.fullmatch(r'([a-z_]+)\{((?:[a-z_]+="(?:[^"\\]|\\.)*",?)*)\} (-?[0-9.e+]+)\n', line)
    assert g, "bad line: %r" % line
    labels = dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', g.group(2)))
    m.setdefault(g.group(1), []).append((labels, float(g.group(3))))
def v(name, **want):
    hits = [val for labels, val in m.get(name, []) if all(labels.get(k) == w for k, w in want.items())]
    assert len(hits) == 1, "%s %s: %s in %s" % (name, want, hits, m.get(name))
    return hits[0]
now = time.time()
assert eval("(" + sys.argv[2] + ")"), sys.argv[2] + "\n" + open(sys.argv[1]).read()
PY
}

# ---- a real terminal ----
"$REKEYCTL" rotate -f "$PLAN" --state "$STATE" --metrics-file "$PROM" >"$E2E_TMP/rot.out" 2>"$E2E_TMP/rot.err" &
rot=$!
wait_for status_sees_rewrite 90 in_rewrite
jq -e '.kind == "rotate" and .state == "running" and (.nodes | length) == 2 and .nodes[0].read == "done" and
	.nodes[0].promote == "done" and .rewrite.total == 150 and .rewrite.rate > 0 and .rewrite.eta_s >= 0 and
	(.stages | map(.name) | index("probe")) != null' "$E2E_TMP/st.json" >/dev/null &&
	ok status_json_rotation || not_ok status_json_rotation "$(cat "$E2E_TMP/st.json")"
# the textfile follows the rewrite (rewritten every 2 s): wait for a picture of it halfway
wait_for metrics_during_rewrite 30 prom_true 'v("rekeyctl_rotation_stage", stage="rewrite", status="intent") == 1 and
	v("rekeyctl_rotation_running", cluster="sandbox") == 1 and 0 < v("rekeyctl_rotation_progress_ratio") < 1 and
	v("rekeyctl_rotation_rewrite_objects", of="total") == 150 and v("rekeyctl_rotation_stage_index") == 6 and
	"rekeyctl_rotation_last_success_timestamp_seconds" not in m and
	abs(v("rekeyctl_rotation_key_created_timestamp_seconds", role="new") - now) < 300'
expect_exit status_table 0 "$REKEYCTL" status --cluster sandbox --state "$STATE"
expect_grep status_table_stage '^  stage +rewrite intent' "$E2E_TMP/out"
expect_grep status_table_nodes '^ +cp-2 +done +done +- +-' "$E2E_TMP/out"
expect_grep status_table_rewrite '^  rewrite +[0-9]+/150 objects +[0-9.]+/s +ETA' "$E2E_TMP/out"
expect_grep status_table_budget '^  budget ' "$E2E_TMP/out"

session=rekey-e2e-$$
tmux new-session -d -s "$session" -x 180 -y 50 \
	"'$REKEYCTL' status --cluster sandbox --state '$STATE' --watch --interval 300ms; echo WATCH-EXIT=\$?; sleep 300"
trap 'tmux kill-session -t "$session" 2>/dev/null; rot_down_all; e2e_cleanup' EXIT
pane() { tmux capture-pane -p -t "$session" -S - -E - >"$E2E_TMP/pane.$1"; }
progress() { sed -n 's/^  rewrite *\([0-9]*\)\/150 objects.*/\1/p' "$E2E_TMP/pane.$1"; }
shows_rewrite() { pane a && grep -q '^  stage  *rewrite' "$E2E_TMP/pane.a" && [ -n "$(progress a)" ]; }
wait_for watch_draws_rotation 30 shows_rewrite
first=$(progress a)
moved() { pane b && [ -n "$(progress b)" ] && [ "$(progress b)" != "$first" ]; }
wait_for watch_redraws_progress 60 moved
for p in a b; do
	[ "$(grep -c '^cluster sandbox  rotation run' "$E2E_TMP/pane.$p")" = 1 ] && ok "watch_one_picture_$p" ||
		not_ok "watch_one_picture_$p" "$(grep -c '^cluster sandbox' "$E2E_TMP/pane.$p") pictures in screen and scrollback"
done
wait "$rot"
[ $? = 0 ] && ok rotation_done || not_ok rotation_done "$(tail -n 3 "$E2E_TMP/rot.err")"
prom_check metrics_after_success 'v("rekeyctl_rotation_stage", stage="done", status="done") == 1 and
	v("rekeyctl_rotation_state", state="done") == 1 and v("rekeyctl_rotation_running") == 0 and
	v("rekeyctl_rotation_progress_ratio") == 1 and v("rekeyctl_rotation_stage_index") == 10 and
	0 <= now - v("rekeyctl_rotation_last_success_timestamp_seconds", cluster="sandbox") < 120 and
	0 <= v("rekeyctl_rotation_write_key_age_seconds") < 300 and
	v("rekeyctl_rotation_key_created_timestamp_seconds", role="old") <= v("rekeyctl_rotation_key_created_timestamp_seconds", role="new")'
watch_ended() { pane c && grep -q 'WATCH-EXIT=0' "$E2E_TMP/pane.c"; }
wait_for watch_ends_with_the_run 30 watch_ended
grep -q '^cluster sandbox  rotation run [0-9]*  done' "$E2E_TMP/pane.c" && ok watch_last_picture_done ||
	not_ok watch_last_picture_done "$(head -n 3 "$E2E_TMP/pane.c")"
[ "$(grep -c '^cluster sandbox  rotation run' "$E2E_TMP/pane.c")" = 1 ] && ok watch_one_picture_at_end ||
	not_ok watch_one_picture_at_end "$(grep -c '^cluster sandbox' "$E2E_TMP/pane.c") pictures"
expect_exit status_done_json 0 "$REKEYCTL" status --cluster sandbox --state "$STATE" -o json
jq -e '.state == "done" and .exit_code == 0 and .stage.name == "done" and .rewrite.done == 150 and
	(.nodes | all(.prune == "done"))' "$E2E_TMP/out" >/dev/null && ok status_json_done || not_ok status_json_done "$(cat "$E2E_TMP/out")"

# ---- piped: JSON lines ----
# a rewrite of ~5 s is enough here: the watch prints a line every 300 ms
sed -i 's/qps: [0-9]*, burst: [0-9]*/qps: 30, burst: 30/' "$PLAN"
"$REKEYCTL" rotate -f "$PLAN" --state "$STATE" >"$E2E_TMP/rot.out" 2>"$E2E_TMP/rot.err" &
rot=$!
wait_for second_rotation_rewriting 90 in_rewrite
"$REKEYCTL" status -f "$PLAN" --state "$STATE" --watch --interval 300ms | cat >"$E2E_TMP/lines"
wait "$rot"
[ $? = 0 ] && ok second_rotation_done || not_ok second_rotation_done "$(tail -n 3 "$E2E_TMP/rot.err")"
n=$(wc -l <"$E2E_TMP/lines")
[ "$n" -ge 3 ] && ok watch_piped_several_lines || not_ok watch_piped_several_lines "$n lines"
bad=0
while IFS= read -r line; do echo "$line" | jq -e '.run and .state' >/dev/null || bad=$((bad + 1)); done <"$E2E_TMP/lines"
[ "$bad" = 0 ] && ok watch_piped_every_line_json || not_ok watch_piped_every_line_json "$bad lines are not JSON"
[ "$(tail -n 1 "$E2E_TMP/lines" | jq -r .state)" = done ] && ok watch_piped_last_done || not_ok watch_piped_last_done "$(tail -n 1 "$E2E_TMP/lines" | head -c 200)"
[ "$(head -n 1 "$E2E_TMP/lines" | jq -r .state)" = running ] && ok watch_piped_first_running || not_ok watch_piped_first_running "$(head -n 1 "$E2E_TMP/lines" | head -c 200)"
e2e_done
