// The cluster layer's plan: the Kubernetes and Kubespray settings, checked against each other and
// against the node network, and the nodes Kubespray manages.
import type { Environment, StackConfig } from "../config";
import type { Problems } from "../config/problems";
import type { ServiceNames } from "../dns/plan";
import { isDnsDomain } from "../lib/dnsNames";
import { ipToNumber, isIpv4, networksOverlap, parseNetwork, type Ipv4Network } from "../lib/net";
import type { ProxmoxPlan, ReservedAddress, VmSpec } from "../proxmox/plan";
import { compatibilityProblems, kubeVersionFor } from "./compatibility";

export interface ClusterPlan {
    readonly environment: Environment;
    readonly adminUser: string;
    readonly kubernetes: StackConfig["kubernetes"] & {
        /** kube_version as this Kubespray release expects it (with or without the "v"). */
        readonly kubeVersionForKubespray: string;
    };
    readonly controlPlane: readonly VmSpec[];
    readonly workers: readonly VmSpec[];
    /** No workers: the control-plane nodes schedule workloads too. */
    readonly allInOne: boolean;
    /** The VM Ansible runs on when kubernetes.runner is "infra". */
    readonly runnerHost: VmSpec;
    readonly names: ServiceNames;
    /** The registry's pull-only account, which the nodes' containerd uses. */
    readonly registryPullUsername: string;
    /** https://api.<domain>:6443, the API virtual IP by name. */
    readonly apiEndpoint: string;
    readonly network: { readonly apiAddress: string; readonly ingressAddress: string; readonly dnsServers: readonly string[] };
}

/** What the cluster plan reads of the configuration. */
export type ClusterConfig = Pick<StackConfig, "environment" | "domain" | "kubernetes" | "registry">;

/**
 * Pod addresses with Calico, the network plugin the cluster uses: Calico's IPAM hands each node
 * blocks of /26 (calico_pool_blocksize, roles/network_plugin/calico_defaults/defaults/main.yml at
 * v2.28.0), as many as its pods need, up to kubelet's 110 (kubelet_max_pods,
 * roles/kubernetes/node/defaults/main.yml). Kubespray's own per-node /24 check is skipped for
 * Calico (roles/validate_inventory/tasks/main.yml), and kube_network_node_prefix is unused with it.
 */
const CALICO_BLOCK_PREFIX = 26;
const KUBELET_MAX_PODS = 110;
const BLOCKS_PER_NODE = Math.ceil(KUBELET_MAX_PODS / 2 ** (32 - CALICO_BLOCK_PREFIX));

export function planCluster(
    config: ClusterConfig,
    proxmox: ProxmoxPlan | undefined,
    names: ServiceNames | undefined,
    reserved: readonly ReservedAddress[],
    problems: Problems,
): ClusterPlan | undefined {
    const scope = problems.scope();
    const k8s = config.kubernetes;
    scope.add(...compatibilityProblems(k8s.kubesprayVersion, k8s.kubeVersion, k8s.ansibleCoreVersion));
    checkKubesprayTarball(k8s, scope);
    // The bundle and the runner join each project's folder onto the index (PEP 503: <index>/<project>/),
    // so the index URL is a folder, with its trailing slash.
    problems.requireInternalUrl("kubernetes.pythonIndexUrl", k8s.pythonIndexUrl, "use the http(s) URL of the internal PyPI mirror's simple index, e.g. https://files.erp.uno/pypi/simple/", {
        path: /\/$/,
        pathText: "a PEP 503 index folder ending in /",
    });
    if (/^http:\/\//.test(k8s.pythonIndexUrl)) {
        // pip ignores a plain-http index unless its host is trusted, and the wheels it installs carry
        // no pinned hash: over http anyone on the path could swap them.
        const text = "plain http: the runner would tell pip to trust its host and install whatever the network returns; use the https index of the files area (the local CA is trusted)";
        if (problems.production) problems.fail("kubernetes.pythonIndexUrl", k8s.pythonIndexUrl, text);
        else problems.warn(`kubernetes.pythonIndexUrl is ${JSON.stringify(k8s.pythonIndexUrl)}: ${text}`);
    }
    checkClusterDomain(k8s.clusterDomain, config.domain, scope);
    if (proxmox === undefined || names === undefined) {
        checkClusterNetworks(k8s, undefined, 0, scope);
        return undefined;
    }
    const nodeNetwork = parseNetwork(proxmox.network.cidr) as Ipv4Network;
    const nodeCount = proxmox.vms.filter((vm) => vm.role !== "infra").length;
    checkClusterNetworks(k8s, nodeNetwork, nodeCount, scope);
    checkMetallbPool(k8s.metallbPool, nodeNetwork, proxmox, reserved, scope);
    if (scope.count > 0) {
        return undefined;
    }
    const controlPlane = proxmox.vms.filter((vm) => vm.role === "controlPlane");
    const workers = proxmox.vms.filter((vm) => vm.role === "workers");
    return {
        environment: config.environment,
        adminUser: proxmox.adminUser,
        kubernetes: { ...k8s, kubeVersionForKubespray: kubeVersionFor(k8s.kubesprayVersion, k8s.kubeVersion) },
        controlPlane,
        workers,
        allInOne: workers.length === 0,
        runnerHost: names.serviceHost,
        names,
        registryPullUsername: config.registry.pullUsername,
        apiEndpoint: `https://${names.api}:6443`,
        network: {
            apiAddress: proxmox.network.apiAddress,
            ingressAddress: proxmox.network.ingressAddress,
            dnsServers: proxmox.network.dnsServers,
        },
    };
}

