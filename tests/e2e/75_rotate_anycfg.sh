#!/bin/sh
# 75_rotate_anycfg.sh: any EncryptionConfiguration (issue 16). (1) A "*.*" config rotated by a plan naming
# "*.*": secrets, configmaps, namespaces, leases, a CRD created through the API with kubectl (served at v2
# and v1, stored at v1) and its custom resources, every stored resource discovery finds, all end under the
# new key (verify against the config and per resource), data unchanged, `plan` lists each resource of the
# rule (at its storage version) with its object count, in text and in `-o json` (`rules`). (2) Two rules (secrets, configmaps) and a plan
# naming configmaps: the configmaps rule is rotated, the secrets rule's text (with its comment) and every
# stored secret stay byte for byte, the secrets key is kept and not recorded as pruned; then the configmaps
# rule writes with the secrets rule's key (shared) and is rotated again: the shared key leaves that rule
# only, stays for secrets, is not recorded as pruned, no stored secret changes. (3) A refusal of
# updates (a ValidatingAdmissionPolicy on the real apiserver, the sandbox's deny-label fault) on one
# labelled configmap: the rotation names the resource, the object and the apiserver's message, exits 4,
# and nothing is pruned, on resume too.
# control-planes: sandbox real
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

kc() { KUBECONFIG=$D/kubeconfig kubectl "$@"; }
# The checksum of what the API returns for a resource (name and data), to prove it did not change.
api_sum() {
	kc get "$1" -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.data}{.spec}{"\n"}{end}' |
		grep -v '^kube-system/rekeyctl-probe' | sort | sha256sum | cut -d' ' -f1
}
# plan_with NAME SELECTORS: a copy of the test plan rotating the rules named by SELECTORS (YAML list).
plan_with() {
	sed "s/^resources: .*/resources: $2/" "$PLAN" >"$D/$1.yaml"
	echo "$D/$1.yaml"
}
secret_of() { sed -n 's/^ *secret: //p' "$(node_config cp-1)" | head -n 1; }

# ---- (1) "*.*": everything under one key, a custom resource among it ----
sbx_up star --apiservers 3 --secrets 200 --configmaps 40 --namespaces 3 || { not_ok sandbox_up "see log"; e2e_done; }
cat >"$D/crd.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
    - name: v2
      served: true
      storage: false
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
EOF
kc create --validate=false -f "$D/crd.yaml" >/dev/null && ok crd_created || not_ok crd_created "kubectl create failed"
i=0
until kc get widgets.example.com -A >/dev/null 2>&1; do # served once the CRD is established
	i=$((i + 1))
	[ $i -lt 300 ] || { not_ok crd_served "no widgets after 60 s"; break; }
	sleep 0.2
done
# discovery prefers v2 (the highest version), the objects are stored at v1: the rewrite must use v1
kc get --raw /apis/example.com | tr -d ' \n' >"$D/group.json"
expect_grep crd_discovery_prefers_v2 '"preferredVersion":\{"groupVersion":"example.com/v2"' "$D/group.json"
for i in 1 2 3 4 5; do
	printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w%s, namespace: ns-1}\nspec: {size: %s}\n' "$i" "$i" |
		kc create --validate=false -f - >/dev/null || not_ok "widget_$i" "kubectl create failed"
done
old=$(write_key_of cp-1)
cat >"$D/star-enc.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  # every resource; identity reads what was stored before
  - resources: ["*.*"]
    providers:
      - aescbc:
          keys:
            - name: $old
              secret: $(secret_of)
      - identity: {}
