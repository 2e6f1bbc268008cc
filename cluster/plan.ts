// The cluster layer's plan: the Kubernetes and Kubespray settings, checked against each other and
// against the node network, and the nodes Kubespray manages.
import type { Environment, StackConfig } from "../config";
import type { Problems } from "../config/problems";
import type { DnsPlan, ServiceNames } from "../dns/plan";
import { isDnsDomain } from "../lib/dnsNames";
import { ipToNumber, isIpv4, networksOverlap, parseNetwork, type Ipv4Network } from "../lib/net";
import type { ProxmoxPlan, VmSpec } from "../proxmox/plan";
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
    /** https://api.<domain>:6443, the API virtual IP by name. */
    readonly apiEndpoint: string;
    readonly network: { readonly apiAddress: string; readonly ingressAddress: string; readonly dnsServers: readonly string[] };
}

export function planCluster(config: StackConfig, proxmox: ProxmoxPlan, dns: DnsPlan, problems: Problems): ClusterPlan | undefined {
    const before = problems.count;
    const k8s = config.kubernetes;
    problems.add(...compatibilityProblems(k8s.kubesprayVersion, k8s.kubeVersion, k8s.ansibleCoreVersion));
    const nodeNetwork = parseNetwork(proxmox.network.cidr) as Ipv4Network;
    checkClusterNetworks(k8s, nodeNetwork, problems);
    checkMetallbPool(k8s.metallbPool, nodeNetwork, proxmox, problems);
    problems.requireTarball("kubernetes.kubespraySource", k8s.kubespraySource, "the Kubespray release tarball");
    problems.requireInternalUrl("kubernetes.pythonIndexUrl", k8s.pythonIndexUrl, "use the http(s) URL of the internal PyPI mirror's simple index");
    if (problems.count > before) {
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
        runnerHost: dns.serviceHost,
        names: dns.names,
        apiEndpoint: `https://${dns.names.api}:6443`,
        network: {
            apiAddress: proxmox.network.apiAddress,
            ingressAddress: proxmox.network.ingressAddress,
            dnsServers: proxmox.network.dnsServers,
        },
    };
}

/** Pods, services and nodes need networks of their own, and the cluster a domain. */
function checkClusterNetworks(k8s: StackConfig["kubernetes"], nodeNetwork: Ipv4Network, problems: Problems): void {
    const networks: [string, Ipv4Network][] = [["network.cidr", nodeNetwork]];
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
    }
    if (!isDnsDomain(k8s.clusterDomain)) {
        problems.fail("kubernetes.clusterDomain", k8s.clusterDomain, "use a DNS domain such as cluster.local");
    }
}

/** MetalLB answers ARP on the node network: its pool lies inside it, clear of every address in use. */
function checkMetallbPool(metallbPool: string, nodeNetwork: Ipv4Network, proxmox: ProxmoxPlan, problems: Problems): void {
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
    ].filter(([address]) => inPool(address));
    if (taken.length > 0) {
        problems.fail(key, metallbPool, `holds ${taken.map(([address, owner]) => `${address} (${owner})`).join(", ")}; keep the pool clear of addresses in use`);
    }
    if (!inPool(network.ingressAddress)) {
        problems.fail(key, metallbPool, `does not hold network.ingressAddress ${network.ingressAddress}; the ingress gets its LoadBalancer address from this pool`);
    }
}