/** The release tarball is pinned like every tarball, and is the release kubesprayVersion names. */
function checkKubesprayTarball(k8s: StackConfig["kubernetes"], problems: Problems): void {
    const source = k8s.kubespraySource;
    // Its sha256 is required by the schema: the runner unpacks it and runs it as root on every node.
    problems.requireTarball("kubernetes.kubespraySource", source, "the Kubespray release tarball");
    const named = /(?:^|[^0-9.])v?(\d+\.\d+\.\d+)\.(?:tar\.gz|tgz)$/.exec(source.url.split("/").pop() ?? "")?.[1];
    if (named !== undefined && /^v\d+\.\d+\.\d+$/.test(k8s.kubesprayVersion) && named !== k8s.kubesprayVersion.slice(1)) {
        problems.fail("kubernetes.kubespraySource.url", source.url, `is the tarball of Kubespray ${named}, but kubernetes.kubesprayVersion is ${k8s.kubesprayVersion}; point it at the ${k8s.kubesprayVersion} tarball`);
    }
}

/**
 * CoreDNS answers for the cluster domain itself, so a cluster domain equal to the contour's domain
 * (or above it) hides every contour name from the pods: the registry, the chart server, the API.
 */
function checkClusterDomain(clusterDomain: string, domain: string, problems: Problems): void {
    if (!isDnsDomain(clusterDomain)) {
        problems.fail("kubernetes.clusterDomain", clusterDomain, "use a DNS domain such as cluster.local");
    } else if (clusterDomain === domain || domain.endsWith(`.${clusterDomain}`)) {
        problems.fail("kubernetes.clusterDomain", clusterDomain, `CoreDNS would answer for ${domain} itself and pods could not resolve registry.${domain} or any contour name; use cluster.local`);
    }
}