EOF
set_enc_config "$D/star-enc.yaml" && ok star_config_running || not_ok star_config_running "apiservers did not pick it up"
# bad input: a plan naming an entry no rule lists is refused with its file:line:col, nothing changed
unlisted=$(plan_with unlisted '[secrets]')
expect_exit star_unlisted_entry_refused 2 "$REKEYCTL" rotate -f "$unlisted" --state "$D/state-unlisted"
expect_grep star_unlisted_entry_named "unlisted\.yaml:[0-9]+:[0-9]+: .*no rule lists \"secrets\"; resources\[0\] \(\"\*\.\*\"\) covers it" "$E2E_TMP/err"
same=1
for n in cp-1 cp-2 cp-3; do cmp -s "$D/star-enc.yaml" "$(node_config "$n")" || same=0; done
[ "$same" = 1 ] && ok star_unlisted_entry_changes_nothing || not_ok star_unlisted_entry_changes_nothing "a node config changed"
sums="$(api_sum secrets) $(api_sum configmaps) $(api_sum widgets.example.com)"
star=$(plan_with star '["*.*"]')
expect_exit star_plan 0 "$REKEYCTL" plan -f "$star" --state "$STATE"
cp "$E2E_TMP/out" "$D/star-plan.out"
expect_grep star_plan_selects_rule '^  \* resources\[0\] \["\*\.\*"\]: writes with '"$old" "$D/star-plan.out"
expect_grep star_plan_counts_secrets '^      secrets \(v1\): 200 objects' "$D/star-plan.out"
expect_grep star_plan_counts_configmaps '^      configmaps \(v1\): [0-9]+ objects' "$D/star-plan.out"
expect_grep star_plan_custom_at_storage_version '^      widgets\.example\.com \(v1\): 5 objects' "$D/star-plan.out"
expect_grep star_plan_counts_crds '^      customresourcedefinitions\.apiextensions\.k8s\.io \(v1\): 1 objects' "$D/star-plan.out"
expect_grep star_plan_estimate 'rewrite estimate: [0-9]+ objects' "$D/star-plan.out"
# the per-rule section comes with main's budget-trend section (issue 17), not instead of it
expect_grep star_plan_budget_trend '^budget trend' "$D/star-plan.out"
echo "# $REKEY_CP: *.* covers$(sed -n 's/^      \([0-9]* resources, [0-9]* objects\)$/ \1/p' "$D/star-plan.out");" \
	"plaintext keys outside REST storage: $("$ETCDCTL" --endpoints "$(etcd_url)" get --prefix --keys-only /registry/ranges/ | grep -c .) under /registry/ranges/," \
	"$("$ETCDCTL" --endpoints "$(etcd_url)" get --prefix --keys-only /registry/masterleases/ | grep -c .) under /registry/masterleases/"
expect_no_grep star_plan_skips_reviews 'reviews' "$D/star-plan.out"
expect_no_grep star_plan_skips_cohabiting 'events.events.k8s.io' "$D/star-plan.out"
expect_no_grep star_plan_skips_subresources '/status' "$D/star-plan.out"
# the same per rule in plan -o json: the selected "*.*" rule, its stored resources at their storage
# version with their counts, the objects map over them and the total
expect_exit star_plan_json 0 "$REKEYCTL" plan -f "$star" --state "$STATE" -o json
jq_ok star_plan_json_rules '.rules[0].selected == true and .rules[0].resources == ["*.*"] and
	.rules[0].write_key == "'"$old"'" and .write_key == "'"$old"'" and
	([.rules[0].stored[] | select(.name == "secrets")] == [{"name": "secrets", "version": "v1", "objects": 200}]) and
	([.rules[0].stored[] | select(.name == "widgets.example.com")] == [{"name": "widgets.example.com", "version": "v1", "objects": 5}]) and
	([.rules[0].stored[].name | select(test("reviews|/"))] == []) and
	.objects.secrets == 200 and .objects["widgets.example.com"] == 5 and
	.rules[0].objects == .total and .total == ([.objects[]] | add) and .total_is_lower_bound == false'
expect_exit star_rotate 0 "$REKEYCTL" rotate -f "$star" --state "$STATE"
new=$(write_key_of cp-1)
expect_exit star_etcd_per_resource 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets \
	--resource configmaps --resource namespaces --resource widgets.example.com \
	--resource customresourcedefinitions.apiextensions.k8s.io --expect "$new"
expect_grep star_custom_resources_counted "widgets\.example\.com +aescbc +$new +5 " "$E2E_TMP/out"
expect_exit star_etcd_all_by_config 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --config "$(node_config cp-1)"
expect_grep star_etcd_nothing_unexpected ' 0 unexpected, 0 malformed, 0 of [0-9]+ decrypt checks failed' "$E2E_TMP/out"
gone=1
for n in cp-1 cp-2 cp-3; do grep -q "name: $old\$" "$(node_config "$n")" && gone=0; done
[ "$gone" = 1 ] && ok star_old_key_gone || not_ok star_old_key_gone "$old still in a node config"
after="$(api_sum secrets) $(api_sum configmaps) $(api_sum widgets.example.com)"
[ "$after" = "$sums" ] && ok star_data_unchanged || not_ok star_data_unchanged "checksums differ"
grep -q '# every resource; identity reads' "$(node_config cp-2)" && ok star_comment_outside_rule_kept ||
	not_ok star_comment_outside_rule_kept "the comment is gone"
