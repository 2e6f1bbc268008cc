#!/usr/bin/env bash
# Publishes the erp-uno chart to the internal registry (OCI) and the classic chart repository.
# Runs on the operator's machine (helm, curl, ssh). A published version is immutable: the same
# version with other content is an error, the same content is left alone.
# Inputs (environment): CHART_DIR CHART_VERSION REGISTRY REGISTRY_USER REGISTRY_PASSWORD CA_PEM
#                       CHARTS_URL CHARTS_ROOT INFRA_HOST INFRA_HOST_KEY ADMIN_USER SSH_KEY, and
#                       INFRA_SSH_PORT (22). INFRA_HOST_KEY is the infra VM's SSH host key (the program
#                       made it): ssh accepts that key only.
set -euo pipefail
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s\n' "$CA_PEM" > "$work/ca.crt"
printf '%s\n' "$SSH_KEY" > "$work/id"
printf 'erpdc-chart-host %s\n' "$INFRA_HOST_KEY" > "$work/known_hosts"
export HELM_CONFIG_HOME="$work/helm/config" HELM_CACHE_HOME="$work/helm/cache" HELM_DATA_HOME="$work/helm/data"
export HELM_REGISTRY_CONFIG="$work/helm/registry.json"

mkdir -p "$work/package" "$work/published" "$work/ours" "$work/theirs" "$work/repo"
helm package "$CHART_DIR" -d "$work/package" >/dev/null
package="$work/package/erp-uno-$CHART_VERSION.tgz"
test -f "$package" || { echo "helm package did not produce erp-uno-$CHART_VERSION.tgz: does Chart.yaml say $CHART_VERSION?" >&2; exit 1; }

printf '%s' "$REGISTRY_PASSWORD" | helm registry login "$REGISTRY" --username "$REGISTRY_USER" --password-stdin --ca-file "$work/ca.crt"
if helm pull "oci://$REGISTRY/charts/erp-uno" --version "$CHART_VERSION" --ca-file "$work/ca.crt" -d "$work/published" >/dev/null 2>&1; then
    tar -xzf "$work/published/erp-uno-$CHART_VERSION.tgz" -C "$work/theirs"
    tar -xzf "$package" -C "$work/ours"
    if ! diff -r "$work/theirs" "$work/ours" >/dev/null; then
        echo "erp-uno $CHART_VERSION is already published with other content; a version is immutable: raise version in $CHART_DIR/Chart.yaml" >&2
        exit 1
    fi
    echo "erp-uno $CHART_VERSION is already in the registry with this content"
else
    helm push "$package" "oci://$REGISTRY/charts" --ca-file "$work/ca.crt"
fi

# The classic repository: add the package next to the others and merge the index.
curl -fsS --cacert "$work/ca.crt" -o "$work/published-index.yaml" "$CHARTS_URL/index.yaml"
cp "$package" "$work/repo/"
helm repo index "$work/repo" --url "$CHARTS_URL" --merge "$work/published-index.yaml"
ssh_options=(-i "$work/id" -o "Port=${INFRA_SSH_PORT:-22}" -o BatchMode=yes -o LogLevel=ERROR
             -o StrictHostKeyChecking=yes -o HostKeyAlias=erpdc-chart-host -o "UserKnownHostsFile=$work/known_hosts" -o GlobalKnownHostsFile=/dev/null)
scp "${ssh_options[@]}" "$package" "$work/repo/index.yaml" "$ADMIN_USER@$INFRA_HOST:/tmp/"
ssh "${ssh_options[@]}" "$ADMIN_USER@$INFRA_HOST" \
    "sudo install -m 0644 /tmp/erp-uno-$CHART_VERSION.tgz /tmp/index.yaml '$CHARTS_ROOT/' && rm -f /tmp/erp-uno-$CHART_VERSION.tgz /tmp/index.yaml"
echo "published erp-uno $CHART_VERSION"
