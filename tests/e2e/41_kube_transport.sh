#!/bin/sh
# 41_kube_transport.sh: the API client's transport against a real TLS server (Node's http2 module,
# tests/e2e/kube_h2server.js): HTTP/2 by ALPN and streams on one connection, HTTP/1.1 fallback,
# client certificate / bearer token / token file / exec plugin authentication, tls-server-name,
# certificate errors, the retry policy (5xx, 429 + Retry-After, bounds), kubeconfig errors (exit 2).
. tests/e2e/lib.sh
T=$E2E_TMP

if ! command -v node >/dev/null 2>&1; then
	skip kube_transport "node (Debian nodejs) is not installed: no HTTP/2 test server"
	e2e_done
fi

ms_now() { date +%s%3N; }

make_pki() {
	d=$1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=test-ca -days 2 \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=server \
		-keyout "$d/tls.key" -out "$d/tls.csr" 2>/dev/null
	printf 'subjectAltName=DNS:kubernetes,DNS:localhost\n' >"$d/ext"
	openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-extfile "$d/ext" -out "$d/tls.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=alice \
		-keyout "$d/alice.key" -out "$d/alice.csr" 2>/dev/null
	openssl x509 -req -in "$d/alice.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-out "$d/alice.crt" 2>/dev/null
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other -days 1 \
		-keyout "$d/other.key" -out "$d/other.crt" 2>/dev/null
}

