#!/bin/sh
# deps.sh: installs the Debian packages named on the command line that are missing (as root), or
# prints the apt-get line to run (otherwise). A no-op when everything is present.
missing=""
for pkg in "$@"; do
	dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $pkg"
done
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
apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null || exit 1
echo "deps: done"
