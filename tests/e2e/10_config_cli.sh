#!/bin/sh
# 10_config_cli.sh: `rekeyctl config` and `rekeyctl keygen` offline: every malformed config exits 2 with
# a one-line file:line error and leaves the file byte-identical (and no backup); refusals exit 2 or 4
# without touching the file; a keygen -> add-key -> promote -> prune cycle works and keeps 0600 files
# and backups; no key material (base64 or hex of the bytes) ever appears in any output.
. tests/e2e/lib.sh
T=$E2E_TMP
ALL=$T/all-output
: >"$ALL"

# run NAME CODE CMD...: expect_exit, and keep every byte of output for the key-material check.
run() {
	expect_exit "$@"
	cat "$T/out" "$T/err" >>"$ALL"
}

# one_line_error NAME WHERE: stderr of the last command is exactly one line and names WHERE.
one_line_error() {
	lines=$(wc -l <"$T/err")
	if [ "$lines" = 1 ] && grep -Fq -- "$2" "$T/err"; then ok "$1"; else not_ok "$1" "want one line with '$2', got: $(cat "$T/err")"; fi
}

# unchanged NAME FILE COPY: FILE is byte-identical to COPY and no FILE.bak appeared.
unchanged() {
	if cmp -s "$2" "$3" && [ ! -e "$2.bak" ]; then ok "$1"; else not_ok "$1" "$2 changed or a backup appeared"; fi
}

K32=MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXY=
K20=MDEyMzQ1Njc4OWFiY2RlZmdoaWo=
HDR='apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:'
rule() { printf '  - resources:\n      - %s\n    providers:\n' "$1"; }
aescbc() { printf '      - aescbc:\n          keys:\n            - name: %s\n              secret: %s\n' "$1" "$2"; }

# ---- malformed inputs: name, expected line, content ----
bad() { printf '%s\n' "$3" >"$T/bad-$1.yaml"; echo "$1 $2" >>"$T/bad-list"; }
: >"$T/bad-list"
bad bad-yaml 4 "$HDR
	- resources: [secrets]"
bad wrong-kind 2 "apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfig
resources: []"
bad wrong-apiversion 1 "apiVersion: apiserver.config.k8s.io/v1beta1
kind: EncryptionConfiguration"
bad unknown-field 10 "$HDR
$(rule secrets)
      - aescbc:
          keys:
            - name: k
              secrte: $K32"
bad duplicate-field 2 "apiVersion: apiserver.config.k8s.io/v1
apiVersion: apiserver.config.k8s.io/v1"
bad bad-base64 10 "$HDR
$(rule secrets)
$(aescbc k1 'not*base64!')"
bad wrong-key-length 10 "$HDR
$(rule secrets)
$(aescbc k1 $K20)"
bad masked-resource 9 "$HDR
$(rule '"*.*"')
      - identity: {}
$(rule secrets)
      - identity: {}"
bad kms-endpoint-not-unix 10 "$HDR
$(rule secrets)
      - kms:
          apiVersion: v2
          name: kms1
          endpoint: https://kms.example.com"
bad capital-resource 5 "$HDR
$(rule Secrets)
      - identity: {}"
: >"$T/bad-empty.yaml"
echo "empty 1" >>"$T/bad-list"

while read -r bad_name line; do
	f="$T/bad-$bad_name.yaml"
	chmod 600 "$f"
	cp "$f" "$T/copy.yaml"
	run "validate rejects $bad_name" 2 "$REKEYCTL" config validate "$f"
	one_line_error "validate $bad_name names file:line" "$f:$line:"
	run "add-key rejects $bad_name" 2 "$REKEYCTL" config add-key "$f" --provider aescbc
	one_line_error "add-key $bad_name names file:line" "$f:$line:"
	run "show rejects $bad_name" 2 "$REKEYCTL" config show "$f"
	unchanged "$bad_name left byte-identical" "$f" "$T/copy.yaml"
