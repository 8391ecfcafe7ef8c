#!/usr/bin/env bash
# Build qhil's own QEMU: Debian's QEMU source package plus the device
# overlay in qemu/ (see qemu/README.md), for riscv64-softmmu and
# arm-softmmu, with the qtest accelerator built in.
#
# usage: scripts/qemu-build.sh
#
# Steps, each skipped when its result is already there and up to date:
#   1. install the Debian packages the build needs (scripts/deps.sh)
#   2. add a deb-src entry derived from the existing Debian apt source
#   3. fetch and unpack Debian's qemu source package into build-qemu/src
#      (again only when apt offers another version than the unpacked one)
#   4. apply the overlay: copy qemu/**.c/.h files whose content changed,
#      apply qemu/patches/*.patch in name order, recorded so that a second
#      run applies nothing and a changed patch is swapped cleanly
#   5. configure once, into build-qemu/obj
#   6. build the two system emulators with ninja
#   7. install them as build-qemu/bin/qhil-qemu-system-{riscv64,arm}
#
# Everything lives in build-qemu/ (ignored by git).  Logs of the long steps
# go to build-qemu/log/.  Any failure ends the run with exit status 1 and
# one line starting "qemu-build: error:".
#
# Environment: QHIL_QEMU_JOBS (ninja's -j, default 2);
# QHIL_QEMU_BUILD_DIR (instead of build-qemu/, e.g. for tests);
# QHIL_QEMU_SOURCE_VERSION (a Debian version of the qemu source package
# to build instead of the newest apt offers).
set -Eeuo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out_rel=build-qemu
out=$root/$out_rel
if [ -n "${QHIL_QEMU_BUILD_DIR:-}" ]; then
    mkdir -p "$QHIL_QEMU_BUILD_DIR"
    out=$(cd "$QHIL_QEMU_BUILD_DIR" && pwd)
    out_rel=$out
fi
src=$out/src
obj=$out/obj
bin=$out/bin
logs=$out/log
overlay=$root/qemu
jobs=${QHIL_QEMU_JOBS:-2}
targets=riscv64-softmmu,arm-softmmu
binaries=(riscv64 arm)

# Extra Debian packages for fetching and building QEMU (deps.sh adds the
# ones qhil itself needs).
build_packages=(
    dpkg-dev patch xz-utils python3 util-linux
    libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev libseccomp-dev
)

# QEMU's configure: the two targets, the qtest accelerator (built in
# because modules stay off), trace events to stderr via the log backend,
# seccomp for -sandbox (qhil sandboxes every QEMU it starts), and
# everything else off.
configure_args=(
    --target-list="$targets"
    --without-default-features
    --disable-tools
    --disable-docs
    --disable-guest-agent
    --disable-user
    --disable-linux-user
    --disable-bsd-user
    --disable-install-blobs
    --disable-modules
    --disable-plugins
    --disable-debug-info
    --disable-werror
    --enable-tcg
    --enable-fdt=system
    --enable-seccomp
    --enable-trace-backends=log
    --with-pkgversion=qhil
)

started=$(date +%s%N)
did=()
tmp_fetch=

note() { echo "qemu-build: $*"; }
die() {
    echo "qemu-build: error: $*" >&2
    exit 1
}
on_err() {
    echo "qemu-build: error: unexpected failure at line $1: $2" >&2
}
on_exit() {
    if [ -n "$tmp_fetch" ]; then
        rm -rf "$tmp_fetch"
    fi
}
trap 'on_err $LINENO "$BASH_COMMAND"' ERR
trap on_exit EXIT

# Time since $1 (date +%s%N, default: the start of the run), as 1m02.3s.
elapsed() {
    local ns=$(($(date +%s%N) - ${1:-$started}))
    local s=$((ns / 1000000000)) ds=$(((ns / 100000000) % 10))
    if [ $s -ge 60 ]; then
        printf '%dm%02d.%ds' $((s / 60)) $((s % 60)) $ds
    else
        printf '%d.%ds' $s $ds
    fi
}