# start_server DIR [--http1]: starts the server, waits (with a deadline) for DIR/port.
start_server() {
	node tests/e2e/kube_h2server.js "$@" >"$1/server.out" 2>&1 &
	echo $! >"$1/pid"
	deadline=$(($(date +%s) + 20))
	while [ ! -s "$1/port" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
	[ -s "$1/port" ]
}

S=$T/srv
H1=$T/srv1
PL=$T/srvplain
mkdir -p "$S" "$H1" "$PL"
make_pki "$S"
cp "$S"/*.crt "$S"/*.key "$H1"/
cp "$S"/*.crt "$S"/*.key "$PL"/
echo secret-token >"$S/tokens"
echo secret-token >"$H1/tokens"
echo secret-token >"$PL/tokens"
echo file-token-1 >>"$S/tokens"
if ! start_server "$S" || ! start_server "$H1" --http1 || ! start_server "$PL" --plain; then
	not_ok kube_transport_server "the test server did not start: $(cat "$S/server.out" "$H1/server.out" "$PL/server.out")"
	e2e_done
fi
trap 'kill $(cat "$S/pid") $(cat "$H1/pid") $(cat "$PL/pid") 2>/dev/null; e2e_cleanup' EXIT
PORT=$(cat "$S/port")
PORT1=$(cat "$H1/port")
PORTP=$(cat "$PL/port")
echo file-token-1 >"$T/tokenfile"

cat >"$T/plugin.sh" <<'EOF'
#!/bin/sh
# counts its runs; PLUGIN_STALE_FIRST=1: the first run hands out a token the server rejects
echo run >>"$PLUGIN_DIR/calls"
n=$(wc -l <"$PLUGIN_DIR/calls")
tok=secret-token
if [ "$PLUGIN_STALE_FIRST" = 1 ] && [ "$n" = 1 ]; then tok=stale-token; fi
case "$KUBERNETES_EXEC_INFO" in *'"kind":"ExecCredential"'*) ;; *) echo "no exec info" >&2; exit 5 ;; esac
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2099-01-01T00:00:00Z"}}\n' "$tok"
EOF
chmod 700 "$T/plugin.sh"

cat >"$T/certplugin.sh" <<EOF
#!/bin/sh
# hands out alice's client certificate instead of a token
python3 -c 'import json; print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"clientCertificateData": open("$S/alice.crt").read(), "clientKeyData": open("$S/alice.key").read()}}))'
EOF
chmod 700 "$T/certplugin.sh"

cat >"$T/kc" <<EOF
apiVersion: v1
kind: Config
current-context: tok
clusters:
- name: t
  cluster: {server: "https://localhost:$PORT", certificate-authority: srv/ca.crt}
- name: h1
  cluster: {server: "https://localhost:$PORT1", certificate-authority: srv/ca.crt}
- name: sni
  cluster: {server: "https://127.0.0.1:$PORT", certificate-authority: srv/ca.crt, tls-server-name: kubernetes}
- name: nosni
  cluster: {server: "https://127.0.0.1:$PORT", certificate-authority: srv/ca.crt}
- name: wrongca
  cluster: {server: "https://localhost:$PORT", certificate-authority: srv/other.crt}
- name: plain
  cluster: {server: "http://127.0.0.1:$PORTP"}
users:
- name: tok
  user: {token: secret-token}
- name: alice
  user: {client-certificate: srv/alice.crt, client-key: srv/alice.key}
- name: tf
  user: {tokenFile: tokenfile}
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./plugin.sh
      env: [{name: PLUGIN_DIR, value: "$T"}]
      interactiveMode: Never
- name: stale-plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./plugin.sh
      env: [{name: PLUGIN_DIR, value: "$T"}, {name: PLUGIN_STALE_FIRST, value: "1"}]
      interactiveMode: Never
- name: certplugin
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: ./certplugin.sh, interactiveMode: Never}
contexts:
- {name: certplugin, context: {cluster: t, user: certplugin}}
- {name: tok, context: {cluster: t, user: tok}}
- {name: h1, context: {cluster: h1, user: tok}}
- {name: cert, context: {cluster: t, user: alice}}
- {name: sni, context: {cluster: sni, user: alice}}
- {name: nosni, context: {cluster: nosni, user: alice}}
- {name: wrongca, context: {cluster: wrongca, user: tok}}
- {name: anon, context: {cluster: t}}
- {name: tf, context: {cluster: t, user: tf}}
- {name: plugin, context: {cluster: t, user: plugin}}
- {name: stale-plugin, context: {cluster: t, user: stale-plugin}}
- {name: plain, context: {cluster: plain, user: tok}}
- {name: plain-anon, context: {cluster: plain}}
EOF
K="$REKEYCTL kube --kubeconfig $T/kc"

# --- protocol ---
expect_exit kube_h2_get 0 $K get /version -v
expect_grep kube_h2_negotiated 'http_version=2' "$T/err"
expect_grep kube_h2_server_saw_h2 '"proto":"h2"' "$T/out"
expect_grep kube_user_agent 'rekeyctl/[0-9]' "$S/requests.log"

t0=$(ms_now)
expect_exit kube_h2_repeat 0 $K repeat 50 /slow/300
el=$(($(ms_now) - t0))
expect_grep kube_h2_one_connection 'requests=50 ok=50 failed=0 connections=1 http2=50' "$T/out"
if [ "$el" -lt 5000 ]; then ok kube_h2_in_flight; else not_ok kube_h2_in_flight "50 x 300 ms took ${el} ms"; fi

expect_exit kube_http1_fallback 0 $K --context h1 repeat 24 /slow/300
expect_grep kube_http1_keepalive 'requests=24 ok=24 failed=0 connections=[1-8] http2=0' "$T/out"
# HTTP/1.1: as many connections as requests in flight (--parallel 16), not libcurl's default cap of 8
# (the count is the proof: a wall-time bound fails on a loaded machine)
expect_exit kube_http1_parallel 0 $K --context h1 repeat 32 /slow/300 --parallel 16
expect_grep kube_http1_connections_follow_parallel 'requests=32 ok=32 failed=0 connections=16 http2=0' "$T/out"
expect_exit kube_http1_version 0 $K --context h1 get /version -v
expect_grep kube_http1_negotiated 'http_version=1' "$T/err"

# --- authentication ---
expect_exit kube_client_cert 0 $K --context cert get /version
expect_grep kube_client_cert_who '"who":"cert:alice"' "$T/out"
expect_exit kube_bearer_token 0 $K get /version
expect_grep kube_bearer_token_who '"who":"token:secret-token"' "$T/out"
expect_exit kube_no_credentials 1 $K --context anon get /version
expect_grep kube_no_credentials_401 '401 Unauthorized: Unauthorized' "$T/err"

# token file re-read when it changes: 4 requests one after the other, the file and the server's
# accepted token are rotated after the 2nd; requests 3 and 4 only pass with the new token.
printf '#!/bin/sh\necho file-token-2 > %s/tokenfile.new && mv %s/tokenfile.new %s/tokenfile && echo file-token-2 > %s/tokens\n' \
	"$T" "$T" "$T" "$S" >"$T/rotate.sh" # --run runs a program, never a shell command line
chmod 700 "$T/rotate.sh"
expect_exit kube_token_file_rotation 0 $K --context tf repeat 4 /version --parallel 1 --run-after-page 2 --run "$T/rotate.sh"
expect_grep kube_token_file_rotation_all_ok 'requests=4 ok=4 failed=0' "$T/out"
printf 'secret-token\nfile-token-2\n' >"$S/tokens"

rm -f "$T/calls"
expect_exit kube_exec_plugin 0 $K --context plugin repeat 20 /version
expect_grep kube_exec_plugin_ok 'ok=20 failed=0' "$T/out"
if [ "$(wc -l <"$T/calls")" = 1 ]; then ok kube_exec_called_once; else not_ok kube_exec_called_once "$(wc -l <"$T/calls") runs"; fi
rm -f "$T/calls"
expect_exit kube_exec_rerun_on_401 0 $K --context stale-plugin get /version -v
if [ "$(wc -l <"$T/calls")" = 2 ]; then ok kube_exec_rerun_count; else not_ok kube_exec_rerun_count "$(wc -l <"$T/calls") runs"; fi

expect_exit kube_exec_client_cert 0 $K --context certplugin get /version
expect_grep kube_exec_client_cert_who '"who":"cert:alice"' "$T/out"

# --- a bearer token to an http:// server: sent, with one warning on stderr that names the server and
# never the token (kubectl would not send it at all); none over https or without a token ---
expect_exit kube_http_token 0 $K --context plain repeat 5 /version --parallel 1
expect_grep kube_http_token_sent 'requests=5 ok=5 failed=0' "$T/out"
n=$(grep -c "sending a bearer token to http://127.0.0.1:$PORTP over plain HTTP" "$T/err")
[ "$n" = 1 ] && ok kube_http_token_warned_once || not_ok kube_http_token_warned_once "$n warnings: $(head -c 300 "$T/err")"
expect_no_grep kube_http_token_not_printed secret-token "$T/err"
expect_exit kube_http_no_token 1 $K --context plain-anon get /version
expect_no_grep kube_http_no_token_no_warning 'bearer token' "$T/err"
expect_exit kube_https_token 0 $K get /version
expect_no_grep kube_https_token_no_warning 'bearer token' "$T/err"

# --- TLS ---
expect_exit kube_tls_server_name 0 $K --context sni get /version
expect_exit kube_tls_name_mismatch 1 $K --context nosni get /version
expect_grep kube_tls_name_mismatch_msg 'TLS/certificate error' "$T/err"
expect_exit kube_endpoint_keeps_sni 0 $K --context sni --endpoint "https://127.0.0.1:$PORT" get /version
expect_exit kube_wrong_ca 1 $K --context wrongca get /version
expect_grep kube_wrong_ca_msg 'TLS/certificate error: SSL certificate problem' "$T/err"

# --- retries ---
expect_exit kube_5xx_retried 0 $K get '/flaky/a?fail=2&code=503' -v
expect_grep kube_5xx_attempts 'status=200 .*attempts=3' "$T/err"
t0=$(ms_now)
expect_exit kube_429_retry_after 0 $K get '/flaky/b?fail=1&code=429&ra=2' -v
el=$(($(ms_now) - t0))
if [ "$el" -ge 2000 ]; then ok kube_429_waited; else not_ok kube_429_waited "retried after ${el} ms < 2000"; fi
expect_grep kube_429_attempts 'attempts=2' "$T/err"
expect_exit kube_retry_gives_up 1 $K --attempts 3 get /code/503
expect_grep kube_retry_gives_up_msg 'gave up after 3 attempts in [0-9.]+s: 503 Test: always 503' "$T/err"
t0=$(ms_now)
expect_exit kube_retry_budget 1 $K --retry-budget-ms 1500 get /code/500
el=$(($(ms_now) - t0))
if [ "$el" -lt 3000 ]; then ok kube_retry_budget_held; else not_ok kube_retry_budget_held "${el} ms"; fi
for code in 400 403 404 409 422; do
	expect_exit "kube_${code}_not_retried" 1 $K get "/code/$code" -v
	expect_grep "kube_${code}_one_attempt" "status=$code .*attempts=1" "$T/err"
done
expect_exit kube_timeout_retried 1 $K --timeout-ms 300 --attempts 2 get /slow/2000
expect_grep kube_timeout_msg 'gave up after 2 attempts.*timed out' "$T/err"

# --- discovery with long names (issue 11 item 7: a name with its first dot past byte 128 used to be
# cut into a 128-byte array out of bounds). Names up to 255 characters work; longer ones, versions over
# 63 characters and kinds too long for the client are refused with one line and nothing sent. ---
rep() { printf "%${2}s" "" | tr ' ' "$1"; }
LG=$(rep g 241).example.com
expect_exit kube_discover_253 0 $K resource "$(rep a 241).example.com"
expect_grep kube_discover_253_found "resource=$(rep a 241) kind=LongA namespaced=1 path=/apis/example.com/v1/namespaces/NAMESPACE/$(rep a 241)\$" "$T/out"
expect_exit kube_discover_255 0 $K resource "$(rep b 243).example.com"
expect_grep kube_discover_255_found "resource=$(rep b 243) kind=LongB" "$T/out"
expect_exit kube_discover_255_group 0 $K resource "w.$LG"
expect_grep kube_discover_255_group_found "group=$LG version=v1 resource=w kind=W" "$T/out"
expect_exit kube_discover_version 0 $K resource "$(rep d 200).v1.example.com"
expect_grep kube_discover_version_found "resource=$(rep d 200) kind=LongD" "$T/out"
: >"$S/requests.log"
expect_exit kube_discover_256 2 $K resource "$(rep c 244).example.com"
expect_grep kube_discover_256_msg "resource \"c{40}\.\.\.\" is longer than 255 characters" "$T/err"
expect_exit kube_discover_4096 2 $K resource "$(rep e 4096)"
expect_grep kube_discover_4096_msg 'is longer than 255 characters' "$T/err"
expect_exit kube_discover_long_version 2 $K resource "x.v$(rep 1 70).example.com"
expect_grep kube_discover_long_version_msg 'the version is longer than 63 characters' "$T/err"
expect_exit kube_discover_bad_chars 2 $K resource "secrets.a/b"
expect_grep kube_discover_bad_chars_msg '"secrets.a/b" is not a resource name' "$T/err"
if [ -s "$S/requests.log" ]; then not_ok kube_discover_refused_sends_nothing "$(cat "$S/requests.log")"; else ok kube_discover_refused_sends_nothing; fi
expect_exit kube_discover_long_kind 1 $K resource longkind.example.com
expect_grep kube_discover_long_kind_msg 'discovery \(GET /apis/example.com/v1\) gave a kind longer than 255 characters' "$T/err"
expect_exit kube_discover_long_preferred 1 $K resource x.badver.example.com
expect_grep kube_discover_long_preferred_msg 'gave a version longer than 63 characters' "$T/err"
if [ "$(wc -l <"$T/err")" = 1 ]; then ok kube_discover_one_line; else not_ok kube_discover_one_line "$(cat "$T/err")"; fi

# --- kubeconfig selection and errors ---
cat >"$T/first.yaml" <<EOF
current-context: cert
EOF
export KUBECONFIG="$T/first.yaml:$T/missing.yaml:$T/kc"
expect_exit kube_merged_kubeconfig 0 $REKEYCTL kube get /version
unset KUBECONFIG
expect_grep kube_merged_picks_context '"who":"cert:alice"' "$T/out"
printf 'clusters: [\n' >"$T/bad.yaml"
expect_exit kube_bad_yaml 2 $REKEYCTL kube --kubeconfig "$T/bad.yaml" get /version
expect_grep kube_bad_yaml_pos "bad.yaml:2:1: invalid YAML" "$T/err"
if [ "$(wc -l <"$T/err")" = 1 ]; then ok kube_bad_yaml_one_line; else not_ok kube_bad_yaml_one_line "$(cat "$T/err")"; fi
expect_exit kube_missing_context 2 $K --context prod get /version
expect_grep kube_missing_context_msg "context \"prod\" not found in $T/kc" "$T/err"
sed 's/^printf.*/echo garbage/' "$T/plugin.sh" >"$T/garbage.sh"
sed 's/^printf.*/exit 7/' "$T/plugin.sh" >"$T/fail.sh"
chmod 700 "$T/garbage.sh" "$T/fail.sh"
sed 's#command: ./plugin.sh#command: ./garbage.sh#' "$T/kc" >"$T/kc-garbage"
sed 's#command: ./plugin.sh#command: ./fail.sh#' "$T/kc" >"$T/kc-fail"
expect_exit kube_exec_garbage 2 $REKEYCTL kube --kubeconfig "$T/kc-garbage" --context plugin get /version
expect_grep kube_exec_garbage_msg 'exec plugin ".*garbage.sh" \(user "plugin" in .*\): output is not an ExecCredential' "$T/err"
expect_exit kube_exec_fails 2 $REKEYCTL kube --kubeconfig "$T/kc-fail" --context plugin get /version
expect_grep kube_exec_fails_msg 'exited with status 7' "$T/err"

e2e_done
