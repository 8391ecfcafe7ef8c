#!/bin/bash
# Fetch the device type templates of Debian's lava-server package (not
# installed: lava-server brings a database and a web server) into a cache
# folder, once, and print the folder that holds qemu.jinja2.  The tests
# render LAVA's own qemu device type with them, to compare it with the
# device configuration `qhil lava export --device-config` writes.
#
# usage: scripts/lava-templates.sh CACHE-DIR
set -euo pipefail

cache=${1:?usage: lava-templates.sh CACHE-DIR}
types=$cache/x/usr/share/lava-server/device-types
if [ -f "$types/qemu.jinja2" ] && [ -f "$types/base.jinja2" ]; then
    echo "$types"
    exit 0
fi
mkdir -p "$cache/deb"
rm -rf "$cache/x"
# apt-get download writes into the current folder, as any user.
(cd "$cache/deb" && apt-get download -q lava-server >&2) || {
    echo "lava-templates.sh: cannot download Debian's lava-server package" \
        "(needs Debian's archive; run 'apt-get update' as root first)" >&2
    exit 1
}
dpkg-deb -x "$(ls "$cache"/deb/lava-server_*.deb | head -n 1)" "$cache/x"
[ -f "$types/qemu.jinja2" ] || {
    echo "lava-templates.sh: no qemu.jinja2 in the lava-server package" >&2
    exit 1
}
echo "$types"
