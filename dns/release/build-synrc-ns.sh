#!/usr/bin/env bash
# Builds the synrc/ns release ("erldns" 3.0.0, ERTS included) from pinned source archives, offline:
#
#   npm run synrc-ns -- [--sources DIR] [--out DIR]
#
# DIR of --sources holds one `git archive` per application and SOURCES.tsv (name, repository, ref,
# commit, sha256, license), as ../shared/third_party/synrc-ns/ does; each archive is checked against
# it before anything is unpacked. The build copy gets the changes listed in BUILD_COPY_CHANGES below
# (printed as a diff when applied); the sources stay as they are. The result goes to
# OUT/<cache key>/ (erldns-3.0.0.tar.gz, SHA256SUMS, build-info.json), and the last line printed is
# that folder. The cache key covers the archives, this script and the Erlang/OTP that builds it, so
# a second run with the same inputs builds nothing.
#
# The tarball is byte-reproducible for the same inputs: the compiler runs with `deterministic` (no
# build paths in the modules: erts' compile.erl), the build runs in one fixed folder, and the
# tarball is written by GNU tar with sorted names, fixed times and owners, and gzip -n.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
sources="${ERPDC_SYNRC_NS_SOURCES:-$root/../shared/third_party/synrc-ns}"
out="${ERPDC_SYNRC_NS_OUT:-$root/.cache/synrc-ns}"
while [ $# -gt 0 ]; do
    case "$1" in
        --sources) sources=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: npm run synrc-ns -- [--sources DIR] [--out DIR]" >&2; exit 2 ;;
    esac
done
# The release as synrc/ns names it (dns/release.ts holds the same facts for the program).
release=erldns
version=3.0.0
tarball="$release-$version.tar.gz"
# Fixed so that what the build records of its own place is the same on every machine.
build=/tmp/erpdc-synrc-ns-build
# The newest commit date among the sources (ns at 1bf3f6c5): every file in the tarball gets it.
epoch=${SOURCE_DATE_EPOCH:-1700000000}

for tool in erl rebar3 tar gzip sha256sum awk diff flock; do
    command -v "$tool" >/dev/null || { echo "synrc-ns: $tool is missing (Debian: apt-get install erlang rebar3 tar gzip coreutils gawk diffutils util-linux)" >&2; exit 2; }
done
[ -f "$sources/SOURCES.tsv" ] || { echo "synrc-ns: $sources/SOURCES.tsv not found; give the folder of the source archives with --sources" >&2; exit 2; }
sources=$(cd "$sources" && pwd)

# Every archive SOURCES.tsv names, checked before use: <name>-<commit12>.tar.gz with its sha256.
checked=$(mktemp)
trap 'rm -f "$checked"' EXIT
awk -F'\t' 'NR == 1 { if ($1 != "name" || $4 != "commit" || $5 != "sha256") { print "synrc-ns: SOURCES.tsv: unexpected columns: " $0 > "/dev/stderr"; exit 2 } next }
    NF > 0 { if (length($4) != 40 || $4 !~ /^[0-9a-f]+$/ || length($5) != 64 || $5 !~ /^[0-9a-f]+$/ || $1 !~ /^[a-z][a-z0-9_]*$/) { print "synrc-ns: SOURCES.tsv line " NR ": bad name, commit or sha256" > "/dev/stderr"; exit 2 }
             print $5 "  " $1 "-" substr($4, 1, 12) ".tar.gz" }' "$sources/SOURCES.tsv" > "$checked"
if ! (cd "$sources" && sha256sum --quiet --strict -c "$checked" >&2); then
    echo "synrc-ns: an archive in $sources does not match SOURCES.tsv (see above); nothing was built" >&2
    exit 1
fi
grep -q '  ns-' "$checked" || { echo "synrc-ns: SOURCES.tsv names no ns archive" >&2; exit 1; }

erts=$(erl -noshell -eval 'io:format("~s ~s", [erlang:system_info(otp_release), erlang:system_info(version)]), halt().')
key=$( { cat "$checked"; cat "$0"; echo "$erts"; } | sha256sum | cut -c1-16)
target="$out/$key"
if [ -f "$target/SHA256SUMS" ] && (cd "$target" && sha256sum --quiet --strict -c SHA256SUMS); then
    echo "synrc-ns: built before with the same sources and OTP: $(cut -d' ' -f1 "$target/SHA256SUMS")  $tarball" >&2
    echo "$target"
    exit 0
fi