done <"$T/bad-list"
run "masked config" 2 "$REKEYCTL" config validate "$T/bad-masked-resource.yaml"
expect_grep "masked message" 'resource "secrets" is masked by earlier rule "\*\.\*"' "$T/err"
run "kms config" 2 "$REKEYCTL" config validate "$T/bad-kms-endpoint-not-unix.yaml"
expect_grep "kms message" 'unsupported scheme "https" for KMS provider, only unix is supported' "$T/err"

for example in examples/enc-*.yaml; do
	run "example $(basename "$example") is valid" 0 "$REKEYCTL" config validate "$example"
done

# ---- a good config and refusals that must not touch it ----
GOOD=$T/enc.yaml
cp examples/enc-aescbc.yaml "$GOOD"
chmod 600 "$GOOD"
cp "$GOOD" "$T/good-copy.yaml"
EXAMPLE_SECRET=$(sed -n 's/^ *secret: //p' "$GOOD")

run "validate good" 0 "$REKEYCTL" config validate "$GOOD"
expect_grep "validate prints the hash" "sha256:$(sha256sum "$GOOD" | cut -c1-64)" "$T/out"
run "hash" 0 "$REKEYCTL" config hash "$GOOD"
expect_grep "hash is sha256 of the file bytes" "^sha256:$(sha256sum "$GOOD" | cut -c1-64)\$" "$T/out"
run "duplicate key name refused" 2 "$REKEYCTL" config add-key "$GOOD" --provider aescbc --key example-aescbc-1
one_line_error "duplicate key name message" 'key name "example-aescbc-1" is already used'
run "prune of the write key refused" 4 "$REKEYCTL" config prune "$GOOD" --key example-aescbc-1
run "promote of an unknown key refused" 2 "$REKEYCTL" config promote "$GOOD" --key nope
run "unknown scope refused" 2 "$REKEYCTL" config add-key "$GOOD" --provider aescbc --resources pods
run "bad provider refused" 2 "$REKEYCTL" config add-key "$GOOD" --provider rot13
run "kms without endpoint refused" 2 "$REKEYCTL" config add-key "$GOOD" --provider kms --kms-name k
run "kms http endpoint refused" 2 "$REKEYCTL" config add-key "$GOOD" --provider kms --kms-name k --endpoint http://x
run "unknown option refused" 2 "$REKEYCTL" config show "$GOOD" --frobnicate
run "missing file argument refused" 2 "$REKEYCTL" config validate
run "missing file refused" 2 "$REKEYCTL" config validate "$T/nope.yaml"
run "dry run" 0 "$REKEYCTL" config add-key "$GOOD" --provider aesgcm --dry-run
expect_grep "dry run shows redacted secrets" 'secret: "REDACTED fingerprint [0-9a-f]{16}"' "$T/out"
unchanged "refusals and dry run leave the file byte-identical" "$GOOD" "$T/good-copy.yaml"

# ---- keygen ----
run "keygen" 0 "$REKEYCTL" keygen --provider aescbc --out "$T/new.key"
NEW_NAME=$(sed -n 's/^name: //p' "$T/out")
NEW_FP=$(sed -n 's/^fingerprint: //p' "$T/out")
expect_grep "keygen names the key <provider>-<UTC time>" '^name: aescbc-[0-9]{8}T[0-9]{6}Z$' "$T/out"
if [ "$(stat -c %a "$T/new.key")" = 600 ]; then ok "key file is 0600"; else not_ok "key file is 0600" "$(stat -c %a "$T/new.key")"; fi
NEW_SECRET=$(cat "$T/new.key")
run "keygen refuses to overwrite" 2 "$REKEYCTL" keygen --provider aescbc --out "$T/new.key"
run "keygen refuses secretbox 16" 2 "$REKEYCTL" keygen --provider secretbox --bytes 16 --out "$T/sb.key"
run "keygen json" 0 "$REKEYCTL" keygen --provider aesgcm --bytes 16 -o json --out "$T/gcm.key"
expect_grep "keygen json has the fingerprint" '"fingerprint": "[0-9a-f]{16}"' "$T/out"
cp "$T/new.key" "$T/open.key"
chmod 644 "$T/open.key"
run "key file readable by others refused" 4 "$REKEYCTL" config add-key "$GOOD" --provider aescbc --key-file "$T/open.key" --key other
unchanged "refused key file leaves the file byte-identical" "$GOOD" "$T/good-copy.yaml"

