// Kubespray inventory and group_vars from the cluster plan: plain data in, YAML documents out.
// Everything a node downloads points at the contour: the files area and the registry on the infra VM.
import { createHash } from "crypto";
import YAML from "yaml";
import { NODE_LOCAL_DNS } from "../lib/conventions";
import { KUBESPRAY_RELEASES } from "./compatibility";
import type { ClusterPlan } from "./plan";

/** Upstream registries whose images the nodes pull through the internal registry instead. */
export const MIRRORED_REGISTRIES = ["registry.k8s.io", "docker.io", "quay.io", "ghcr.io", "gcr.io"] as const;

/** The public download hosts whose paths the files area mirrors (files.<domain>/<host>/...). */
export const MIRRORED_DOWNLOAD_BASES = {
    github_url: "github.com",
    dl_k8s_io_url: "dl.k8s.io",
    storage_googleapis_url: "storage.googleapis.com",
    get_helm_url: "get.helm.sh",
} as const;

export interface Manifest {
    readonly kubesprayVersion: string;
    /** The Kubespray tags this program knows, in order: the runner upgrades one at a time. */
    readonly kubesprayReleases: readonly string[];
    readonly kubeVersion: string;
    /** Hash of the group_vars without the versions: a change re-applies the configuration. */
    readonly varsHash: string;
    readonly controlPlane: Readonly<Record<string, string>>;
    readonly workers: Readonly<Record<string, string>>;
    /** The control-plane nodes are in kube_node too (no workers): their taints depend on it. */
    readonly controlPlaneSchedulable: boolean;
}

/** inventory/hosts.yaml. The all-in-one node (no workers) is in every group. */
export function inventory(plan: ClusterPlan): Record<string, unknown> {
    const { controlPlane, workers, allInOne } = plan;
    const hostVars = (address: string) => ({ ansible_host: address, ip: address, access_ip: address });
    const hosts: Record<string, unknown> = {};
    // The member's name follows the VM's number, so that a gap in a map of addresses renames no member.
    controlPlane.forEach((vm) => (hosts[vm.name] = { ...hostVars(vm.address), etcd_member_name: `etcd${vm.number}` }));
    for (const vm of workers) {
        hosts[vm.name] = hostVars(vm.address);
    }
    const members = (names: readonly string[]) => ({ hosts: Object.fromEntries(names.map((name) => [name, null])) });
    const workerNames = workers.map((vm) => vm.name);
    return {
        all: {
            hosts,
            children: {
                kube_control_plane: members(controlPlane.map((vm) => vm.name)),
                etcd: members(controlPlane.map((vm) => vm.name)),
                kube_node: members(allInOne ? controlPlane.map((vm) => vm.name) : workerNames),
                k8s_cluster: { children: { kube_control_plane: null, kube_node: null } },
            },
        },
    };
}

