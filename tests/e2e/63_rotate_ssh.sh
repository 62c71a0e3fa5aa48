#!/bin/sh
# 63_rotate_ssh.sh: a rotation whose configs and manifests travel over SFTP (libcurl + libssh2) to a
# real OpenSSH server on loopback: host key checked against known_hosts (an unknown host is refused
# before anything changes, also with no knownHosts in the plan: ~/.ssh/known_hosts is the default;
# trustOnFirstUse records a new host once, in known_hosts and the audit log; a changed key is always
# refused), key authentication, files replaced by upload-then-rename.
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh
SSHD=/usr/sbin/sshd
if [ ! -x "$SSHD" ] || ! command -v ssh-keygen >/dev/null || ! command -v ssh-keyscan >/dev/null; then
	skip ssh_rotation "no OpenSSH server (Debian's openssh-server)"
	e2e_done
fi
if [ "$(id -u)" != 0 ]; then
	skip ssh_rotation "sshd for this test needs root"
	e2e_done
fi
S=$E2E_TMP/sshd
mkdir -p "$S" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$S/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$S/client_key"
cp "$S/client_key.pub" "$S/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$S/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $S/host_key
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $S/sshd.pid
Subsystem sftp internal-sftp
CONF
"$SSHD" -f "$S/sshd_config" -D -e 2>"$S/sshd.log" &
sshd_pid=$!
trap 'kill "$sshd_pid" 2>/dev/null; rot_down_all; e2e_cleanup' EXIT
deadline=$(($(date +%s) + 20))
until ssh-keyscan -p "$port" -t ed25519 127.0.0.1 >"$S/known_hosts" 2>/dev/null && [ -s "$S/known_hosts" ]; do
	[ "$(date +%s)" -ge "$deadline" ] && break
	sleep 0.2
done
[ -s "$S/known_hosts" ] && ok sshd_started || { not_ok sshd_started "$(tail -n 3 "$S/sshd.log")"; e2e_done; }

sbx_up ssh --apiservers 3 --secrets 100 || { not_ok sandbox_up "see log"; e2e_done; }
old=$(write_key_of cp-1)
before=$(data_sum)
for n in cp-1 cp-2 cp-3; do cp "$(node_config "$n")" "$E2E_TMP/base-$n.yaml"; done
sed -e 's/^  access: local/  access: ssh/' \
	-e "s|^controlPlane:|controlPlane:\n  ssh: {user: root, port: $port, identityFile: $S/client_key, knownHosts: $S/known_hosts}|" \
	"$PLAN" >"$D/plan-ssh.yaml"
: >"$S/empty_known_hosts"
sed -e "s|knownHosts: $S/known_hosts|knownHosts: $S/empty_known_hosts|" "$D/plan-ssh.yaml" >"$D/plan-ssh-unknown.yaml"
configs_unchanged() {
	for n in cp-1 cp-2 cp-3; do cmp -s "$(node_config "$n")" "$E2E_TMP/base-$n.yaml" || return 1; done
}
expect_exit unknown_host_refused 4 "$REKEYCTL" rotate -f "$D/plan-ssh-unknown.yaml" --state "$D/state-unknown"
expect_grep unknown_host_named "host key of node cp-1 .* is not in $S/empty_known_hosts" "$E2E_TMP/err"
configs_unchanged && ok unknown_host_changed_nothing || not_ok unknown_host_changed_nothing "a config changed"

# ---- no knownHosts in the plan: ~/.ssh/known_hosts is checked (HOME is an empty directory here) ----
H=$E2E_TMP/home
mkdir -p "$H"
sed -e "s|, knownHosts: $S/known_hosts||" "$D/plan-ssh.yaml" >"$D/plan-ssh-default.yaml"
expect_exit default_known_hosts_refused 4 env HOME="$H" "$REKEYCTL" rotate -f "$D/plan-ssh-default.yaml" --state "$D/state-default"
expect_grep default_known_hosts_named "is not in $H/.ssh/known_hosts \\(the file does not exist\\)" "$E2E_TMP/err"
configs_unchanged && ok default_known_hosts_changed_nothing || not_ok default_known_hosts_changed_nothing "a config changed"