exec 9>"$build.lock"
flock 9
rm -rf "$build"
mkdir -p "$build/home" "$build/src/_checkouts"
while read -r _ archive; do
    app=${archive%-*.tar.gz}
    if [ "$app" = ns ]; then
        tar -xzf "$sources/$archive" -C "$build/src" --strip-components=1
    else
        # Each archive's one top folder is the application's name (git archive --prefix=<app>/):
        # rebar3 takes _checkouts/<app> in place of the hex package synrc/ns's rebar.config asks for.
        tar -xzf "$sources/$archive" -C "$build/src/_checkouts"
    fi
done < "$checked"

# The build copy's changes, each with why; the sources keep their own text.
change() {
    local file=$1 why=$2 expression=$3
    cp "$build/src/$file" "$build/src/$file.orig"
    sed -i -e "$expression" "$build/src/$file"
    if cmp -s "$build/src/$file" "$build/src/$file.orig"; then
        echo "synrc-ns: the build-copy change to $file no longer applies (the sources changed); update $0" >&2
        exit 1
    fi
    echo "synrc-ns: build copy: $why" >&2
    (cd "$build/src" && diff -u --label "a/$file" --label "b/$file" "$file.orig" "$file" | sed 's/^/    /' >&2) || true
    rm "$build/src/$file.orig"
}
# BUILD_COPY_CHANGES
change _checkouts/dnssec/rebar.config \
    "5HT/dnssec's plugins and asn hooks come only from hex.pm; its generated src/DNS-ASN1.erl is committed, so the build needs neither" \
    '/^{plugins,/d; /^{provider_hooks,/,/]}\.$/d'
change rebar.config \
    "the release names an application erldns, which does not exist: the application is ns (src/ns.app.src)" \
    's/^\( *\)\[erldns\]},/\1[ns]},/'
change rebar.config \
    "the release carries its own ERTS (the VM needs no Erlang of its own) and real copies of its applications, not links into the build folder" \
    's/^\( *\){dev_mode, true},/\1{dev_mode, false},/; s/^\( *\){include_erts, false},/\1{include_erts, true},/'
change src/erldns_app.erl \
    "no multicast node discovery (nodefinder on 224.0.0.1:4475): the server runs as a lone, non-distributed node" \
    '/^ *nodefinder:multicast_start(),$/d'

cd "$build/src"
# Offline: no hex.pm, no GitHub. unshare -n (root) or -rn (a user namespace) takes the network away.
offline=()
if unshare -n true 2>/dev/null; then offline=(unshare -n); elif unshare -rn true 2>/dev/null; then offline=(unshare -rn); fi
echo "synrc-ns: building with Erlang/OTP $erts${offline:+ (no network)}" >&2
HOME="$build/home" ERL_COMPILER_OPTIONS=deterministic "${offline[@]}" rebar3 release >"$build/rebar3.log" 2>&1 || {
    tail -40 "$build/rebar3.log" >&2
    echo "synrc-ns: rebar3 release failed (log above)" >&2
    exit 1
}
rel="$build/src/_build/default/rel/$release"
[ -x "$rel/bin/$release" ] || { echo "synrc-ns: rebar3 made no bin/$release" >&2; exit 1; }
erts_dir=$(cd "$rel" && ls -d erts-* 2>/dev/null | head -1)
[ -n "$erts_dir" ] || { echo "synrc-ns: the release holds no ERTS" >&2; exit 1; }
# The example zones the upstream overlay copies in are not served here: the stack's zone is.
rm -f "$rel"/lib/ns-*/priv/*.json "$rel/priv/example.zone.json" "$rel/priv/test.zones.json"

mkdir -p "$target.new"
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --mode=go-w \
    --format=gnu -C "$rel" -cf - . | gzip -9 -n >"$target.new/$tarball"
(cd "$target.new" && sha256sum "$tarball" >SHA256SUMS)
libs=$(cd "$rel/lib" && ls | tr '\n' ' ')
printf '{"release":"%s","version":"%s","otp":"%s","erts":"%s","sources":"%s","libs":"%s"}\n' \
    "$release" "$version" "${erts% *}" "${erts#* }" "$sources" "${libs% }" >"$target.new/build-info.json"
rm -rf "$target"
mv "$target.new" "$target"
echo "synrc-ns: $(cut -d' ' -f1 "$target/SHA256SUMS")  $tarball ($(stat -c %s "$target/$tarball") bytes, $erts_dir)" >&2
echo "$target"
