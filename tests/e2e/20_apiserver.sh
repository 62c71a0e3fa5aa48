#!/bin/sh
# 20_apiserver.sh: the sandbox apiserver over a real etcd, driven directly (no lifecycle helper):
# values carry the first key's prefix and decrypt with an independent implementation (openssl CLI for
# aescbc, an EVP program for aesgcm), independently written values read back, the no-op update rule
# across a key promotion, 409 conflicts, 410 Expired continue tokens after compaction, orphans.
set -u
. tests/e2e/lib.sh
. tests/e2e/apiserver_lib.sh
D=$E2E_TMP/sbx
mkdir -p "$D"
T=$E2E_TMP
sbx_start_etcd "$D" || { not_ok setup "etcd did not start"; e2e_done; }
sbx_make_pki "$D" || { not_ok setup "openssl PKI failed"; e2e_done; }
cc -O1 -o "$T/aesgcm" tests/e2e/tools/aesgcm.c -lcrypto || { not_ok setup "cannot build the EVP tool"; e2e_done; }
K1=$(sbx_key) K2=$(sbx_key) G1=$(sbx_key)
CFG=$D/enc.yaml
sbx_write_config "$CFG" aescbc k1 "$K1"
sbx_start_apiserver "$D" cp-1 "$CFG" || { not_ok setup "apiserver did not start: $(tail -3 "$D/cp-1.log")"; e2e_done; }
API=$API_URL/api/v1
JSON='Content-Type: application/json'