"$SANDBOX" down --dir "$D" >/dev/null 2>&1

# ---- (2) two rules, only the configmaps rule rotated ----
sbx_up two --apiservers 3 --secrets 100 --configmaps 60 --namespaces 2 || { not_ok sandbox_up_two "see log"; e2e_done; }
skey=$(write_key_of cp-1)
ssecret=$(secret_of)
"$REKEYCTL" keygen --provider aesgcm --out "$D/cm.key" >"$D/keygen.out" || not_ok keygen "failed"
cmkey=$(sed -n 's/^name: //p' "$D/keygen.out")
cat >"$D/two-enc.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]   # secrets: this plan leaves them alone
  providers:
  - aescbc: {keys: [{name: $skey, secret: "$ssecret"}]}
  - identity: {}
- resources:
  - configmaps
  providers:
  - aesgcm:
      keys:
      - name: $cmkey
        secret: $(cat "$D/cm.key")
  - identity: {}
EOF
set_enc_config "$D/two-enc.yaml" && ok two_config_running || not_ok two_config_running "apiservers did not pick it up"
expect_exit two_configmaps_under_cmkey 0 "$REKEYCTL" rewrite --kubeconfig "$D/kubeconfig" --resource configmaps \
	--state "$D/rewrite-state"
expect_exit two_etcd_before 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource configmaps --expect "$cmkey"
secret_rule() { sed -n '/^- resources: \[secrets\]/,/^  - identity/p' "$1"; }
"$ETCDCTL" --endpoints "$(etcd_url)" get --prefix /registry/secrets/ >"$D/secrets-before.bin"
secret_rule "$(node_config cp-1)" >"$D/secret-rule-before.txt"
[ "$(wc -l <"$D/secret-rule-before.txt")" = 4 ] && ok two_secret_rule_found || not_ok two_secret_rule_found "$(cat "$D/secret-rule-before.txt")"
cm_before=$(api_sum configmaps)
two=$(plan_with two '[configmaps]')
expect_exit two_plan 0 "$REKEYCTL" plan -f "$two" --state "$STATE"
expect_grep two_plan_selects_configmaps '^  \* resources\[1\] \["configmaps"\]: writes with '"$cmkey"' \(aesgcm\)' "$E2E_TMP/out"
expect_grep two_plan_leaves_secrets '^    resources\[0\] \["secrets"\]: writes with '"$skey"' \(aescbc\), untouched' "$E2E_TMP/out"
expect_no_grep two_plan_no_secret_objects 'secrets (v1)' "$E2E_TMP/out"
expect_exit two_plan_json 0 "$REKEYCTL" plan -f "$two" --state "$STATE" -o json
jq_ok two_plan_json_rules '(.rules | length) == 2 and
	.rules[0].selected == false and .rules[0].resources == ["secrets"] and .rules[0].write_key == "'"$skey"'" and
	.rules[0].stored == [] and .rules[1].selected == true and .rules[1].resources == ["configmaps"] and
	.rules[1].provider == "aesgcm" and .write_key == "'"$cmkey"'" and
	(.rules[1].stored | map(.name)) == ["configmaps"] and (.rules[1].stored[0].objects | type) == "number" and
	.rules[1].stored[0].objects == .objects.configmaps and .rules[1].objects == .total and
	.objects.secrets == null and (.objects | keys) == ["configmaps"]'
expect_exit two_rotate 0 "$REKEYCTL" rotate -f "$two" --state "$STATE"
"$ETCDCTL" --endpoints "$(etcd_url)" get --prefix /registry/secrets/ >"$D/secrets-after.bin"
cmp -s "$D/secrets-before.bin" "$D/secrets-after.bin" && ok two_secret_values_byte_for_byte ||
	not_ok two_secret_values_byte_for_byte "stored secrets changed"
same=1
for n in cp-1 cp-2 cp-3; do
	secret_rule "$(node_config "$n")" | cmp -s - "$D/secret-rule-before.txt" || same=0