/** Pods, services and nodes need networks of their own, of sizes Kubernetes and Kubespray accept. */
function checkClusterNetworks(k8s: StackConfig["kubernetes"], nodeNetwork: Ipv4Network | undefined, nodeCount: number, problems: Problems): void {
    const networks: [string, Ipv4Network][] = nodeNetwork ? [["network.cidr", nodeNetwork]] : [];
    for (const key of ["podCidr", "serviceCidr"] as const) {
        const parsed = parseNetwork(k8s[key]);
        if (parsed === undefined) {
            problems.fail(`kubernetes.${key}`, k8s[key], "use an IPv4 network with its host bits zero, e.g. 10.233.64.0/18");
            continue;
        }
        for (const [otherKey, other] of networks) {
            if (networksOverlap(parsed, other)) {
                problems.fail(`kubernetes.${key}`, k8s[key], `overlaps ${otherKey} ${other.cidr}; pods, services and nodes need separate networks`);
            }
        }
        networks.push([`kubernetes.${key}`, parsed]);
        // kube-apiserver refuses a service range larger than /12 (validateClusterIPFlags, maxCIDRBits 20);
        // kubeadm needs at least 10 addresses in it (MinimumAddressesInServiceSubnet).
        if (key === "serviceCidr" && parsed.prefixLength < 12) {
            problems.fail("kubernetes.serviceCidr", k8s.serviceCidr, "kube-apiserver accepts a service network of /12 at most; use e.g. 10.233.0.0/18");
        } else if (key === "serviceCidr" && parsed.prefixLength > 28) {
            problems.fail("kubernetes.serviceCidr", k8s.serviceCidr, "kubeadm needs at least 10 service addresses; use /28 or larger, e.g. 10.233.0.0/18");
        } else if (key === "podCidr") {
            const blocks = parsed.prefixLength > CALICO_BLOCK_PREFIX ? 0 : 2 ** (CALICO_BLOCK_PREFIX - parsed.prefixLength);
            const fits = Math.floor(blocks / BLOCKS_PER_NODE);
            if (fits < nodeCount) {
                // The longest prefix whose blocks cover every node, on the same network address.
                const needed = CALICO_BLOCK_PREFIX - Math.ceil(Math.log2(nodeCount * BLOCKS_PER_NODE));
                problems.fail(
                    "kubernetes.podCidr",
                    k8s.podCidr,
                    `Calico hands out /${CALICO_BLOCK_PREFIX} blocks and a node of ${KUBELET_MAX_PODS} pods needs ${BLOCKS_PER_NODE}, so it fits ${fits} node(s) and the cluster has ${nodeCount}; use a /${needed} or larger network (it must not overlap the service network)`,
                );
            }
        }
    }
}

/** MetalLB answers ARP on the node network: its pool lies inside it, clear of every address in use. */
function checkMetallbPool(metallbPool: string, nodeNetwork: Ipv4Network, proxmox: ProxmoxPlan, reserved: readonly ReservedAddress[], problems: Problems): void {
    const key = "kubernetes.metallbPool";
    const pool = /^(\d+\.\d+\.\d+\.\d+)-(\d+\.\d+\.\d+\.\d+)$/.exec(metallbPool);
    const [first, last] = pool ? [pool[1] as string, pool[2] as string] : ["", ""];
    if (!pool || !isIpv4(first) || !isIpv4(last) || ipToNumber(first) > ipToNumber(last)) {
        problems.fail(key, metallbPool, 'use a range "first-last" of IPv4 addresses, e.g. 10.0.0.30-10.0.0.49');
        return;
    }
    if (!nodeNetwork.contains(first) || !nodeNetwork.contains(last) || first === nodeNetwork.network || last === nodeNetwork.broadcast) {
        problems.fail(key, metallbPool, `MetalLB answers ARP on the node network, so the pool must lie inside network.cidr ${nodeNetwork.cidr}`);
        return;
    }
    const inPool = (address: string) => isIpv4(address) && ipToNumber(address) >= ipToNumber(first) && ipToNumber(address) <= ipToNumber(last);
    const { network } = proxmox;
    const taken = [
        ...proxmox.vms.map((vm) => [vm.address, vm.name] as const),
        [network.gateway, "network.gateway"] as const,
        [network.apiAddress, "network.apiAddress"] as const,
        ...proxmox.hosts.map((host) => [host.address, host.name] as const),
        ...reserved.map((entry) => [entry.address, entry.owner] as const),
    ].filter(([address]) => inPool(address));
    if (taken.length > 0) {
        problems.fail(key, metallbPool, `holds ${taken.map(([address, owner]) => `${address} (${owner})`).join(", ")}; keep the pool clear of addresses in use`);
    }
    if (!inPool(network.ingressAddress)) {
        problems.fail(key, metallbPool, `does not hold network.ingressAddress ${network.ingressAddress}; the ingress gets its LoadBalancer address from this pool`);
    }
}