export function groupVars(plan: ClusterPlan): Record<string, Record<string, unknown>> {
    const { kubernetes: k8s, network, names } = plan;
    const filesRepo = `https://${names.files}`;
    const registry = names.registry;
    return {
        "all/offline.yml": {
            registry_host: registry,
            files_repo: filesRepo,
            kube_image_repo: "{{ registry_host }}",
            gcr_image_repo: "{{ registry_host }}",
            github_image_repo: "{{ registry_host }}",
            docker_image_repo: "{{ registry_host }}",
            quay_image_repo: "{{ registry_host }}",
            ...Object.fromEntries(Object.entries(MIRRORED_DOWNLOAD_BASES).map(([key, host]) => [key, `{{ files_repo }}/${host}`])),
            // Nodes trust the local CA system-wide (cloud-init), so TLS is verified, never skipped.
            containerd_registries_mirrors: MIRRORED_REGISTRIES.map((prefix) => ({
                prefix,
                mirrors: [{ host: `https://${registry}`, capabilities: ["pull", "resolve"], skip_verify: false }],
            })),
            upstream_dns_servers: [...network.dnsServers],
        },
        "k8s_cluster/k8s-cluster.yml": {
            kube_version: k8s.kubeVersionForKubespray,
            container_manager: "containerd",
            // The nodes pull with an account (registryAuthVars). Kubespray v2.28.0 writes
            // containerd_registry_auth only into config-v1.toml.j2, the template of containerd < 2.0;
            // its config.toml.j2 for containerd 2.x has no registry auth at all. So containerd stays
            // on 1.7, the newest 1.x the tag has checksums for
            // (roles/kubespray_defaults/vars/main/checksums.yml, containerd_archive_checksums).
            containerd_version: CONTAINERD_VERSION,
            kube_network_plugin: "calico",
            kube_pods_subnet: k8s.podCidr,
            kube_service_addresses: k8s.serviceCidr,
            cluster_name: k8s.clusterDomain,
            dns_domain: "{{ cluster_name }}",
            // The API endpoint: a kube-vip virtual IP, named api.<domain> in the zone and the certificate.
            kube_vip_enabled: true,
            kube_vip_controlplane_enabled: true,
            kube_vip_arp_enabled: true,
            kube_vip_address: network.apiAddress,
            loadbalancer_apiserver: { address: network.apiAddress, port: 6443 },
            loadbalancer_apiserver_localhost: false,
            apiserver_loadbalancer_domain_name: names.api,
            supplementary_addresses_in_ssl_keys: [network.apiAddress, names.api, names.apiAlias],
            // MetalLB in L2 mode and kube-vip in ARP mode both need strict ARP in kube-proxy.
            kube_proxy_strict_arp: true,
            // Node-local DNS (Kubespray's default, set here from the copy the chart's NetworkPolicies allow).
            enable_nodelocaldns: true,
            nodelocaldns_ip: NODE_LOCAL_DNS,
            kubeconfig_localhost: false,
        },
        "k8s_cluster/addons.yml": {
            helm_enabled: true,
            // The autoscalers (HPA) read pod metrics from metrics-server, which Kubespray leaves off
            // (metrics_server_enabled: false in kubespray_defaults at v2.28.0).
            metrics_server_enabled: true,
            ingress_nginx_enabled: true,
            ingress_nginx_host_network: false,
            ingress_nginx_service_type: "LoadBalancer",
            // Kubespray v2.28.0 installs MetalLB 0.13.9 (download.yml metallb_version), which reads this
            // annotation (controller/service.go at v0.13.9), not the later metallb.io/ one.
            ingress_nginx_service_annotations: { "metallb.universe.tf/loadBalancerIPs": network.ingressAddress },
            local_path_provisioner_enabled: true,
            local_path_provisioner_storage_class: "local-path",
            local_path_provisioner_is_default_storageclass: "true",
            // The provisioner's helper pod: busybox:latest from Docker Hub by default
            // (local_path_provisioner/defaults/main.yml at v2.28.0), and not in Kubespray's download
            // list. Pinned here, from the contour's registry, and listed by the audit.
            local_path_provisioner_helper_image_repo: "{{ docker_image_repo }}/library/busybox",
            local_path_provisioner_helper_image_tag: LOCAL_PATH_HELPER_TAG,
            metallb_enabled: true,
            metallb_speaker_enabled: true,
            metallb_namespace: "metallb-system",
            metallb_config: {
                address_pools: { primary: { ip_range: [k8s.metallbPool], auto_assign: true } },
                layer2: ["primary"],
            },
            cert_manager_enabled: k8s.certManager,
        },
    };
}

const YAML_OPTIONS = { lineWidth: 0 } as const;

/** The local-path provisioner's helper image tag (busybox), pinned instead of Kubespray's latest. */
export const LOCAL_PATH_HELPER_TAG = "1.36.1";

/** containerd 1.x, so that Kubespray v2.28.0 configures the nodes' registry account (see groupVars). */
export const CONTAINERD_VERSION = "1.7.27";

/** The group_vars file that holds the nodes' registry account: it travels only in the secret bundle. */
export const REGISTRY_AUTH_FILE = "group_vars/all/registry-auth.yml";

/**
 * Kubespray's containerd_registry_auth (roles/container-engine/containerd/defaults/main.yml, a list
 * of {registry, username, password}), rendered by config-v1.toml.j2 at v2.28.0 as the CRI plugin's
 * registry.configs."<host>".auth, which containerd 1.7 uses for every pull from that host, the
 * mirrored registries' included.
 */
export function registryAuthVars(plan: ClusterPlan, password: string): string {
    return YAML.stringify(
        { containerd_registry_auth: [{ registry: plan.names.registry, username: plan.registryPullUsername, password }] },
        YAML_OPTIONS,
    );
}

/** The files of a Kubespray inventory directory, relative to it. */
export function inventoryFiles(plan: ClusterPlan): Record<string, string> {
    const files: Record<string, string> = { "hosts.yaml": YAML.stringify(inventory(plan), YAML_OPTIONS) };
    for (const [file, vars] of Object.entries(groupVars(plan))) {
        files[`group_vars/${file}`] = YAML.stringify(vars, YAML_OPTIONS);
    }
    return files;
}

/** What a Kubespray run applies; the runner compares it with the one the last run left behind. */
export function manifest(plan: ClusterPlan): Manifest {
    const { controlPlane, workers } = plan;
    const vars = groupVars(plan);
    const versionless = { ...vars, "k8s_cluster/k8s-cluster.yml": { ...vars["k8s_cluster/k8s-cluster.yml"], kube_version: undefined } };
    return {
        kubesprayVersion: plan.kubernetes.kubesprayVersion,
        kubesprayReleases: KUBESPRAY_RELEASES.map((release) => release.version),
        kubeVersion: plan.kubernetes.kubeVersion,
        varsHash: createHash("sha256").update(JSON.stringify(versionless)).digest("hex"),
        controlPlane: Object.fromEntries(controlPlane.map((vm) => [vm.name, vm.address])),
        workers: Object.fromEntries(workers.map((vm) => [vm.name, vm.address])),
        controlPlaneSchedulable: plan.allInOne,
    };
}
