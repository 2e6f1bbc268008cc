#!/usr/bin/env bash
# Publishes the erp-uno chart to every infra VM: its registry (OCI) and its classic chart repository.
# Runs on the operator's machine (helm, ssh, scp, python3). Each infra VM holds its own copy, so each
# is written on its own, over SSH with the admin key (the registry through a tunnel to the VM's own
# registry port behind nginx, the classic repository's index merged with that VM's index). A VM that
# cannot be reached fails the run, naming it; the next `pulumi up` publishes again, and a VM that
# has the chart already is left alone. A published version is immutable: the same version with other
# content is an error, the same content is left alone.
# Inputs (environment): CHART_DIR CHART_VERSION CHARTS_URL ADMIN_USER SSH_KEY, and
#   INFRA_HOSTS  a JSON list, one entry per infra VM: {name, address, sshPort, registry (the
#                registry's own address on the VM, behind nginx), chartsRoot (the directory its
#                classic repository serves), hostKey (the SSH host key the program made: ssh
#                accepts that key only)}
set -euo pipefail
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s\n' "$SSH_KEY" > "$work/id"
export HELM_CONFIG_HOME="$work/helm/config" HELM_CACHE_HOME="$work/helm/cache" HELM_DATA_HOME="$work/helm/data"
export HELM_REGISTRY_CONFIG="$work/helm/registry.json"

mkdir -p "$work/package"
helm package "$CHART_DIR" -d "$work/package" >/dev/null
package="$work/package/erp-uno-$CHART_VERSION.tgz"
test -f "$package" || { echo "helm package did not produce erp-uno-$CHART_VERSION.tgz: does Chart.yaml say $CHART_VERSION?" >&2; exit 1; }
mkdir -p "$work/ours" && tar -xzf "$package" -C "$work/ours"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# One infra VM: the registry through an SSH tunnel, then the classic repository. Runs in a subshell
# of its own (errexit applies inside it), which closes its tunnel when it ends.
publish_to() {
    local name=$1 address=$2 ssh_port=$3 registry_listen=$4 charts_root=$5 host_key=$6
    local dir="$work/$name"
    mkdir -p "$dir/published" "$dir/theirs" "$dir/repo"
    printf 'erpdc-%s %s\n' "$name" "$host_key" > "$dir/known_hosts"
    local ssh_options=(-i "$work/id" -o "Port=$ssh_port" -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=15
        -o StrictHostKeyChecking=yes -o "HostKeyAlias=erpdc-$name" -o "UserKnownHostsFile=$dir/known_hosts" -o GlobalKnownHostsFile=/dev/null)
    local port control="$dir/control"
    port=$(free_port)
    ssh "${ssh_options[@]}" -f -N -M -S "$control" -o ExitOnForwardFailure=yes -L "127.0.0.1:$port:$registry_listen" "$ADMIN_USER@$address"
    trap 'ssh -S "'"$control"'" -O exit erpdc-tunnel >/dev/null 2>&1 || true' EXIT
    local registry="127.0.0.1:$port"
    if helm pull "oci://$registry/charts/erp-uno" --version "$CHART_VERSION" --plain-http -d "$dir/published" >/dev/null 2>&1; then
        tar -xzf "$dir/published/erp-uno-$CHART_VERSION.tgz" -C "$dir/theirs"
        if ! diff -r "$dir/theirs" "$work/ours" >/dev/null; then
            echo "$name: erp-uno $CHART_VERSION is already published with other content; a version is immutable: raise version in $CHART_DIR/Chart.yaml" >&2
            exit 1
        fi
        echo "$name: erp-uno $CHART_VERSION is already in the registry with this content"
    else
        helm push "$package" "oci://$registry/charts" --plain-http >/dev/null
        echo "$name: pushed erp-uno $CHART_VERSION to the registry"
    fi

    # The classic repository: this VM's own index, merged with the package, written back.
    ssh "${ssh_options[@]}" "$ADMIN_USER@$address" "cat '$charts_root/index.yaml'" > "$dir/published-index.yaml"
    cp "$package" "$dir/repo/"
    helm repo index "$dir/repo" --url "$CHARTS_URL" --merge "$dir/published-index.yaml"
    scp "${ssh_options[@]}" "$package" "$dir/repo/index.yaml" "$ADMIN_USER@$address:/tmp/"
    ssh "${ssh_options[@]}" "$ADMIN_USER@$address" \
        "sudo install -m 0644 /tmp/erp-uno-$CHART_VERSION.tgz /tmp/index.yaml '$charts_root/' && rm -f /tmp/erp-uno-$CHART_VERSION.tgz /tmp/index.yaml"
    echo "$name: erp-uno $CHART_VERSION is in the chart repository"
}

# One line per infra VM; a list that cannot be read stops here (set -e), and an empty one too.
hosts=$(python3 -c 'import json, os
for host in json.loads(os.environ["INFRA_HOSTS"]):
    print(host["name"], host["address"], host["sshPort"], host["registry"], host["chartsRoot"], host["hostKey"].strip())')
[ -n "$hosts" ] || { echo "INFRA_HOSTS lists no infra VM to publish to" >&2; exit 1; }
failed=()
while read -r name address ssh_port registry_listen charts_root host_key; do
    [ -n "$name" ] || continue
    # Not `publish_to ... || ...`: bash ignores errexit inside a function or subshell run that way.
    set +e
    (set -e; publish_to "$name" "$address" "$ssh_port" "$registry_listen" "$charts_root" "$host_key") </dev/null
    status=$?
    set -e
    [ "$status" -eq 0 ] || failed+=("$name")
done <<< "$hosts"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "erp-uno $CHART_VERSION is not published on ${failed[*]}: the next pulumi up publishes it again (the infra VMs that have it are left alone)" >&2
    exit 1
fi
echo "published erp-uno $CHART_VERSION on every infra VM"
