#!/bin/sh
# Brings the synrc/ns server in line with what is installed (release, sys.config, vm.args, unit,
# launcher, zone), as root: restarts it only when one of them changed since it last answered, or
# when it is not running, then waits until it answers the zone's SOA with the zone file's serial
# on its own address, over UDP and TCP. Without a zone file yet, it only enables the unit.
set -eu
. /etc/synrc-ns/synrc-ns.env
zone="$NS_ZONES/$NS_ZONE_FILE"
applied=/var/lib/erpdc/synrc-ns.applied
systemctl daemon-reload
systemctl enable --quiet synrc-ns
if [ ! -f "$zone" ]; then
    echo "synrc-ns: installed; it starts with its zone ($zone)"
    exit 0
fi
serial=$(python3 -c 'import json, sys; print(next(r["data"]["serial"] for r in json.load(open(sys.argv[1]))[0]["records"] if r["type"] == "SOA"))' "$zone")
fingerprint=$({ readlink -f "$NS_HOME/current"; cat "$NS_CONFIG" "$NS_VM_ARGS" "$NS_UNIT" "$NS_LAUNCHER" "$zone"; } | sha256sum | cut -d' ' -f1)
soa() { dig +short +norecurse +time=1 +tries=1 $1 @"$NS_ADDRESS" "$NS_DOMAIN" SOA 2>/dev/null | awk 'NR == 1 { print $3 }'; }
answers() { [ "$(soa +notcp)" = "$serial" ] && [ "$(soa +tcp)" = "$serial" ]; }
if systemctl is-active --quiet synrc-ns && [ "$(cat "$applied" 2>/dev/null || true)" = "$fingerprint" ] && answers; then
    echo "synrc-ns: answers with serial $serial; nothing changed, not restarted"
    exit 0
fi
systemctl restart synrc-ns
started=$(date +%s)
until answers; do
    if [ $(($(date +%s) - started)) -ge 60 ]; then
        echo "synrc-ns: no SOA answer with serial $serial at $NS_ADDRESS:53 within 60 s after the restart; its journal:" >&2
        journalctl -u synrc-ns -n 40 --no-pager >&2 || true
        exit 1
    fi
    sleep 0.5
done
install -d -m 0755 /var/lib/erpdc
echo "$fingerprint" >"$applied"
rm -rf "$NS_HOME.legacy"
echo "synrc-ns: restarted; answers SOA serial $serial at $NS_ADDRESS over UDP and TCP after $(($(date +%s) - started)) s"