# Print the part of a log that explains a failure.
show_log_tail() {
    local log=$1
    if grep -q '^FAILED:' "$log"; then
        sed -n '/^FAILED:/,$p' "$log" | head -n 40 >&2
    else
        tail -n 25 "$log" >&2
    fi
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# ---------------------------------------------------------------- 1. deps
if ! "$root/scripts/deps.sh" "${build_packages[@]}"; then
    die "missing Debian packages (see the apt-get line above)"
fi

mkdir -p "$out" "$logs"
exec 9>"$out/.lock"
if ! flock -n 9; then
    note "waiting for another qemu-build.sh run to finish"
    flock 9
fi

# -------------------------------------------------------------- 2. deb-src
apt_sources=/etc/apt/sources.list.d
have_deb_src() {
    grep -Eqs '^[[:space:]]*Types:.*(^|[[:space:]])deb-src([[:space:]]|$)' \
        "$apt_sources"/*.sources ||
        grep -Eqs '^[[:space:]]*deb-src[[:space:]]' \
            /etc/apt/sources.list "$apt_sources"/*.list
}

# Derive a deb-src entry from the binary one (run as root).  The same as
# derive_cmd below, which is only text shown to a user who is not root.
derive_deb_src() {
    if [ -f "$apt_sources/debian.sources" ]; then
        sed -E 's/^Types:.*/Types: deb-src/' "$apt_sources/debian.sources" \
            >"$apt_sources/debian-src.sources"
    else
        grep -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list |
            sed -E 's/^([[:space:]]*)deb /\1deb-src /' \
                >"$apt_sources/debian-src.list"
    fi && apt-get update
}

# The same steps as text, for a user who is not root.
if [ -f "$apt_sources/debian.sources" ]; then
    derive_cmd="sed -E 's/^Types:.*/Types: deb-src/' $apt_sources/debian.sources > $apt_sources/debian-src.sources && apt-get update"
elif grep -Eqs '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
    derive_cmd="grep -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list | sed -E 's/^([[:space:]]*)deb /\\1deb-src /' > $apt_sources/debian-src.list && apt-get update"
else
    derive_cmd=
fi

source_version() {
    { apt-cache showsrc --only-source qemu 2>/dev/null || true; } |
        awk '/^Version:/ { print $2 }' |
        while read -r v; do
            if [ -z "${best:-}" ] || dpkg --compare-versions "$v" gt "$best"; then
                best=$v
            fi
            echo "$best"
        done | tail -n 1
}

have_version=
if [ -f "$src/.qhil-source-version" ]; then
    have_version=$(cat "$src/.qhil-source-version")
fi

if ! have_deb_src; then
    if [ -z "$derive_cmd" ]; then
        die "no deb-src entry and no Debian apt source to derive one from; add a deb-src line for Debian's main archive"
    fi
    if is_root; then
        note "adding a deb-src entry derived from the Debian apt source"
        if ! derive_deb_src >"$logs/apt-update.log" 2>&1; then
            die "could not add the deb-src entry / apt-get update failed (log: $out_rel/log/apt-update.log)"
        fi
        did+=("added deb-src entry")
    elif [ -n "$have_version" ]; then
        note "no deb-src entry; using the unpacked source $have_version"
    else
        echo "qemu-build: needs a deb-src entry to fetch QEMU's source; as root run:" >&2
        echo "  $derive_cmd" >&2
        exit 1
    fi
fi

wanted=${QHIL_QEMU_SOURCE_VERSION:-$(source_version)}
if [ -z "$wanted" ] && [ -z "$have_version" ] && is_root; then
    note "apt knows no qemu source package yet; running apt-get update"
    if ! timeout 600 apt-get update -q >"$logs/apt-update.log" 2>&1; then
        die "cannot fetch Debian's QEMU source package: apt-get update failed: $(grep -E '^(E|W):' "$logs/apt-update.log" | head -n 1 || true); check the deb-src entry / network"
    fi
    wanted=$(source_version)
fi

# ---------------------------------------------------------------- 3. fetch
if [ -z "$wanted" ]; then
    if [ -z "$have_version" ]; then
        die "cannot fetch Debian's QEMU source package: apt knows no source package 'qemu'; check the deb-src entry (then apt-get update) / network"
    fi
    note "apt offers no qemu source version; keeping the unpacked $have_version"
    wanted=$have_version
fi

if [ "$have_version" != "$wanted" ]; then
    if [ -n "$have_version" ]; then
        note "Debian's qemu source is now $wanted (unpacked: $have_version); fetching it"
    else
        note "fetching Debian's qemu source $wanted"
    fi
    step_start=$(date +%s%N)
    tmp_fetch=$(mktemp -d "$out/.fetch.XXXXXX")
    if ! (cd "$tmp_fetch" && timeout 1800 apt-get source -q "qemu=$wanted") \
            >"$logs/fetch.log" 2>&1; then
        why=$(grep -E '^E:' "$logs/fetch.log" | head -n 1 || true)
        die "cannot fetch Debian's QEMU source package: ${why:-apt-get source failed (log: $out_rel/log/fetch.log)}; check the deb-src entry / network"
    fi
    unpacked=$(find "$tmp_fetch" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | head -n 1)
    if [ -z "$unpacked" ] || [ ! -f "$unpacked/configure" ]; then
        die "apt-get source qemu=$wanted left no unpacked tree (log: $out_rel/log/fetch.log)"
    fi
    got=$(dpkg-parsechangelog -l "$unpacked/debian/changelog" -S Version)
    if [ "$got" != "$wanted" ]; then
        die "unpacked qemu source is version $got, expected $wanted"
    fi
    echo "$wanted" >"$unpacked/.qhil-source-version"
    # Swap the new tree in with renames, so build-qemu/src is always either
    # absent or complete; the old build directory belongs to the old tree.
    rm -rf "$out/.src.old"
    if [ -d "$src" ]; then
        mv "$src" "$out/.src.old"
    fi
    mv "$unpacked" "$src"
    rm -rf "$out/.src.old" "$obj" "$tmp_fetch"
    tmp_fetch=
    did+=("fetched qemu source $wanted ($(elapsed "$step_start"))")
fi

# -------------------------------------------------------------- 4. overlay
state=$src/.qhil-overlay
mkdir -p "$state/patches"
touch "$state/files"

# Device sources: every file under qemu/ except README.md and patches/.
mapfile -t files < <(cd "$overlay" &&
    find . -type f ! -path './patches/*' ! -name README.md | sed 's|^\./||' | sort)
copied=0
for rel in "${files[@]}"; do
    dest=$src/$rel
    if cmp -s "$overlay/$rel" "$dest"; then
        continue
    fi
    if [ -e "$dest" ] && ! grep -qxF "$rel" "$state/files"; then
        die "overlay file qemu/$rel would replace QEMU's own $rel; change QEMU's files with a patch in qemu/patches/ instead"
    fi
    mkdir -p "$(dirname "$dest")"
    cp "$overlay/$rel" "$dest.qhil-new"
    mv "$dest.qhil-new" "$dest"
    copied=$((copied + 1))
done
removed=0
while read -r rel; do
    if [ -n "$rel" ] && [ ! -f "$overlay/$rel" ]; then
        rm -f "$src/$rel"
        removed=$((removed + 1))
    fi
done <"$state/files"
printf '%s\n' "${files[@]}" >"$state/files.new"
mv "$state/files.new" "$state/files"
[ $copied -eq 0 ] || did+=("copied $copied overlay file(s)")
[ $removed -eq 0 ] || did+=("removed $removed old overlay file(s)")

# Patches: the applied ones are recorded in $state/patches.  Find the
# first position where the recorded stack and qemu/patches/ differ, undo
# the recorded patches from there (newest first), then apply the rest.
list_patches() {
    if [ -d "$1" ]; then
        find "$1" -maxdepth 1 -type f -name '*.patch' -printf '%f\n' | sort
    fi
}
mapfile -t want < <(list_patches "$overlay/patches")
mapfile -t applied < <(list_patches "$state/patches")
same=0
while [ $same -lt ${#want[@]} ] && [ $same -lt ${#applied[@]} ] &&
        [ "${want[$same]}" = "${applied[$same]}" ] &&
        cmp -s "$overlay/patches/${want[$same]}" "$state/patches/${applied[$same]}"; do
    same=$((same + 1))
done
for ((i = ${#applied[@]} - 1; i >= same; i--)); do
    p=${applied[$i]}
    if ! patch -d "$src" -p1 -R -s -f --dry-run <"$state/patches/$p" >"$logs/patch.log" 2>&1; then
        die "cannot undo the old version of patch $p (build-qemu/src was edited by hand?); delete $out_rel/src to start afresh"
    fi
    patch -d "$src" -p1 -R -s -f --no-backup-if-mismatch <"$state/patches/$p" >/dev/null
    rm -f "$state/patches/$p"
    did+=("reverted old $p")
done
for ((i = same; i < ${#want[@]}; i++)); do
    p=${want[$i]}
    if ! patch -d "$src" -p1 --forward -s -f --dry-run <"$overlay/patches/$p" >"$logs/patch.log" 2>&1; then
        die "patch qemu/patches/$p does not apply to Debian's qemu $wanted: $(head -n 1 "$logs/patch.log")"
    fi
    patch -d "$src" -p1 --forward -s -f --no-backup-if-mismatch <"$overlay/patches/$p" >/dev/null
    cp "$overlay/patches/$p" "$state/patches/$p"
    did+=("applied $p")
done

# ------------------------------------------------------------ 5. configure
stamp="source $wanted in $root: ${configure_args[*]}"
if [ ! -f "$obj/build.ninja" ] || [ "$(cat "$obj/.qhil-configured" 2>/dev/null)" != "$stamp" ]; then
    note "configuring (log: $out_rel/log/configure.log)"
    step_start=$(date +%s%N)
    rm -rf "$obj"
    mkdir -p "$obj"
    if ! (cd "$obj" && "$src/configure" "${configure_args[@]}") >"$logs/configure.log" 2>&1; then
        show_log_tail "$logs/configure.log"
        rm -rf "$obj"
        die "QEMU's configure failed (log: $out_rel/log/configure.log)"
    fi
    echo "$stamp" >"$obj/.qhil-configured"
    did+=("configured ($(elapsed "$step_start"))")
fi

# ---------------------------------------------------------------- 6. build
ninja_targets=()
for b in "${binaries[@]}"; do
    ninja_targets+=("qemu-system-$b")
done
note "ninja -j$jobs ${ninja_targets[*]} (log: $out_rel/log/build.log)"
step_start=$(date +%s%N)
if ! ninja -C "$obj" -j"$jobs" "${ninja_targets[@]}" >"$logs/build.log" 2>&1; then
    show_log_tail "$logs/build.log"
    for b in "${binaries[@]}"; do
        rm -f "$bin/qhil-qemu-system-$b"
    done
    die "QEMU build failed (log: $out_rel/log/build.log); removed the installed qhil-qemu-system-* so no stale binary is used"
fi
steps=$(grep -cE '^\[[0-9]+/[0-9]+\]' "$logs/build.log" || true)
compiled=$(grep -cE '^\[[0-9]+/[0-9]+\] (Compiling|Linking)' "$logs/build.log" || true)
if [ "$compiled" -gt 0 ]; then
    did+=("built: $compiled compiled or linked, $steps ninja steps ($(elapsed "$step_start"))")
fi

# -------------------------------------------------------------- 7. install
mkdir -p "$bin"
for b in "${binaries[@]}"; do
    from=$obj/qemu-system-$b
    to=$bin/qhil-qemu-system-$b
    if [ ! -x "$from" ]; then
        die "ninja succeeded but $out_rel/obj/qemu-system-$b is missing"
    fi
    if cmp -s "$from" "$to"; then
        continue
    fi
    cp "$from" "$to.new"
    mv "$to.new" "$to"
    did+=("installed $out_rel/bin/qhil-qemu-system-$b")
done

if [ ${#did[@]} -eq 0 ]; then
    note "up to date, nothing to do ($(elapsed))"
else
    for d in "${did[@]}"; do
        note "  $d"
    done
    note "done in $(elapsed): $out_rel/bin/qhil-qemu-system-{riscv64,arm} (Debian qemu $wanted + qemu/ overlay)"
fi
