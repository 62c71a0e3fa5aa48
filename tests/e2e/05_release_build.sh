#!/bin/sh
# 05_release_build.sh: what `make` ships has no test hooks and needs no test libraries. The release
# rekeyctl (build/rel, built by `make check` too) holds neither the failpoint code nor the name of the
# variable that arms it, while the test build does (so this check can fail); its build and link lines name
# neither libmicrohttpd, gnutls nor a sandbox file.
. tests/e2e/lib.sh
REL=${REL_BUILD:-build/rel}
if [ ! -x "$REL/bin/rekeyctl" ]; then
	not_ok release_binary_built "$REL/bin/rekeyctl is missing (make check builds it; or make BUILD=$REL)"
	e2e_done
fi
ok release_binary_built

# nm: failpoint symbols; strings: the variable's name (the only place it is spelled is the failpoint code).
has_failpoints() { nm "$1" 2>/dev/null | grep -q 'rk_failpoint' || strings "$1" | grep -q 'REKEY_TEST_CRASH_AT'; }
if has_failpoints "$REL/bin/rekeyctl"; then not_ok release_has_no_failpoints "found in $REL/bin/rekeyctl"; else ok release_has_no_failpoints; fi
if has_failpoints "$REL/librekey.a"; then not_ok release_library_has_no_failpoints "found in $REL/librekey.a"; else ok release_library_has_no_failpoints; fi
if has_failpoints "$REKEYCTL"; then ok test_build_has_failpoints; else not_ok test_build_has_failpoints "none in $REKEYCTL"; fi

# The product's build needs no sandbox library: what `make` would run names none of them.
# (as a user runs it: not with the variables of a `make check` this may run under, e.g. SAN=1)
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SAN -u FAILPOINTS -u CFLAGS \
	make -n -B BUILD="$E2E_TMP/dry" all >"$E2E_TMP/make.txt" 2>&1
if grep -Eq 'microhttpd|gnutls|tests/sandbox|rekey-sandbox' "$E2E_TMP/make.txt"; then
	not_ok product_build_needs_no_sandbox_libs "$(grep -Em3 'microhttpd|gnutls|tests/sandbox' "$E2E_TMP/make.txt")"
else
	ok product_build_needs_no_sandbox_libs
fi
grep -q 'rekeyctl' "$E2E_TMP/make.txt" && ok product_build_makes_rekeyctl || not_ok product_build_makes_rekeyctl "no rekeyctl in make -n"
grep -q 'DREKEY_FAILPOINTS' "$E2E_TMP/make.txt" && not_ok product_build_without_failpoints "-DREKEY_FAILPOINTS in make -n" || ok product_build_without_failpoints
e2e_done
