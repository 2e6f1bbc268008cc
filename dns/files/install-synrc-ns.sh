#!/bin/sh
# Installs the synrc/ns release (rebar3 release "erldns" with its own ERTS) from the internal files
# area, as root. Reads /etc/synrc-ns/synrc-ns.env. Each release is unpacked once into
# $NS_HOME/<its sha256>, root-owned and read-only to the service; $NS_HOME/current points at the
# one to run. Starting or restarting the server is synrc-ns-apply's job. Idempotent.
set -eu
. /etc/synrc-ns/synrc-ns.env
umask 022
name=$(basename "$NS_URL")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsS --retry 5 --retry-delay 3 -o "$work/$name" "$NS_URL"
if [ -n "$NS_SHA256" ]; then
    expected=$NS_SHA256
else
    # No pin (refused in production): the SHA256SUMS beside it, in either of sha256sum's formats.
    curl -fsS --retry 5 --retry-delay 3 -o "$work/SHA256SUMS" "$(dirname "$NS_URL")/SHA256SUMS"
    expected=$(/usr/local/lib/erpdc/sha256sums-entry "$name" "$work/SHA256SUMS")
fi
actual=$(sha256sum "$work/$name" | cut -d' ' -f1)
if [ "$actual" != "$expected" ]; then
    echo "$NS_URL has sha256 $actual, not $expected: not installed" >&2
    exit 1
fi

id -u synrc-ns >/dev/null 2>&1 || useradd --system --no-create-home --home-dir "$NS_STATE" --shell /usr/sbin/nologin synrc-ns
# An installation of the earlier layout (the release unpacked into $NS_HOME itself, owned by the
# service) is set aside; synrc-ns-apply removes it once the new one answers.
if [ -d "$NS_HOME" ] && [ ! -L "$NS_HOME/current" ]; then
    rm -rf "$NS_HOME.legacy"
    mv "$NS_HOME" "$NS_HOME.legacy"
fi
rm -rf "$NS_HOME.old"
install -d -o root -g root -m 0755 "$NS_HOME" "$NS_ZONES"

target="$NS_HOME/$actual"
if [ ! -f "$target/releases/start_erl.data" ]; then
    rm -rf "$target.new"
    mkdir "$target.new"
    tar -xzf "$work/$name" -C "$target.new" --no-same-owner --no-same-permissions
    read -r erts release <"$target.new/releases/start_erl.data" || [ -n "${release:-}" ]
    [ -x "$target.new/erts-$erts/bin/erlexec" ] || { echo "$name carries no ERTS $erts: not a release built by npm run synrc-ns" >&2; exit 1; }
    [ -f "$target.new/releases/$release/start.boot" ] || { echo "$name has no releases/$release/start.boot" >&2; exit 1; }
    # The server reads its zones from its application's priv directory (erldns_zone_loader.erl).
    for priv in "$target.new"/lib/ns-*/priv; do
        ln -sfn "$NS_ZONES" "$priv/zones"
    done
    chown -R root:root "$target.new"
    chmod -R go-w "$target.new"
    mv "$target.new" "$target"
fi
if [ "$(readlink "$NS_HOME/current" 2>/dev/null || true)" != "$actual" ]; then
    # Kept for a rollback: the release that ran before this one.
    readlink "$NS_HOME/current" >"$NS_HOME/previous.new" 2>/dev/null && mv "$NS_HOME/previous.new" "$NS_HOME/previous" || rm -f "$NS_HOME/previous.new"
    ln -sfn "$actual" "$NS_HOME/current.new"
    mv -T "$NS_HOME/current.new" "$NS_HOME/current"
    echo "synrc-ns: release $actual installed"
fi
# Releases other than the current and the previous one go.
keep_previous=$(cat "$NS_HOME/previous" 2>/dev/null || true)
for dir in "$NS_HOME"/*; do
    release=$(basename "$dir")
    case "$release" in current | previous | "$actual" | "$keep_previous") continue ;; esac
    [ -d "$dir" ] && rm -rf "$dir"
done
# What the earlier layout kept elsewhere: its settings file and a zone copy in the state folder.
rm -rf /etc/synrc-ns/artifact.env "$NS_STATE/zones"
