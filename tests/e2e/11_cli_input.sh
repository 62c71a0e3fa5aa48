#!/bin/sh
# 11_cli_input.sh: bad input on every command, without a cluster: inputs larger than the 4 MiB limit
# (an EncryptionConfiguration with a 16 MB secret, a plan, a kubeconfig) are refused with one line and
# exit 2, nothing changed; numeric flags are range-checked (exit 2, the flag named); durations take
# Go's syntax on the command line as in plans (`--soak 1m30s`).
. tests/e2e/lib.sh
T=$E2E_TMP

# one_line NAME WANT: stderr of the last command is exactly one line containing WANT.
one_line() {
	if [ "$(wc -l <"$T/err")" = 1 ] && grep -Fq -- "$2" "$T/err"; then ok "$1"; else not_ok "$1" "want one line with '$2', got: $(head -c 300 "$T/err")"; fi
}

# ---- oversized inputs ----
{
	printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n'
	printf '  - resources: [secrets]\n    providers:\n      - aescbc:\n          keys:\n'
	printf '            - name: k1\n              secret: "'
	head -c 12000000 /dev/zero | base64 -w0
	printf '"\n'
} >"$T/huge-enc.yaml"
cp "$T/huge-enc.yaml" "$T/huge-enc.copy"
expect_exit huge_config_validate 2 "$REKEYCTL" config validate "$T/huge-enc.yaml"
one_line huge_config_message "huge-enc.yaml: larger than 4 MiB"
expect_exit huge_config_add_key 2 "$REKEYCTL" config add-key "$T/huge-enc.yaml" --provider aescbc
if cmp -s "$T/huge-enc.yaml" "$T/huge-enc.copy" && [ ! -e "$T/huge-enc.yaml.bak" ]; then ok huge_config_unchanged; else not_ok huge_config_unchanged "changed"; fi
expect_exit huge_config_hash 2 "$REKEYCTL" config hash "$T/huge-enc.yaml"

{
	printf 'apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: c\n# '
	head -c 5000000 /dev/zero | tr '\0' x
	printf '\n'
} >"$T/huge-plan.yaml"
expect_exit huge_plan 2 "$REKEYCTL" plan -f "$T/huge-plan.yaml" --state "$T/state"
one_line huge_plan_message "huge-plan.yaml: larger than 4 MiB"
[ ! -e "$T/state/state.db" ] && ok huge_plan_no_state || not_ok huge_plan_no_state "a state db was created"

{
	printf 'apiVersion: v1\nkind: Config\n# '
	head -c 5000000 /dev/zero | tr '\0' x
	printf '\n'
} >"$T/huge-kubeconfig"
expect_exit huge_kubeconfig 2 "$REKEYCTL" kube --kubeconfig "$T/huge-kubeconfig" config
one_line huge_kubeconfig_message "huge-kubeconfig: larger than 4 MiB"
expect_exit huge_kubeconfig_rewrite 2 "$REKEYCTL" rewrite --kubeconfig "$T/huge-kubeconfig" --state "$T/state"
expect_grep huge_kubeconfig_rewrite_message "larger than 4 MiB" "$T/err"

# ---- numeric flags and durations ----
# bad NAME FLAG-NAMED CMD...: exit 2, one line naming the flag.
bad() {
	name=$1 flag=$2
	shift 2
	expect_exit "$name" 2 "$REKEYCTL" "$@"
	one_line "${name}_names_flag" "$flag"
}
bad kube_limit_text --limit kube --kubeconfig "$T/none" --limit abc list /api/v1/secrets
bad kube_limit_zero --limit kube --kubeconfig "$T/none" --limit 0 list /api/v1/secrets
bad kube_attempts_range --attempts kube --kubeconfig "$T/none" --attempts 1000 get /version
bad kube_timeout_text --timeout-ms kube --kubeconfig "$T/none" --timeout-ms 5s get /version
bad kube_parallel_negative --parallel kube --kubeconfig "$T/none" --parallel -1 repeat 3 /version
bad kube_repeat_count repeat kube --kubeconfig "$T/none" repeat 3x /version
bad rewrite_qps_text --qps rewrite --qps fast
bad rewrite_concurrency_zero --concurrency rewrite --concurrency 0
bad rewrite_soak_no_unit --soak rewrite --soak 90
bad rewrite_errors_ratio --budget-errors rewrite --budget-errors 1.5
bad status_run_text --run status --run one
bad verify_limit_negative --limit verify --snapshot "$T/none.db" --limit -3
bad verify_page_size_huge --page-size verify --snapshot "$T/none.db" --page-size 99999999999999999999
bad verify_output_word -o verify --snapshot "$T/none.db" -o yaml
one_line verify_output_words "must be json or table"
bad verify_etcd_api_word --etcd-api verify --etcd http://127.0.0.1:1 --etcd-api rest
one_line verify_etcd_api_words "must be auto, grpc or json"
bad verify_key_id_alone --expect-key-id verify --snapshot "$T/none.db" --expect-key-id kek-1
one_line verify_key_id_alone_words "--expect-key-id needs --expect KMS-NAME or --config FILE"
long_id=$(head -c 1025 /dev/zero | tr '\0' k)
bad verify_key_id_too_long --expect-key-id verify --snapshot "$T/none.db" --expect k --expect-key-id "$long_id"
one_line verify_key_id_too_long_words "keyID of 1 to 1024 bytes"
bad keygen_bytes_text --bytes keygen --provider aescbc --bytes 2x --out "$T/k"
bad keygen_bytes_range --bytes keygen --provider aescbc --bytes 100000000000 --out "$T/k"
bad config_bytes_text --bytes config add-key "$T/huge-enc.yaml" --provider aescbc --bytes lots
bad doctor_output_word -o doctor -f examples/plan.yaml -o yaml
bad doctor_timeout_zero --timeout doctor -f examples/plan.yaml --timeout 0
bad doctor_timeout_text --timeout doctor -f examples/plan.yaml --timeout soon
bad doctor_window_long --window doctor -f examples/plan.yaml --window 1h
bad doctor_unknown_flag --frobnicate doctor -f examples/plan.yaml --frobnicate
expect_exit doctor_no_plan 2 "$REKEYCTL" doctor
one_line doctor_no_plan_says "a plan is required (-f PLAN)"
printf 'apiVersion: rekeyctl/v1\nkind: RotationPlan\nbogus: 1\n' >"$T/bad-plan.yaml"
expect_exit doctor_bad_plan 2 "$REKEYCTL" doctor -f "$T/bad-plan.yaml"
one_line doctor_bad_plan_names_file "bad-plan.yaml:"
[ ! -e "$T/k" ] && ok keygen_wrote_nothing || not_ok keygen_wrote_nothing "$T/k exists"

# Go durations on the command line: accepted, so the command goes on to the (missing) kubeconfig.
expect_exit rewrite_soak_go_duration 2 "$REKEYCTL" rewrite --soak 1m30s --budget-p99 0.5s \
	--batch-pause 1m --kubeconfig "$T/missing-kubeconfig" --state "$T/state"
one_line rewrite_soak_go_duration_accepted "missing-kubeconfig"
e2e_done
