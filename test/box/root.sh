#!/usr/bin/env bash
# Builds, once, the Debian 12 root of the test "box" (a systemd-nspawn container that stands in for
# a VM) and keeps it as a zstd tarball keyed on the package list; makes sure the host tools the
# harness uses exist (debootstrap, zstd, ssh, systemd-nspawn, socat) without upgrading the host's
# systemd. Run as root. Re-running with the tarball cached does nothing but check the tools.
#
# Environment:
#   ERPDC_BOX_CACHE   cache directory (default /var/cache/erpdc-box)
#   ERPDC_BOX_MIRROR  Debian mirror URL (default: the one the host's apt uses for bookworm)
#
# Progress and timings go to stderr; stdout gets only key=value lines for test/box/box.ts:
#   tarball=... nspawn=... socat=... mirror=... security=...
set -euo pipefail

SCRIPT_VERSION=1
SUITE=bookworm
# What the box has. debootstrap installs the first group itself; apt-get (in a chroot) installs the
# rest, because debootstrap's resolver does not follow virtual packages (cloud-init's
# python3-cryptography needs python3-cffi-backend-api-*).
BOOT_PACKAGES=(systemd systemd-sysv dbus openssh-server sudo python3 ca-certificates iproute2)
PACKAGES=("${BOOT_PACKAGES[@]}" cloud-init locales curl gnupg)

CACHE=${ERPDC_BOX_CACHE:-/var/cache/erpdc-box}
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