done
[ "$same" = 1 ] && ok two_secret_rule_byte_for_byte || not_ok two_secret_rule_byte_for_byte "$(secret_rule "$(node_config cp-2)")"
cmnew=$("$REKEYCTL" config show "$(node_config cp-1)" | sed -n 's/.*write key: \([^ ]*\).*/\1/p' | sed -n 2p)
[ -n "$cmnew" ] && [ "$cmnew" != "$cmkey" ] && [ "$cmnew" != "$skey" ] && ok two_configmaps_new_key ||
	not_ok two_configmaps_new_key "configmaps write with '$cmnew'"
expect_exit two_etcd_configmaps_new_key 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource configmaps --expect "$cmnew"
expect_exit two_etcd_secrets_old_key 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect "$skey"
kept=1 gone=1
for n in cp-1 cp-2 cp-3; do
	grep -q "name: $skey" "$(node_config "$n")" || kept=0
	grep -q "name: $cmkey" "$(node_config "$n")" && gone=0
done
[ "$kept" = 1 ] && ok two_secrets_key_kept || not_ok two_secrets_key_kept "$skey missing somewhere"
[ "$gone" = 1 ] && ok two_configmaps_old_key_gone || not_ok two_configmaps_old_key_gone "$cmkey still somewhere"
[ "$(api_sum configmaps)" = "$cm_before" ] && ok two_configmaps_unchanged || not_ok two_configmaps_unchanged "checksum differs"
expect_exit two_history 0 "$REKEYCTL" history --state "$STATE" -o json
tr -d ' \n' <"$E2E_TMP/out" >"$D/history.json"
expect_grep two_history_cmkey_pruned "\"key\":\"$cmkey\"[^}]*\"event\":\"pruned\"|\"event\":\"pruned\"[^}]*\"key\":\"$cmkey\"" "$D/history.json"
grep -Eq "\"key\":\"$skey\"[^}]*\"event\":\"pruned\"|\"event\":\"pruned\"[^}]*\"key\":\"$skey\"" "$D/history.json" &&
	not_ok two_history_secrets_key_not_pruned "$skey recorded as pruned" || ok two_history_secrets_key_not_pruned

# ---- (2b) a key two rules share: rotating the configmaps rule away from it keeps it for the secrets rule ----
# The configmaps rule now writes with the secrets rule's key (same name and secret: a hand-written config
# may share one); rotating configmaps drops it from that rule only: it stays in the file for secrets, is
# not recorded as pruned, and no stored secret changes.
cmprov=$("$REKEYCTL" config show "$(node_config cp-1)" | awk '/^resources\[1\]/ { r = 1 } r && /\(write\)/ { print $2; exit }')
cat >"$D/shared-enc.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
$(cat "$D/secret-rule-before.txt")
- resources:
  - configmaps
  providers:
  - aescbc:
      keys:
      - name: $skey
        secret: $ssecret
  - $cmprov:
      keys:
      - name: $cmnew
        secret: $(secret_of)
  - identity: {}
EOF
set_enc_config "$D/shared-enc.yaml" && ok shared_config_running || not_ok shared_config_running "apiservers did not pick it up"
expect_exit shared_configmaps_under_shared_key 0 "$REKEYCTL" rewrite --kubeconfig "$D/kubeconfig" \
	--resource configmaps --state "$D/rewrite-state-shared"
expect_exit shared_etcd_before 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource configmaps --expect "$skey"
expect_exit shared_rotate 0 "$REKEYCTL" rotate -f "$two" --state "$STATE"
expect_grep shared_key_kept_logged "$skey no longer writes the selected rules but another rule still uses it: kept" "$E2E_TMP/err"
cmshared=$("$REKEYCTL" config show "$(node_config cp-1)" | sed -n 's/.*write key: \([^ ]*\).*/\1/p' | sed -n 2p)
expect_exit shared_etcd_configmaps_new_key 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource configmaps --expect "$cmshared"
"$ETCDCTL" --endpoints "$(etcd_url)" get --prefix /registry/secrets/ >"$D/secrets-after-shared.bin"
cmp -s "$D/secrets-before.bin" "$D/secrets-after-shared.bin" && ok shared_secret_values_byte_for_byte ||
	not_ok shared_secret_values_byte_for_byte "stored secrets changed"
same=1 left=1
for n in cp-1 cp-2 cp-3; do
	secret_rule "$(node_config "$n")" | cmp -s - "$D/secret-rule-before.txt" || same=0
	"$REKEYCTL" config show "$(node_config "$n")" | sed -n '/^resources\[1\]/,$p' | grep -q " key $skey " && left=0
