#!/bin/sh
# 64_rotate_keys.sh: what happens to keys around a rotation. A staged key is never generated twice:
# with its backup gone after stage-key, resume and rollback stop (exit 4) and change no node; restoring
# the backup from a node's config lets the run finish. Every pruned key is archived first (0600, in
# history with provider and fingerprint), and `verify --snapshot` of a snapshot taken before a second
# rotation lists the key it needs as archived. The promotion probe secret is recorded before it is
# created: after a kill -9 right after its creation, resume, rollback and abort each delete it.
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

configs_saved() { for n in cp-1 cp-2 cp-3; do cp "$(node_config "$n")" "$E2E_TMP/saved-$n.yaml"; done; }
configs_same() { for n in cp-1 cp-2 cp-3; do cmp -s "$(node_config "$n")" "$E2E_TMP/saved-$n.yaml" || return 1; done; }

sbx_up keys --apiservers 3 --secrets 120 --namespaces 3 || { not_ok sandbox_up "see log"; e2e_done; }
key0=$(write_key_of cp-1)
before=$(data_sum)
fingerprint_of() { "$REKEYCTL" config show -o json "$(node_config cp-1)" | jq -r --arg k "$1" '.rules[].providers[].keys[]? | select(.name == $k) | .fingerprint'; }
fp0=$(fingerprint_of "$key0")