started=$(date +%s.%N)
log() { printf '[box root] %s\n' "$*" >&2; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (debootstrap, systemd-nspawn)"
    exit 1
fi
mkdir -p "$CACHE"
# One builder at a time (two test processes may start together).
exec 9>"$CACHE/.lock"
flock 9

# ---------------------------------------------------------------------------------------------
# Host tools
apt_updated=0
apt_update_once() {
    if [ "$apt_updated" -eq 0 ]; then
        apt-get update -qq >&2
        apt_updated=1
    fi
}
apt_install() {
    log "apt-get install $* (on the host)"
    local out="$CACHE/apt-host.log"
    apt-get install -y -qq --no-install-recommends "$@" >"$out" 2>&1 ||
        { apt_update_once; apt-get install -y -qq --no-install-recommends "$@" >"$out" 2>&1; } ||
        { tail -n 30 "$out" >&2; exit 1; }
}
apt_download() { # into the current directory
    apt-get download "$@" >&2 2>/dev/null || { apt_update_once; apt-get download "$@" >&2; }
}

t=$(date +%s.%N)
missing=()
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
[ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"

# systemd-nspawn and socat: the host's own if installed; otherwise unpacked from Debian's packages
# into $CACHE/tools (installing systemd-container would upgrade the host's systemd packages and
# edit /etc/nsswitch.conf). bin/ holds wrappers that set LD_LIBRARY_PATH.
TOOLS="$CACHE/tools"
tool_works() { [ -x "$1" ] && "$@" >/dev/null 2>&1; } # binary version-args...
unpack_tool() { # name packages...
    local name=$1
    shift
    local tmp
    tmp=$(mktemp -d "$CACHE/tools-tmp.XXXXXX")
    (
        cd "$tmp"
        apt_download "$@"
        mkdir -p unpacked
        for deb in ./*.deb; do dpkg-deb -x "$deb" unpacked; done
    )
    mkdir -p "$TOOLS/bin" "$TOOLS/$name"
    rm -rf "${TOOLS:?}/$name"
    mv "$tmp/unpacked" "$TOOLS/$name"
    rm -rf "$tmp"
    local libs binary
    libs=$(find "$TOOLS/$name" \( -name '*.so' -o -name '*.so.*' \) -printf '%h\n' | sort -u | paste -sd: -)
    binary=""
    for candidate in "$TOOLS/$name/usr/bin/$name" "$TOOLS/$name/bin/$name"; do
        if [ -x "$candidate" ]; then binary=$candidate; break; fi
    done
    [ -n "$binary" ] || { log "no $name binary in $*"; exit 1; }
    cat >"$TOOLS/bin/$name" <<EOF
#!/bin/sh
# $name unpacked from Debian's packages ($*) by test/box/root.sh
LD_LIBRARY_PATH="$libs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$binary" "\$@"
EOF
    chmod 755 "$TOOLS/bin/$name"
}
if command -v systemd-nspawn >/dev/null 2>&1; then
    nspawn=$(command -v systemd-nspawn)
else
    nspawn="$TOOLS/bin/systemd-nspawn"
    if ! tool_works "$nspawn" --version; then
        log "unpacking systemd-nspawn from systemd-container into $TOOLS"
        unpack_tool systemd-nspawn systemd-container libsystemd-shared
        tool_works "$nspawn" --version || { log "$nspawn does not run"; "$nspawn" --version >&2 || true; exit 1; }
    fi
fi
if command -v socat >/dev/null 2>&1; then
    socat=$(command -v socat)
else
    socat="$TOOLS/bin/socat"
    if ! tool_works "$socat" -V; then
        log "unpacking socat into $TOOLS"
        unpack_tool socat socat libwrap0
        tool_works "$socat" -V || { log "$socat does not run"; "$socat" -V >&2 || true; exit 1; }
    fi
fi
log "host tools ready in $(since "$t"): nspawn=$nspawn socat=$socat"

# ---------------------------------------------------------------------------------------------
# The mirror the host's apt uses for $SUITE (one-line .list files and deb822 .sources files).
find_uri() { # suite
    local suite=$1 f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            $1 == "deb" {
                i = 2
                if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit }
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""; enabled = "yes"
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^#/) continue
                    if (match(line, /^[A-Za-z-]+:/)) {
                        key = tolower(substr(line, 1, RLENGTH - 1)); val = substr(line, RLENGTH + 1)
                        gsub(/^[ \t]+|[ \t]+$/, "", val)
                        if (key == "types") types = val
                        else if (key == "uris") uris = val
                        else if (key == "suites") suites = val
                        else if (key == "enabled") enabled = tolower(val)
                    }
                }
                if (enabled == "no" || (" " types " ") !~ / deb /) next
                n = split(suites, s, /[ \t]+/)
                for (j = 1; j <= n; j++) if (s[j] == suite) { split(uris, u, /[ \t]+/); print u[1]; exit }
            }' "$f"
    done
}
mirror=${ERPDC_BOX_MIRROR:-$(find_uri "$SUITE" | sed -n 1p)}
mirror=${mirror%/}
[ -n "$mirror" ] || { log "no $SUITE mirror in the host's apt sources; set ERPDC_BOX_MIRROR"; exit 1; }
security=$(find_uri "$SUITE-security" | sed -n 1p)
security=${security%/}
host_of() { local rest=${1#*://}; echo "${rest%%/*}"; }
case "$mirror" in
    http://*) ;;
    *) log "warning: $mirror is not plain http; the box's apt relay forwards plain HTTP to port 80" ;;
esac
# The box's apt goes through one relay to the mirror's host: keep security only on the same host.
if [ -n "$security" ] && [ "$(host_of "$security")" != "$(host_of "$mirror")" ]; then
    log "security mirror $security is on another host than $mirror: the box gets no security suite"
    security=""
fi

# ---------------------------------------------------------------------------------------------
# The root tarball, keyed on the sorted package list and this script's version.
key=$( (printf '%s\n' "${PACKAGES[@]}" | sort; echo "version=$SCRIPT_VERSION") | sha256sum | cut -c1-64)
tarball="$CACHE/root-$key.tar.zst"

emit() {
    echo "tarball=$tarball"
    echo "nspawn=$nspawn"
    echo "socat=$socat"
    echo "mirror=$mirror"
    echo "security=$security"
}

if [ -s "$tarball" ]; then
    log "cached root $tarball ($(du -h "$tarball" | cut -f1)); done in $(since "$started")"
    emit
    exit 0
fi

command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
work=$(mktemp -d "$CACHE/build.XXXXXX")
cleanup() {
    # debootstrap mounts proc/sys in the target while it works: unmount whatever is left, deepest first.
    awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
root="$work/root"

t=$(date +%s.%N)
log "debootstrap $SUITE from $mirror (${BOOT_PACKAGES[*]})"
debootstrap --variant=minbase --components=main --include="$(IFS=,; echo "${BOOT_PACKAGES[*]}")" \
    "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    log "debootstrap failed; last lines of its log:"
    tail -n 40 "$work/debootstrap.log" >&2
    tail -n 40 "$root/debootstrap/debootstrap.log" >&2 2>/dev/null || true
    exit 1
}
log "debootstrap took $(since "$t")"

t=$(date +%s.%N)
# apt: the mirror (the box reaches it through its relay).
{
    echo "deb $mirror $SUITE main"
    echo "deb $mirror $SUITE-updates main"
    [ -z "$security" ] || echo "deb $security $SUITE-security main"
} >"$root/etc/apt/sources.list"
log "apt-get install ${PACKAGES[*]} (in a chroot)"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" # start no service in the chroot
chmod 755 "$root/usr/sbin/policy-rc.d"
{
    chroot "$root" apt-get update -qq &&
        chroot "$root" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
} >"$work/apt.log" 2>&1 || {
    log "apt-get in the root failed; last lines of its log:"
    tail -n 40 "$work/apt.log" >&2
    exit 1
}
rm -f "$root/usr/sbin/policy-rc.d"
umount "$root/dev" "$root/proc"
log "apt-get install took $(since "$t")"

t=$(date +%s.%N)
# Caches and lists stripped.
rm -f "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin
find "$root/var/lib/apt/lists" -mindepth 1 -maxdepth 1 ! -name partial ! -name lock -exec rm -rf {} +
# Every box gets its own identity: no machine id, no SSH host keys (box.ts or cloud-init makes them).
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
# Locales for cloud-init's locale module (minbase has none generated).
sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$root/etc/locale.gen"
chroot "$root" /usr/sbin/locale-gen >/dev/null
echo 'LANG=C.UTF-8' >"$root/etc/default/locale"
# cloud-init: only the NoCloud seed, no network config (the box has a private loopback only), keep
# the sources.list above. A box without a seed gets /etc/cloud/cloud-init.disabled from box.ts.
cat >"$root/etc/cloud/cloud.cfg.d/90_erpdc_box.cfg" <<'EOF'
# test/box/root.sh: the box is a systemd-nspawn container with a private loopback network.
datasource_list: [ NoCloud, None ]
network: {config: disabled}
apt:
  preserve_sources_list: true
EOF
# No login prompt on the read-only console.
ln -sf /dev/null "$root/etc/systemd/system/console-getty.service"
rm -rf "$root"/var/log/*.log "$root/var/log/apt"/* "$root/debootstrap"
log "configured the root in $(since "$t") ($(du -sh --one-file-system "$root" | cut -f1))"

t=$(date +%s.%N)
tar --numeric-owner --xattrs -C "$root" -c . | zstd -q -3 -T0 -o "$tarball.tmp"
mv "$tarball.tmp" "$tarball"
log "wrote $tarball ($(du -h "$tarball" | cut -f1)) in $(since "$t"); total $(since "$started")"
emit
