#!/bin/sh
# 64_rotate_keys.sh: what happens to keys around a rotation. A staged key is never generated twice:
# with its backup gone after stage-key, resume and rollback stop (exit 4) and change no node; restoring
# the backup from a node's config lets the run finish.
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

configs_saved() { for n in cp-1 cp-2 cp-3; do cp "$(node_config "$n")" "$E2E_TMP/saved-$n.yaml"; done; }
configs_same() { for n in cp-1 cp-2 cp-3; do cmp -s "$(node_config "$n")" "$E2E_TMP/saved-$n.yaml" || return 1; done; }

sbx_up keys --apiservers 3 --secrets 120 --namespaces 3 || { not_ok sandbox_up "see log"; e2e_done; }
key0=$(write_key_of cp-1)
before=$(data_sum)

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
e2e_done
