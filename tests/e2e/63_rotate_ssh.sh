#!/bin/sh
# 63_rotate_ssh.sh: a rotation whose configs and manifests travel over SFTP (libcurl + libssh2) to a
# real OpenSSH server on loopback: host key checked against known_hosts (an unknown host is refused
# before anything changes), key authentication, files replaced by upload-then-rename.
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
expect_exit unknown_host_refused 4 "$REKEYCTL" rotate -f "$D/plan-ssh-unknown.yaml" --state "$D/state-unknown"
expect_grep unknown_host_names_sftp 'sftp' "$E2E_TMP/err"
same=1
for n in cp-1 cp-2 cp-3; do cmp -s "$(node_config "$n")" "$E2E_TMP/base-$n.yaml" || same=0; done
[ "$same" = 1 ] && ok unknown_host_changed_nothing || not_ok unknown_host_changed_nothing "a config changed"
expect_exit ssh_rotate 0 "$REKEYCTL" rotate -f "$D/plan-ssh.yaml" --state "$STATE"
check_rotated ssh "$old" "$before"
left=$(find "$D/nodes" -name '.*rekeyctl-*' | wc -l)
[ "$left" = 0 ] && ok ssh_no_temp_files_left || not_ok ssh_no_temp_files_left "$left temp files"
e2e_done