# ---- the cycle: add read key, promote, prune ----
OLD_HASH="sha256:$(sha256sum "$GOOD" | cut -c1-64)"
run "add-key" 0 "$REKEYCTL" config add-key "$GOOD" --provider aescbc --resources secrets --key-file "$T/new.key" --key "$NEW_NAME"
expect_grep "add-key prints the old hash" "old $OLD_HASH" "$T/out"
expect_grep "add-key prints the new hash" "new sha256:$(sha256sum "$GOOD" | cut -c1-64)" "$T/out"
expect_grep "add-key prints the fingerprint" "fingerprint $NEW_FP" "$T/out"
if cmp -s "$GOOD.bak" "$T/good-copy.yaml" && [ "$(stat -c %a "$GOOD.bak")" = 600 ] && [ "$(stat -c %a "$GOOD")" = 600 ]; then
	ok "backup holds the previous file, both 0600"
else
	not_ok "backup holds the previous file, both 0600" "$(ls -l "$T")"
fi
run "show after add-key" 0 "$REKEYCTL" config show "$GOOD"
expect_grep "new key is a read key" "key $NEW_NAME +fingerprint $NEW_FP\$" "$T/out"
expect_grep "old key still writes" 'write key: example-aescbc-1' "$T/out"
run "promote" 0 "$REKEYCTL" config promote "$GOOD" --key "$NEW_NAME"
run "show after promote" 0 "$REKEYCTL" config show -o json "$GOOD"
expect_grep "new key writes" "\"writeKey\": \"$NEW_NAME\"" "$T/out"
if command -v jq >/dev/null 2>&1; then
	if jq -e ".rules[0].providers[0].keys[1].name == \"example-aescbc-1\"" "$T/out" >/dev/null; then ok "old key second"; else not_ok "old key second" "$(cat "$T/out")"; fi
fi
run "prune old key" 0 "$REKEYCTL" config prune "$GOOD" --key example-aescbc-1
run "validate after the cycle" 0 "$REKEYCTL" config validate -o json "$GOOD"
expect_grep "valid json" '"valid": true' "$T/out"
expect_no_grep "old key gone" "example-aescbc-1" "$GOOD"
run "add-key generating the key" 0 "$REKEYCTL" config add-key "$GOOD" --provider secretbox
GEN_SECRET=$(sed -n 's/^ *secret: //p' "$GOOD" | tail -n 1)
run "promote identity (decrypt)" 0 "$REKEYCTL" config promote "$GOOD" --key identity
run "prune all but identity" 0 "$REKEYCTL" config prune "$GOOD" --all-but-identity
run "validate identity only" 0 "$REKEYCTL" config validate "$GOOD"
expect_no_grep "no key left" "secret:" "$GOOD"
run "help" 0 "$REKEYCTL" config add-key --help
expect_grep "help names the flags" '--key-file' "$T/out"

# ---- no key material in any output ----
n=0
for secret in "$EXAMPLE_SECRET" "$NEW_SECRET" "$GEN_SECRET" "$K32" "$K20"; do
	n=$((n + 1))
	[ -n "$secret" ] || { not_ok "key $n captured" "empty secret"; continue; }
	hex=$(printf '%s' "$secret" | base64 -d | od -An -tx1 | tr -d ' \n')
	[ ${#hex} -ge 32 ] || not_ok "key $n decodes" "short hex"
	expect_no_grep "no base64 of key $n in any output" "$secret" "$ALL"
	expect_no_grep "no hex of key $n in any output" "$hex" "$ALL"
done
e2e_done
