#!/bin/sh
# deps.sh: installs the Debian packages named on the command line that are missing (as root), or
# prints the apt-get line to run (otherwise). A no-op when everything is present.
missing=""
for pkg in "$@"; do
	dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $pkg"
done
# kubectl is an interop client for the tests: Debian's kubernetes-client when none is on the machine.
command -v kubectl >/dev/null 2>&1 || {
	dpkg-query -W -f='${Status}\n' kubernetes-client 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing kubernetes-client"
}
if [ -z "$missing" ]; then
	echo "deps: all Debian packages present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages; run as root: apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
	# kubernetes-client is optional: retry without it so a missing kubectl never blocks the build.
	rest=$(echo "$missing" | sed 's/ kubernetes-client//')
	[ "$rest" != "$missing" ] && [ -n "$rest" ] && apt-get install -y -qq --no-install-recommends $rest >/dev/null
} || exit 1
echo "deps: done"