# ---- trustOnFirstUse: the first contact records the key in known_hosts and its fingerprint in the audit log ----
sed -e 's|identityFile:|trustOnFirstUse: true, identityFile:|' "$D/plan-ssh-default.yaml" >"$D/plan-ssh-tofu.yaml"
expect_exit tofu_plan 0 env HOME="$H" "$REKEYCTL" plan -f "$D/plan-ssh-tofu.yaml" --state "$D/state-tofu"
host_key=$(cut -d' ' -f2 "$S/host_key.pub")
[ "$(cat "$H/.ssh/known_hosts" 2>/dev/null)" = "[127.0.0.1]:$port ssh-ed25519 $host_key" ] && ok tofu_recorded_in_known_hosts ||
	not_ok tofu_recorded_in_known_hosts "$(cat "$H/.ssh/known_hosts" 2>&1)"
[ "$(stat -c %a "$H/.ssh/known_hosts")" = 600 ] && ok tofu_known_hosts_0600 || not_ok tofu_known_hosts_0600 "$(stat -c %a "$H/.ssh/known_hosts")"
fp=$(ssh-keygen -lf "$S/host_key.pub" | cut -d' ' -f2)
"$REKEYCTL" history --state "$D/state-tofu" -o json >"$E2E_TMP/history.json"
trusted=$(jq -r '[.audit[] | select(.action == "ssh-trust-on-first-use")] | length' "$E2E_TMP/history.json")
[ "$trusted" = 1 ] && ok tofu_audited_once || not_ok tofu_audited_once "$trusted audit records"
grep -qF "$fp" "$E2E_TMP/history.json" && ok tofu_audit_fingerprint || not_ok tofu_audit_fingerprint "no $fp in the audit log"
expect_exit tofu_second_contact_known 0 env HOME="$H" "$REKEYCTL" plan -f "$D/plan-ssh-tofu.yaml" --state "$D/state-tofu"
[ "$(wc -l <"$H/.ssh/known_hosts")" = 1 ] && ok tofu_once_only || not_ok tofu_once_only "$(cat "$H/.ssh/known_hosts")"
# a changed host key is refused even with trustOnFirstUse, and the file is left as it was
echo "[127.0.0.1]:$port ssh-ed25519 $(cut -d' ' -f2 "$S/client_key.pub")" >"$H/.ssh/known_hosts"
cp "$H/.ssh/known_hosts" "$E2E_TMP/kh-before"
expect_exit changed_host_key_refused 4 env HOME="$H" "$REKEYCTL" rotate -f "$D/plan-ssh-tofu.yaml" --state "$D/state-tofu"
grep -qF "CHANGED: ssh-ed25519 $fp does not match" "$E2E_TMP/err" && ok changed_host_key_named ||
	not_ok changed_host_key_named "$(head -c 300 "$E2E_TMP/err")"
cmp -s "$H/.ssh/known_hosts" "$E2E_TMP/kh-before" && ok changed_host_key_file_kept || not_ok changed_host_key_file_kept "known_hosts changed"
configs_unchanged && ok changed_host_key_changed_nothing || not_ok changed_host_key_changed_nothing "a config changed"
# the rotation itself checks against a hashed known_hosts (HashKnownHosts yes, Debian's default)
ssh-keygen -q -H -f "$S/known_hosts" >/dev/null 2>&1 && grep -q '^|1|' "$S/known_hosts" && ok known_hosts_hashed ||
	not_ok known_hosts_hashed "$(head -c 200 "$S/known_hosts")"
expect_exit ssh_rotate 0 "$REKEYCTL" rotate -f "$D/plan-ssh.yaml" --state "$STATE"
check_rotated ssh "$old" "$before"
left=$(find "$D/nodes" -name '.*rekeyctl-*' | wc -l)
[ "$left" = 0 ] && ok ssh_no_temp_files_left || not_ok ssh_no_temp_files_left "$left temp files"
e2e_done
