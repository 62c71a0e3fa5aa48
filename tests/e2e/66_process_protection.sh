#!/bin/sh
# 66_process_protection.sh: a running rekeyctl holds keys, so it must not dump core and other
# processes of its user must not read its memory: while `rekeyctl config validate` waits on a FIFO
# (run as an unprivileged user, started with an unlimited core size), its /proc entries belong to
# root (the kernel's sign of a non-dumpable process) and its core size limit is 0.
. tests/e2e/lib.sh
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
	skip process_protection "needs root, setpriv and the user nobody"
	e2e_done
fi
P=$(mktemp -d /tmp/rekey-protect-XXXXXX)
chmod 755 "$P"
trap 'rm -rf "$P"; e2e_cleanup' EXIT
mkfifo -m 666 "$P/enc.yaml"
sh -c 'ulimit -c unlimited; exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"' sh \
	"$REKEYCTL" config validate "$P/enc.yaml" >"$E2E_TMP/out" 2>"$E2E_TMP/err" &
pid=$!
# wait until rekeyctl itself (not the sh before its exec) runs and blocks opening the FIFO
deadline=$(($(date +%s) + 20))
until [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$REKEYCTL")" ] &&
	grep -q 'fifo_open\|pipe_' "/proc/$pid/wchan" 2>/dev/null; do
	[ "$(date +%s)" -ge "$deadline" ] && break
	sleep 0.05
done
[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$REKEYCTL")" ] && ok rekeyctl_waiting || not_ok rekeyctl_waiting "$(cat "/proc/$pid/wchan" 2>&1)"
[ "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = 65534 ] && ok runs_as_nobody || not_ok runs_as_nobody "$(grep Uid "/proc/$pid/status")"
owner=$(stat -c %u "/proc/$pid/environ")
[ "$owner" = 0 ] && ok not_dumpable || not_ok not_dumpable "/proc/$pid/environ belongs to uid $owner: the process is dumpable"
core=$(awk '/^Max core file size/ {print $5, $6}' "/proc/$pid/limits")
[ "$core" = "0 0" ] && ok core_limit_zero || not_ok core_limit_zero "core limit '$core'"
printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: [{resources: [secrets], providers: [{identity: {}}]}]\n' >"$P/enc.yaml"
wait "$pid"
rc=$?
[ "$rc" = 0 ] && ok validate_finished || not_ok validate_finished "exit $rc: $(head -c 300 "$E2E_TMP/err")"
e2e_done