secret_json() { printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s"},"data":{"k":"%s"}}' "$1" "$2"; }

# --- create: the stored value carries the first key's prefix and decrypts with openssl enc ---
code=$(http_code "$T/s1" -X POST -H "$JSON" -d "$(secret_json s1 c2VjcmV0LW9uZQ==)" "$API/namespaces/default/secrets")
[ "$code" = 201 ] && ok create_201 || not_ok create_201 "HTTP $code: $(cat "$T/s1")"
etcd_value /registry/secrets/default/s1 "$T/v1" || not_ok stored "no value in etcd"
expect_grep stored_prefix_k1 '^k8s:enc:aescbc:v1:k1:' "$T/v1"
P=$(printf 'k8s:enc:aescbc:v1:k1:' | wc -c)
slice "$T/v1" "$P" $((P + 16)) "$T/iv" && slice "$T/v1" $((P + 16)) "" "$T/ct"
openssl enc -d -aes-256-cbc -K "$(b64hex "$K1")" -iv "$(od -An -tx1 "$T/iv" | tr -d ' \n')" -in "$T/ct" \
	-out "$T/plain" 2>"$T/err" || true
expect_grep aescbc_openssl_decrypts '"name":"s1".*"namespace":"default"' "$T/plain"
expect_no_grep stored_without_rv '"resourceVersion"' "$T/plain"

# --- a value written with openssl enc (not the codec) is read back through the API ---
printf '{"apiVersion":"v1","data":{"k":"aW5kZXBlbmRlbnQ="},"kind":"Secret","metadata":{"creationTimestamp":"2026-01-01T00:00:00Z","name":"ext","namespace":"default","uid":"0f0e0d0c-0000-4000-8000-000000000001"},"type":"Opaque"}' >"$T/ext.json"
IV=$(openssl rand -hex 16)
openssl enc -e -aes-256-cbc -K "$(b64hex "$K1")" -iv "$IV" -in "$T/ext.json" -out "$T/ext.ct"
{ printf 'k8s:enc:aescbc:v1:k1:'; python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$IV"; cat "$T/ext.ct"; } >"$T/ext.val"
etcd_put_file /registry/secrets/default/ext "$T/ext.val"
code=$(http_code "$T/ext" "$API/namespaces/default/secrets/ext")
[ "$code" = 200 ] && ok openssl_value_read_back || not_ok openssl_value_read_back "HTTP $code: $(cat "$T/ext")"
expect_grep openssl_value_data '"k":"aW5kZXBlbmRlbnQ="' "$T/ext"

# --- the no-op update rule ---
rv_of() { json_field "$1" 'd["metadata"]["resourceVersion"]'; }
kc "$D" "$API/namespaces/default/secrets/s1" >"$T/get1"
RV1=$(rv_of "$T/get1")
code=$(http_code "$T/put1" -X PUT -H "$JSON" --data-binary @"$T/get1" "$API/namespaces/default/secrets/s1")
RVP=$(rv_of "$T/put1")
[ "$code" = 200 ] && [ "$RVP" = "$RV1" ] && ok unchanged_put_is_noop || not_ok unchanged_put_is_noop "HTTP $code rv $RVP want $RV1"

# --- 409 on a stale resourceVersion; unconditional update without one ---
sed 's/"c2VjcmV0LW9uZQ=="/"Y2hhbmdlZA=="/' "$T/get1" >"$T/changed"
code=$(http_code "$T/upd" -X PUT -H "$JSON" --data-binary @"$T/changed" "$API/namespaces/default/secrets/s1")
[ "$code" = 200 ] && [ "$(rv_of "$T/upd")" != "$RV1" ] && ok changed_put_new_rv || not_ok changed_put_new_rv "HTTP $code"
code=$(http_code "$T/conflict" -X PUT -H "$JSON" --data-binary @"$T/get1" "$API/namespaces/default/secrets/s1")
[ "$code" = 409 ] && ok stale_put_409 || not_ok stale_put_409 "HTTP $code"
expect_grep conflict_status '"reason":"Conflict".*"details":\{"name":"s1","kind":"secrets"\}.*"code":409' "$T/conflict"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); del d["metadata"]["resourceVersion"]; json.dump(d,open(sys.argv[2],"w"))' "$T/get1" "$T/norv"
code=$(http_code "$T/uncond" -X PUT -H "$JSON" --data-binary @"$T/norv" "$API/namespaces/default/secrets/s1")
[ "$code" = 200 ] && ok unconditional_put || not_ok unconditional_put "HTTP $code: $(cat "$T/uncond")"
code=$(http_code "$T/dup" -X POST -H "$JSON" -d "$(secret_json s1 eA==)" "$API/namespaces/default/secrets")
[ "$code" = 409 ] && grep -q '"reason":"AlreadyExists"' "$T/dup" && ok create_existing_409 || not_ok create_existing_409 "HTTP $code"
code=$(http_code "$T/bad" -X POST -H "$JSON" -d "$(secret_json Bad_Name eA==)" "$API/namespaces/default/secrets")
[ "$code" = 422 ] && grep -q '"reason":"Invalid"' "$T/bad" && ok invalid_name_422 || not_ok invalid_name_422 "HTTP $code"
code=$(http_code "$T/bad" -X POST -H "$JSON" -d "$(secret_json b64 'not base64!')" "$API/namespaces/default/secrets")
[ "$code" = 400 ] && grep -q 'data.k must be base64 encoded' "$T/bad" && ok secret_data_not_base64_400 || not_ok secret_data_not_base64_400 "HTTP $code: $(cat "$T/bad")"
code=$(http_code "$T/bad" -X POST -H "$JSON" -d '{"kind":' "$API/namespaces/default/secrets")
[ "$code" = 400 ] && ok bad_json_400 || not_ok bad_json_400 "HTTP $code"
code=$(http_code "$T/bad" -X POST -H 'Content-Type: application/vnd.kubernetes.protobuf' --data-binary 'k8s' "$API/namespaces/default/secrets")
[ "$code" = 400 ] && ok protobuf_malformed_400 || not_ok protobuf_malformed_400 "HTTP $code"
printf 'k8s\000\012\017\012\002v1\022\011Namespace\022\000' >"$T/ns.pb"
code=$(http_code "$T/bad" -X POST -H 'Content-Type: application/vnd.kubernetes.protobuf' --data-binary "@$T/ns.pb" "$API/namespaces")
[ "$code" = 415 ] && grep -q 'only for v1 Secret and ConfigMap' "$T/bad" && ok protobuf_other_kind_415 || not_ok protobuf_other_kind_415 "HTTP $code"
code=$(http_code "$T/bad" "$API/namespaces/default/secrets/missing")
[ "$code" = 404 ] && grep -q '"reason":"NotFound"' "$T/bad" && ok get_missing_404 || not_ok get_missing_404 "HTTP $code"

# --- promote k2 (k1 second) and restart: an unchanged PUT rewrites (stale read), a second is a no-op ---
sbx_write_config "$CFG" aescbc k2 "$K2" k1 "$K1"
sbx_stop_apiserver "$API_PID"
sbx_start_apiserver "$D" cp-1 "$CFG" || { not_ok restart "apiserver did not restart"; e2e_done; }
API=$API_URL/api/v1
kc "$D" "$API/namespaces/default/secrets/s1" >"$T/get2"
RV2=$(rv_of "$T/get2")
kc "$D" -X PUT -H "$JSON" --data-binary @"$T/get2" "$API/namespaces/default/secrets/s1" >"$T/put2"
RV3=$(rv_of "$T/put2")
[ -n "$RV3" ] && [ "$RV3" != "$RV2" ] && ok stale_put_rewrites || not_ok stale_put_rewrites "rv $RV3 (was $RV2)"
etcd_value /registry/secrets/default/s1 "$T/v2"
expect_grep rewritten_prefix_k2 '^k8s:enc:aescbc:v1:k2:' "$T/v2"
kc "$D" -X PUT -H "$JSON" --data-binary @"$T/put2" "$API/namespaces/default/secrets/s1" >"$T/put3"
[ "$(rv_of "$T/put3")" = "$RV3" ] && ok second_put_noop || not_ok second_put_noop "rv $(rv_of "$T/put3") want $RV3"

# --- a second apiserver that still has only k1 cannot read what the first wrote under k2 (why a key is
# promoted only after every apiserver can read it); its LIST fails as a whole, naming the object ---
sbx_write_config "$D/enc-old.yaml" aescbc k1 "$K1"
API1_PID=$API_PID API1_URL=$API_URL
sbx_start_apiserver "$D" cp-2 "$D/enc-old.yaml" || { not_ok second_apiserver "did not start"; e2e_done; }
API2_PID=$API_PID
code=$(http_code "$T/old" "$API_URL/api/v1/namespaces/default/secrets/s1")
[ "$code" = 500 ] && grep -q '/registry/secrets/default/s1' "$T/old" && ok old_apiserver_cannot_read || not_ok old_apiserver_cannot_read "HTTP $code: $(head -c 300 "$T/old")"
code=$(http_code "$T/old" "$API_URL/api/v1/namespaces/default/secrets/ext")
[ "$code" = 200 ] && ok old_apiserver_reads_k1 || not_ok old_apiserver_reads_k1 "HTTP $code"
code=$(http_code "$T/old" "$API_URL/api/v1/secrets")
[ "$code" = 500 ] && grep -q 's1' "$T/old" && ok old_apiserver_list_fails_naming_object || not_ok old_apiserver_list_fails_naming_object "HTTP $code: $(head -c 300 "$T/old")"
sbx_stop_apiserver "$API2_PID"
API_PID=$API1_PID API_URL=$API1_URL
code=$(http_code "$T/x" "$API/namespaces/default/secrets?watch=true")
[ "$code" = 400 ] && grep -q 'does not support the watch parameter' "$T/x" && ok unsupported_query_refused || not_ok unsupported_query_refused "HTTP $code"

# --- aesgcm first: values decrypt with the EVP tool (AAD = etcd key), EVP values read back ---
sbx_write_config "$CFG" aesgcm g1 "$G1"
python3 - "$CFG" "$K2" "$K1" <<'PY'
import sys
p, k2, k1 = sys.argv[1:]
t = open(p).read().replace("      - identity: {}\n",
    "      - aescbc:\n          keys:\n            - name: k2\n              secret: %s\n"
    "            - name: k1\n              secret: %s\n      - identity: {}\n" % (k2, k1))
open(p, "w").write(t)
PY
sbx_stop_apiserver "$API_PID"
sbx_start_apiserver "$D" cp-1 "$CFG" || { not_ok restart_gcm "apiserver did not restart"; e2e_done; }
API=$API_URL/api/v1
kc "$D" "$API/namespaces/default/secrets/s1" >"$T/get3"
kc "$D" -X PUT -H "$JSON" --data-binary @"$T/get3" "$API/namespaces/default/secrets/s1" >/dev/null
etcd_value /registry/secrets/default/s1 "$T/v3"
expect_grep gcm_prefix '^k8s:enc:aesgcm:v1:g1:' "$T/v3"
echo "$G1" >"$T/g1.key" && chmod 600 "$T/g1.key"
P=$(printf 'k8s:enc:aesgcm:v1:g1:' | wc -c)
slice "$T/v3" "$P" "" "$T/gcm.payload"
if "$T/aesgcm" open "$T/g1.key" /registry/secrets/default/s1 <"$T/gcm.payload" >"$T/gcm.plain"; then
	expect_grep aesgcm_evp_decrypts '"name":"s1"' "$T/gcm.plain"
else
	not_ok aesgcm_evp_decrypts "EVP open failed (AAD or layout differs)"
fi
"$T/aesgcm" open "$T/g1.key" /registry/secrets/default/other <"$T/gcm.payload" >/dev/null 2>&1 &&
	not_ok aesgcm_aad_bound "decrypted with the wrong AAD" || ok aesgcm_aad_bound
sed 's/"name":"ext"/"name":"ext2"/' "$T/ext.json" >"$T/ext2.json"
{ printf 'k8s:enc:aesgcm:v1:g1:'; "$T/aesgcm" seal "$T/g1.key" /registry/secrets/default/ext2 <"$T/ext2.json"; } >"$T/ext2.val"
etcd_put_file /registry/secrets/default/ext2 "$T/ext2.val"
code=$(http_code "$T/ext2" "$API/namespaces/default/secrets/ext2")
[ "$code" = 200 ] && grep -q '"aW5kZXBlbmRlbnQ="' "$T/ext2" && ok evp_gcm_value_read_back || not_ok evp_gcm_value_read_back "HTTP $code: $(head -c 300 "$T/ext2")"

# --- paging, compaction, 410 Expired with an inconsistent continue token ---
kc "$D" -X POST -H "$JSON" -d '{"metadata":{"name":"pages"}}' "$API/namespaces" >/dev/null
for n in a b c d; do kc "$D" -X POST -H "$JSON" -d "$(secret_json "p$n" eA==)" "$API/namespaces/pages/secrets" >/dev/null; done
kc "$D" "$API/namespaces/pages/secrets?limit=2" >"$T/page1"
TOKEN=$(json_field "$T/page1" 'd["metadata"]["continue"]')
[ "$(json_field "$T/page1" 'len(d["items"])')" = 2 ] && [ "$(json_field "$T/page1" 'd["metadata"]["remainingItemCount"]')" = 2 ] &&
	ok list_limit_page || not_ok list_limit_page "$(head -c 300 "$T/page1")"
python3 -c 'import base64,json,sys; t=sys.argv[1]; d=json.loads(base64.urlsafe_b64decode(t+"="*(-len(t)%4))); assert "=" not in t and d["v"]=="meta.k8s.io/v1" and d["start"]=="pb\x00" and d["rv"]>0, d' "$TOKEN" &&
	ok continue_token_format || not_ok continue_token_format "$TOKEN"
kc "$D" "$API/namespaces/pages/secrets?limit=2&continue=$TOKEN" >"$T/page2"
[ "$(json_field "$T/page2" '",".join(i["metadata"]["name"] for i in d["items"])')" = "pc,pd" ] && ok list_continue || not_ok list_continue "$(head -c 300 "$T/page2")"
kc "$D" -X DELETE "$API/namespaces/pages/secrets/pd" >/dev/null
REV=$(etcdctl --endpoints "$ETCD_URL" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
etcdctl --endpoints "$ETCD_URL" compaction "$REV" >/dev/null
code=$(http_code "$T/gone" "$API/namespaces/pages/secrets?limit=2&continue=$TOKEN")
[ "$code" = 410 ] && ok expired_continue_410 || not_ok expired_continue_410 "HTTP $code"
expect_grep expired_status '"reason":"Expired".*"code":410' "$T/gone"
expect_grep expired_message '"message":"The provided continue parameter is too old to display a consistent list result\.' "$T/gone"
NEWTOK=$(json_field "$T/gone" 'd["metadata"]["continue"]')
python3 -c 'import base64,json,sys; t=sys.argv[1]; d=json.loads(base64.urlsafe_b64decode(t+"="*(-len(t)%4))); assert d["rv"]==-1 and d["start"]=="pb\x00", d' "$NEWTOK" &&
	ok inconsistent_token || not_ok inconsistent_token "$NEWTOK"
code=$(http_code "$T/page3" "$API/namespaces/pages/secrets?limit=2&continue=$NEWTOK")
[ "$code" = 200 ] && [ "$(json_field "$T/page3" '",".join(i["metadata"]["name"] for i in d["items"])')" = "pc" ] &&
	ok inconsistent_continue_lists_rest || not_ok inconsistent_continue_lists_rest "HTTP $code $(head -c 200 "$T/page3")"
code=$(http_code "$T/bad" "$API/namespaces/pages/secrets?continue=notatoken")
[ "$code" = 400 ] && ok bad_continue_400 || not_ok bad_continue_400 "HTTP $code"
kc "$D" "$API/secrets?limit=500" >"$T/all"
[ "$(json_field "$T/all" 'len(d["items"])')" = 6 ] && ok list_all_namespaces || not_ok list_all_namespaces "$(json_field "$T/all" '[i["metadata"]["name"] for i in d["items"]]')"

# --- orphan: the namespace is deleted, the object stays: GET 200, PUT 404 (namespace gone) ---
kc "$D" -X POST -H "$JSON" -d '{"metadata":{"name":"doomed"}}' "$API/namespaces" >/dev/null
kc "$D" -X POST -H "$JSON" -d "$(secret_json orphan eA==)" "$API/namespaces/doomed/secrets" >/dev/null
code=$(http_code "$T/del" -X DELETE "$API/namespaces/doomed")
[ "$code" = 200 ] && ok namespace_deleted || not_ok namespace_deleted "HTTP $code"
code=$(http_code "$T/orphan" "$API/namespaces/doomed/secrets/orphan")
[ "$code" = 200 ] && ok orphan_get_200 || not_ok orphan_get_200 "HTTP $code"
code=$(http_code "$T/orphan_put" -X PUT -H "$JSON" --data-binary @"$T/orphan" "$API/namespaces/doomed/secrets/orphan")
[ "$code" = 404 ] && grep -q '"kind":"namespaces"' "$T/orphan_put" && ok orphan_put_404 || not_ok orphan_put_404 "HTTP $code: $(cat "$T/orphan_put")"
code=$(http_code "$T/bad" -X POST -H "$JSON" -d "$(secret_json x eA==)" "$API/namespaces/nowhere/secrets")
[ "$code" = 404 ] && ok create_in_missing_namespace_404 || not_ok create_in_missing_namespace_404 "HTTP $code"

# --- PATCH: merge, JSON patch (RFC 6902), errors; an empty patch is a no-op ---
S1=$API/namespaces/default/secrets/s1
kc "$D" -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"metadata":{"labels":{"a":"b"}}}' "$S1" >"$T/p1"
[ "$(json_field "$T/p1" 'd["metadata"]["labels"]["a"]')" = b ] && ok merge_patch || not_ok merge_patch "$(head -c 300 "$T/p1")"
kc "$D" -X PATCH -H 'Content-Type: application/json-patch+json' \
	-d '[{"op":"test","path":"/metadata/labels/a","value":"b"},{"op":"replace","path":"/metadata/labels/a","value":"c"},{"op":"add","path":"/metadata/labels/x~1y","value":"z"}]' "$S1" >"$T/p2"
[ "$(json_field "$T/p2" 'd["metadata"]["labels"]["a"]+d["metadata"]["labels"]["x/y"]')" = cz ] && ok json_patch || not_ok json_patch "$(head -c 300 "$T/p2")"
code=$(http_code "$T/p3" -X PATCH -H 'Content-Type: application/json-patch+json' -d '[{"op":"test","path":"/metadata/labels/a","value":"nope"}]' "$S1")
[ "$code" = 422 ] && ok json_patch_test_fails_422 || not_ok json_patch_test_fails_422 "HTTP $code: $(cat "$T/p3")"
code=$(http_code "$T/p3" -X PATCH -H 'Content-Type: application/json-patch+json' -d '{"op":"add"}' "$S1")
[ "$code" = 400 ] && ok json_patch_malformed_400 || not_ok json_patch_malformed_400 "HTTP $code"
code=$(http_code "$T/p3" -X PATCH -H 'Content-Type: application/apply-patch+yaml' -d 'x: 1' "$S1")
[ "$code" = 415 ] && ok apply_patch_415 || not_ok apply_patch_415 "HTTP $code"
kc "$D" -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{}' "$S1" >"$T/p4"
[ "$(rv_of "$T/p4")" = "$(rv_of "$T/p2")" ] && ok empty_patch_noop || not_ok empty_patch_noop "rv $(rv_of "$T/p4") want $(rv_of "$T/p2")"

# --- delete ---
code=$(http_code "$T/del" -X DELETE "$API/namespaces/default/secrets/ext")
[ "$code" = 200 ] && grep -q '"status":"Success"' "$T/del" && ! etcd_value /registry/secrets/default/ext "$T/none" &&
	ok delete_removes_key || not_ok delete_removes_key "HTTP $code"

sbx_stop_apiserver "$API_PID" && ok clean_shutdown || not_ok clean_shutdown "exit $?"
e2e_done
