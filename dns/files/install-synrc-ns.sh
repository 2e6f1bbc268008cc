#!/bin/sh
# Installs the synrc/ns release (rebar3 release "erldns") from the internal files mirror.
# Reads NS_URL and NS_SHA256 (may be empty) from /etc/synrc-ns/artifact.env. Idempotent.
set -eu
. /etc/synrc-ns/artifact.env
name=$(basename "$NS_URL")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsS --retry 5 --retry-delay 3 -o "$work/$name" "$NS_URL"
if [ -n "$NS_SHA256" ]; then
    echo "$NS_SHA256  $work/$name" | sha256sum -c -
else
    curl -fsS --retry 5 --retry-delay 3 -o "$work/SHA256SUMS" "$(dirname "$NS_URL")/SHA256SUMS"
    (cd "$work" && grep -F " $name" SHA256SUMS | sed 's/ \*/  /' | sha256sum -c -)
fi
id -u synrc-ns >/dev/null 2>&1 || useradd --system --home-dir /var/lib/synrc-ns --shell /usr/sbin/nologin synrc-ns
install -d -o synrc-ns -g synrc-ns /var/lib/synrc-ns /var/lib/synrc-ns/zones
rm -rf /opt/synrc-ns.new
mkdir -p /opt/synrc-ns.new
tar -xzf "$work/$name" -C /opt/synrc-ns.new
test -x /opt/synrc-ns.new/bin/erldns || { echo "$name has no bin/erldns: not a rebar3 release of synrc/ns" >&2; exit 1; }
# erldns reads the zone file from its application's priv directory.
for priv in /opt/synrc-ns.new/lib/*/priv; do
    [ -d "$priv" ] && ln -sfn /var/lib/synrc-ns/zones "$priv/zones"
done
rm -rf /opt/synrc-ns.old
if [ -d /opt/synrc-ns ]; then mv /opt/synrc-ns /opt/synrc-ns.old; fi
mv /opt/synrc-ns.new /opt/synrc-ns
chown -R synrc-ns:synrc-ns /opt/synrc-ns
systemctl daemon-reload
systemctl enable synrc-ns
