#!/usr/bin/env bash
# Install the Debian packages qhil needs to build, test and run its
# examples.  Idempotent: does nothing when everything is there.  As root it
# runs apt-get; otherwise it prints the exact command and exits 1.
#
# usage: scripts/deps.sh [extra-package ...]
set -euo pipefail

packages=(
    # build
    gcc make pkg-config meson ninja-build
    # libraries (one line each in meson.build says why)
    libjansson-dev libyaml-dev libpcre2-dev libcmocka-dev libedit-dev
    libelf-dev libexpat1-dev
    # QEMU for the boards in boards/
    qemu-system-arm qemu-system-misc
    # qemu-img, for the scratch qcow2 disks a job can ask for
    qemu-utils
    # cross compilers for the example firmware
    gcc-arm-none-eabi gcc-riscv64-unknown-elf
    # firmware written by others, for examples/firmware/: U-Boot for
    # QEMU's Arm and RISC-V virt machines, OpenSBI for RISC-V
    u-boot-qemu opensbi
    # LAVA's own code, to check `qhil lava export` jobs with LAVA's
    # schema (lava-common) and run them with lava-run (lava-dispatcher);
    # jinja2 renders lava-server's device type templates in the tests
    lava-dispatcher lava-common python3-jinja2
    # the peer benchmark (bench/peers.py): labgrid's QEMU driver under
    # pytest
    python3-labgrid python3-pytest
    # a real browser, headless, for the report-html test: it runs the
    # HTML report's script and checks the page it builds
    chromium
    # xmllint, for the junit-schema test: qhil's JUnit reports checked
    # against tests/junit/junit.xsd, the format CI servers read
    libxml2-utils
    "$@"
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "qhil needs these Debian packages; install them as root with:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