done
[ "$same" = 1 ] && ok shared_key_kept_for_secrets || not_ok shared_key_kept_for_secrets "$(secret_rule "$(node_config cp-2)")"
[ "$left" = 1 ] && ok shared_key_dropped_from_configmaps || not_ok shared_key_dropped_from_configmaps "$skey still in the configmaps rule"
expect_exit shared_history 0 "$REKEYCTL" history --state "$STATE" -o json
tr -d ' \n' <"$E2E_TMP/out" >"$D/history-shared.json"
grep -Eq "\"key\":\"$skey\"[^}]*\"event\":\"pruned\"|\"event\":\"pruned\"[^}]*\"key\":\"$skey\"" "$D/history-shared.json" &&
	not_ok shared_key_not_recorded_pruned "$skey recorded as pruned" || ok shared_key_not_recorded_pruned
ls "$STATE/archive/sandbox/" >"$D/archive.txt" 2>&1
expect_grep shared_archive_listed "^$cmkey\." "$D/archive.txt" # archived by the rotation of (2)
grep -q "^$skey\." "$D/archive.txt" && not_ok shared_key_not_archived "$(cat "$D/archive.txt")" || ok shared_key_not_archived
[ "$(api_sum configmaps)" = "$cm_before" ] && ok shared_configmaps_unchanged || not_ok shared_configmaps_unchanged "checksum differs"

# ---- (3) an update refused by admission: named, and nothing pruned ----
denied=$(kc get configmaps -n ns-1 -o jsonpath='{.items[0].metadata.name}')
kc label configmap -n ns-1 "$denied" rekey.test/deny=true >/dev/null && ok deny_labelled || not_ok deny_labelled "kubectl label failed"
if is_real; then
	cat >"$D/vap.yaml" <<'EOF'
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: rekey-deny}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - {apiGroups: ["*"], apiVersions: ["*"], operations: ["UPDATE"], resources: ["*"]}
    objectSelector: {matchLabels: {rekey.test/deny: "true"}}
  validations:
    - {expression: "false", message: "objects labelled rekey.test/deny cannot be updated"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: rekey-deny}
spec: {policyName: rekey-deny, validationActions: [Deny]}
EOF
	kc create -f "$D/vap.yaml" >/dev/null || not_ok deny_policy "kubectl create failed"
else
	for n in cp-1 cp-2 cp-3; do "$SANDBOX" fault --dir "$D" --node "$n" --deny-label rekey.test/deny >/dev/null; done
fi
i=0 # the policy is in force once a label change of the object is refused
until ! kc label --overwrite configmap -n ns-1 "$denied" rekey.test/probe="$i" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 120 ] || { not_ok deny_in_force "updates still allowed after 60 s"; break; }
	sleep 0.5
done
cmcur=$cmshared
expect_exit deny_rotate_refused 4 "$REKEYCTL" rotate -f "$two" --state "$STATE"
cp "$E2E_TMP/err" "$D/deny.err"
expect_grep deny_names_resource_and_object "configmaps: 1 object\(s\) could not be written back, first ns-1/$denied" "$D/deny.err"
expect_grep deny_carries_apiserver_message \
	"is forbidden: ValidatingAdmissionPolicy 'rekey(-sandbox)?-deny' with binding 'rekey(-sandbox)?-deny' denied request: objects labelled rekey.test/deny" "$D/deny.err"
expect_grep deny_says_old_key_stays 'the old key stays' "$D/deny.err"
kept=1
for n in cp-1 cp-2 cp-3; do grep -q "name: $cmcur\$" "$(node_config "$n")" || kept=0; done
[ "$kept" = 1 ] && ok deny_nothing_pruned || not_ok deny_nothing_pruned "$cmcur pruned somewhere"
expect_exit deny_resume_still_refused 4 "$REKEYCTL" resume -f "$two" --state "$STATE"
kept=1
for n in cp-1 cp-2 cp-3; do grep -q "name: $cmcur\$" "$(node_config "$n")" || kept=0; done
[ "$kept" = 1 ] && ok deny_resume_nothing_pruned || not_ok deny_resume_nothing_pruned "$cmcur pruned somewhere"
expect_exit deny_abort 0 "$REKEYCTL" abort -f "$two" --state "$STATE"
e2e_done