# ---- the backup of the staged key disappears after stage-key (cp-1 already reads the key) ----
REKEY_TEST_CRASH_AT=read:cp-2:written "$REKEYCTL" rotate -f "$PLAN" --state "$STATE" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
rc=$?
[ "$rc" = 137 ] && ok killed_after_staging || not_ok killed_after_staging "exit $rc: $(tail -n 2 "$E2E_TMP/err")"
backup=$(ls "$D"/key-backup/*.key 2>/dev/null | head -n 1)
key1=$(basename "$backup" .key)
[ -n "$key1" ] && grep -q "name: $key1\$" "$(node_config cp-1)" && ok canary_reads_staged_key ||
	not_ok canary_reads_staged_key "backup '$backup' not in cp-1's config"
mv "$backup" "$E2E_TMP/backup.key"
configs_saved
expect_exit resume_refused_without_backup 4 "$REKEYCTL" resume -f "$PLAN" --state "$STATE"
expect_grep resume_says_what_to_do "backup of key $key1 \\($backup\\) is missing.*never generated again.*rekeyctl abort" "$E2E_TMP/err"
configs_same && ok resume_changed_no_node || not_ok resume_changed_no_node "a node config changed"
expect_exit rollback_refused_without_backup 4 "$REKEYCTL" rollback -f "$PLAN" --state "$STATE"
configs_same && ok rollback_changed_no_node || not_ok rollback_changed_no_node "a node config changed"
[ ! -e "$backup" ] && ok no_key_regenerated || not_ok no_key_regenerated "a new backup appeared"

# ---- a backup holding another key is refused too; the right one, copied from a node, lets it finish ----
"$REKEYCTL" keygen --provider aescbc --out "$backup" >/dev/null
expect_exit wrong_backup_refused 4 "$REKEYCTL" resume -f "$PLAN" --state "$STATE"
expect_grep wrong_backup_named "holds another key" "$E2E_TMP/err"
configs_same && ok wrong_backup_changed_no_node || not_ok wrong_backup_changed_no_node "a node config changed"
rm -f "$backup"
secret=$(grep -A1 "name: $key1\$" "$(node_config cp-1)" | sed -n 's/.*secret: *//p')
(umask 077 && echo "$secret" >"$backup")
expect_exit resume_after_restore 0 "$REKEYCTL" resume -f "$PLAN" --state "$STATE"
check_rotated restored "$key0" "$before"
cmp -s "$backup" "$E2E_TMP/backup.key" && ok restored_backup_is_the_key || not_ok restored_backup_is_the_key "differs"

# ---- the pruned key was archived first: 0600, the right secret, in history with its provider ----
entry=$STATE/archive/sandbox/$key0.aescbc.$fp0.key
[ -f "$entry" ] && [ "$(stat -c %a "$entry")" = 600 ] && [ "$(stat -c %a "$STATE/archive/sandbox")" = 700 ] &&
	ok old_key_archived_0600 || not_ok old_key_archived_0600 "$(ls -la "$STATE/archive/sandbox" 2>&1)"
secret0=$(grep -A1 "name: $key0\$" "$E2E_TMP/saved-cp-1.yaml" | sed -n 's/.*secret: *//p')
[ -n "$secret0" ] && [ "$(cat "$entry")" = "$secret0" ] && ok archive_holds_the_old_secret || not_ok archive_holds_the_old_secret "differs"
"$REKEYCTL" history --state "$STATE" -o json >"$E2E_TMP/history.json"
archived=$(jq -r --arg k "$key0" '.keys[] | select(.event == "archived" and .key == $k) | "\(.provider) \(.fingerprint) \(.backup)"' "$E2E_TMP/history.json")
[ "$archived" = "aescbc $fp0 $entry" ] && ok archive_in_history || not_ok archive_in_history "'$archived'"

# ---- a snapshot taken while key1 writes, then a second rotation prunes key1 ----
ETCDCTL_API=3 etcdctl --endpoints "$(etcd_url)" snapshot save "$E2E_TMP/before-second.db" >/dev/null 2>&1
[ -s "$E2E_TMP/before-second.db" ] && ok snapshot_saved || not_ok snapshot_saved "etcdctl snapshot save"
fp1=$(fingerprint_of "$key1")
count1=$(KUBECONFIG=$D/kubeconfig kubectl get secrets -A --no-headers | grep -vc rekeyctl-probe)
before=$(data_sum)

# ---- the second rotation is killed right after the promotion probe secret was created ----
secrets_total() { KUBECONFIG=$D/kubeconfig kubectl get secrets -A --no-headers | wc -l; }
probes_in_cluster() { KUBECONFIG=$D/kubeconfig kubectl get secrets -n kube-system --no-headers | grep -c '^rekeyctl-probe-'; }
probes_open() { sqlite3 "$STATE/state.db" "SELECT count(*) FROM probes WHERE deleted_at IS NULL"; }
# crash_at_probe NAME: a rotation killed just after its probe secret exists (recorded, not deleted)
crash_at_probe() {
	REKEY_TEST_CRASH_AT=probe::created "$REKEYCTL" rotate -f "$PLAN" --state "$STATE" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	[ "$rc" = 137 ] && ok "$1_killed_after_probe" || not_ok "$1_killed_after_probe" "exit $rc: $(tail -n 2 "$E2E_TMP/err")"
	[ "$(probes_in_cluster)" = 1 ] && [ "$(probes_open)" = 1 ] && ok "$1_probe_exists_and_recorded" ||
		not_ok "$1_probe_exists_and_recorded" "$(probes_in_cluster) in the cluster, $(probes_open) recorded"
}
start_total=$(secrets_total)
crash_at_probe second
expect_exit resume_after_probe_kill 0 "$REKEYCTL" resume -f "$PLAN" --state "$STATE"
[ "$(secrets_total)" = "$start_total" ] && ok probe_resume_secret_count || not_ok probe_resume_secret_count "$(secrets_total) secrets, started with $start_total"
[ "$(probes_in_cluster)" = 0 ] && [ "$(probes_open)" = 0 ] && ok probe_resume_none_left ||
	not_ok probe_resume_none_left "$(probes_in_cluster) in the cluster, $(probes_open) open records"
check_rotated second "$key1" "$before"

# ---- verify --snapshot: the snapshot needs key1, which the archive holds (name and fingerprint) ----
expect_exit snapshot_verified 0 "$REKEYCTL" verify --snapshot "$E2E_TMP/before-second.db" --resource secrets --state "$STATE" -o json
need=$(jq -r '.archive.keys[] | "\(.provider) \(.key) \(.count) \(.archived) \(.fingerprint)"' "$E2E_TMP/out")
[ "$need" = "aescbc $key1 $count1 true $fp1" ] && ok snapshot_key_archived || not_ok snapshot_key_archived "'$need' want 'aescbc $key1 $count1 true $fp1'"
expect_exit snapshot_table 0 "$REKEYCTL" verify --snapshot "$E2E_TMP/before-second.db" --resource secrets --state "$STATE"
expect_grep snapshot_table_lists_key "aescbc $key1 \($count1 values\): archived, fingerprint $fp1" "$E2E_TMP/out"
# another state dir has no entry; an entry under the right name holding another key does not count
mkdir -p "$E2E_TMP/empty-state"
expect_exit snapshot_no_archive 0 "$REKEYCTL" verify --snapshot "$E2E_TMP/before-second.db" --state "$E2E_TMP/empty-state" -o json
[ "$(jq -r '.archive.keys[0].archived' "$E2E_TMP/out")" = false ] && ok snapshot_not_archived_elsewhere ||
	not_ok snapshot_not_archived_elsewhere "$(jq -c .archive "$E2E_TMP/out")"
"$REKEYCTL" keygen --provider aescbc --out "$E2E_TMP/other.key" >/dev/null
mkdir -p "$E2E_TMP/fake-state/archive/sandbox" && chmod 700 "$E2E_TMP/fake-state/archive/sandbox"
fake_fp=$(tr -d '\n' <"$E2E_TMP/other.key" | base64 -d | sha256sum | cut -c1-16)
cp "$E2E_TMP/other.key" "$E2E_TMP/fake-state/archive/sandbox/$key1.aescbc.$fake_fp.key"
expect_exit snapshot_fake_entry 0 "$REKEYCTL" verify --snapshot "$E2E_TMP/before-second.db" --state "$E2E_TMP/fake-state" -o json
jq -r '.archive.keys[0] | "\(.archived) \(.note)"' "$E2E_TMP/out" | grep -q '^false .*does not decrypt' &&
	ok snapshot_foreign_key_refused || not_ok snapshot_foreign_key_refused "$(jq -c .archive "$E2E_TMP/out")"

# ---- rollback and abort delete a leftover probe too ----
start_total=$(secrets_total)
crash_at_probe third
expect_exit rollback_after_probe_kill 0 "$REKEYCTL" rollback -f "$PLAN" --state "$STATE"
[ "$(secrets_total)" = "$start_total" ] && [ "$(probes_in_cluster)" = 0 ] && [ "$(probes_open)" = 0 ] &&
	ok probe_rollback_none_left || not_ok probe_rollback_none_left "$(secrets_total) secrets (from $start_total), $(probes_in_cluster) probes"
crash_at_probe fourth
expect_exit abort_after_probe_kill 0 "$REKEYCTL" abort -f "$PLAN" --state "$STATE"
[ "$(secrets_total)" = "$start_total" ] && [ "$(probes_in_cluster)" = 0 ] && [ "$(probes_open)" = 0 ] &&
	ok probe_abort_none_left || not_ok probe_abort_none_left "$(secrets_total) secrets (from $start_total), $(probes_in_cluster) probes"
e2e_done
