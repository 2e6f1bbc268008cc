// The capacity check of the apps layer: what the platform asks of the nodes that run workloads (the
// components at their HPA maxima, the cluster's own add-ons, ArgoCD, and the local-path volumes)
// against what those nodes have. Plain data in, plain data out.
import type { NodeBoundWorkload } from "../lib/workloads";
import type { ChartValues } from "./catalog";
import { cpuMillis, memoryMiB, type Profile } from "./values";

export interface Demand {
    readonly cpuMillis: number;
    readonly memoryMiB: number;
    /** local-path volumes: a StatefulSet's claim per replica, a Deployment's one claim. */
    readonly storageGiB: number;
    readonly pods: number;
}

interface Request {
    readonly name: string;
    readonly cpuMillis: number;
    readonly memoryMiB: number;
}

/** What the components request with every replica they may have: replicas, or the HPA's bound. */
export function componentDemand(values: ChartValues, at: "minimum" | "maximum"): Demand {
    let cpu = 0;
    let memory = 0;
    let storage = 0;
    let pods = 0;
    for (const [namespace, members] of Object.entries(values.services)) {
        if (!values.namespaces[namespace]?.enabled) continue;
        for (const service of Object.values(members)) {
            if (!service.enabled) continue;
            const replicas = service.hpa ? (at === "minimum" ? service.hpa.minReplicas : service.hpa.maxReplicas) : service.replicas;
            cpu += cpuMillis(service.resources.requests.cpu) * replicas;
            memory += memoryMiB(service.resources.requests.memory) * replicas;
            pods += replicas;
            const size = memoryMiB(service.persistence?.size ?? (values.persistence as { size: string }).size) / 1024;
            if (service.stateful) storage += size * replicas;
            else if (service.persistence?.enabled) storage += size;
        }
    }
    return { cpuMillis: cpu, memoryMiB: memory, storageGiB: storage, pods };
}

/**
 * The components whose state is on local-path volumes, which tie it to a node (topology.md tells
 * what a host loss takes): StatefulSets (a claim per member) and Deployments with a volume (one
 * claim, so every pod runs where it is).
 */
export function nodeBoundWorkloads(values: ChartValues): NodeBoundWorkload[] {
    const workloads: NodeBoundWorkload[] = [];
    for (const [namespace, members] of Object.entries(values.services)) {
        if (!values.namespaces[namespace]?.enabled) continue;
        for (const [name, service] of Object.entries(members)) {
            if (!service.enabled || !(service.stateful || service.persistence?.enabled)) continue;
            const volumeGiB = memoryMiB(service.persistence?.size ?? (values.persistence as { size: string }).size) / 1024;
            const kind = service.stateful ? "StatefulSet" : "Deployment";
            // A StatefulSet keeps the claims of the members an HPA scaled it up to: count the most it may run.
            workloads.push({ name: `${namespace}/${name}`, kind, members: service.hpa ? service.hpa.maxReplicas : service.replicas, volumeGiB });
        }
    }
    return workloads;
}

/**
 * The add-ons Kubespray v2.28.0 runs on every node, with the requests of its defaults:
 * calico-node 150m/64M (roles/network_plugin/calico_defaults/defaults/main.yml), nodelocaldns
 * 100m/70Mi (roles/kubernetes-apps/ansible/defaults/main.yml). kube-proxy, the MetalLB speaker and the
 * ingress-nginx controller set no requests there.
 */
export const PER_NODE_ADDONS: readonly Request[] = [
    { name: "calico-node", cpuMillis: 150, memoryMiB: 61 },
    { name: "nodelocaldns", cpuMillis: 100, memoryMiB: 70 },
];

/**
 * The cluster's single add-ons (same tag): CoreDNS, two replicas of 100m/70Mi (dns_min_replicas is
 * two, or one on a one-node cluster: counted as two there too, an upper bound; dns_*_requests), its
 * autoscaler 20m/10Mi (enable_dns_autoscaler: true, dns_autoscaler_*_requests,
 * roles/kubernetes-apps/ansible/defaults/main.yml), calico-kube-controllers 30m/64M
 * (calico_policy_controller_*_requests, roles/kubernetes-apps/policy_controller/calico/defaults/main.yml),
 * metrics-server 100m/200Mi (roles/kubernetes-apps/metrics_server/defaults/main.yml).
 */
export const CLUSTER_ADDONS: readonly Request[] = [
    { name: "CoreDNS x2", cpuMillis: 200, memoryMiB: 140 },
    { name: "dns-autoscaler", cpuMillis: 20, memoryMiB: 10 },
    { name: "calico-kube-controllers", cpuMillis: 30, memoryMiB: 61 },
    { name: "metrics-server", cpuMillis: 100, memoryMiB: 200 },
];

/**
 * ArgoCD's requests. The argo-cd chart sets none (`resources: {}` for every component in
 * argo-cd-7.7.11's and argo-cd-8.6.4's values.yaml), so the release sets these, and the check counts
 * the same figures.
 */
export const ARGOCD_REQUESTS = {
    controller: { cpu: "250m", memory: "512Mi" },
    repoServer: { cpu: "100m", memory: "256Mi" },
    server: { cpu: "50m", memory: "128Mi" },
    redis: { cpu: "50m", memory: "64Mi" },
    applicationSet: { cpu: "50m", memory: "64Mi" },
    notifications: { cpu: "50m", memory: "64Mi" },
} as const;

export function argocdDemand(): Request {
    const parts = Object.values(ARGOCD_REQUESTS);
    return { name: "ArgoCD", cpuMillis: parts.reduce((sum, part) => sum + cpuMillis(part.cpu), 0), memoryMiB: parts.reduce((sum, part) => sum + memoryMiB(part.memory), 0) };
}

/**
 * What a control-plane node's own static pods request when it also runs workloads (all-in-one):
 * kubeadm's kube-apiserver 250m, kube-controller-manager 200m, kube-scheduler 100m, CPU only
 * (cmd/kubeadm/app/phases/controlplane/manifests.go, ComponentResources). etcd runs as a host service (Kubespray's
 * etcd_deployment_type: host) and is covered by the node's own reserve.
 */
export const CONTROL_PLANE_PODS: Request = { name: "the control plane's static pods", cpuMillis: 550, memoryMiB: 0 };

/** Kept on every node for the kubelet and the OS, and on its disk for the OS, images and logs. */
export const NODE_RESERVED = { cpuMillis: 250, memoryMiB: 1024, diskGiB: 30 };

/** Whether the nodes that run workloads are the workers or, with none, the control-plane nodes. */
export type NodeRole = "workers" | "controlPlane";

export interface WorkloadNode {
    readonly cores: number;
    readonly memoryMiB: number;
    /** The system disk, where local-path keeps its volumes (/opt/local-path-provisioner). */
    readonly diskGiB: number;
}

/** What the nodes can give the components: their size less the kubelet's, the add-ons' and ArgoCD's share. */
export function allocatable(nodes: readonly WorkloadNode[], nodeRole: NodeRole = "workers"): { cpuMillis: number; memoryMiB: number; storageGiB: number } {
    const onEachNode = nodeRole === "controlPlane" ? [...PER_NODE_ADDONS, CONTROL_PLANE_PODS] : PER_NODE_ADDONS;
    const perNode = onEachNode.reduce((sum, addon) => ({ cpu: sum.cpu + addon.cpuMillis, memory: sum.memory + addon.memoryMiB }), { cpu: NODE_RESERVED.cpuMillis, memory: NODE_RESERVED.memoryMiB });
    const once = [...CLUSTER_ADDONS, argocdDemand()].reduce((sum, addon) => ({ cpu: sum.cpu + addon.cpuMillis, memory: sum.memory + addon.memoryMiB }), { cpu: 0, memory: 0 });
    return {
        cpuMillis: nodes.reduce((sum, node) => sum + node.cores * 1000 - perNode.cpu, 0) - once.cpu,
        memoryMiB: nodes.reduce((sum, node) => sum + node.memoryMiB - perNode.memory, 0) - once.memory,
        storageGiB: nodes.reduce((sum, node) => sum + Math.max(0, node.diskGiB - NODE_RESERVED.diskGiB), 0),
    };
}

/**
 * Why the components cannot fit at their HPA maxima, with the figures and the fixes; undefined when
 * they fit. The maxima count, because an autoscaler that cannot place its pods never scales.
 */
export function capacityProblem(need: Demand, nodes: readonly WorkloadNode[], profile: Profile, nodeRole: NodeRole = "workers"): string | undefined {
    const have = allocatable(nodes, nodeRole);
    const short = {
        cpu: need.cpuMillis > have.cpuMillis,
        memory: need.memoryMiB > have.memoryMiB,
        storage: need.storageGiB > have.storageGiB,
    };
    if (!short.cpu && !short.memory && !short.storage) {
        return undefined;
    }
    const gib = (mib: number) => (mib / 1024).toFixed(1);
    const shortBy = [
        short.cpu ? `${((need.cpuMillis - have.cpuMillis) / 1000).toFixed(2)} CPU` : "",
        short.memory ? `${gib(need.memoryMiB - have.memoryMiB)} GiB of memory` : "",
        short.storage ? `${(need.storageGiB - have.storageGiB).toFixed(0)} GiB of disk` : "",
    ].filter(Boolean).join(" and ");
    const grow = [short.cpu ? `vms.${nodeRole}.cores` : "", short.memory ? `vms.${nodeRole}.memoryMiB` : "", short.storage ? `vms.${nodeRole}.diskGiB` : ""].filter(Boolean).join(", ");
    const fixes = [
        nodeRole === "workers" ? "add workers (vms.workers.count)" : "add workers (vms.workers.count, which also frees the control plane)",
        `give the ${nodeRole === "workers" ? "workers" : "control-plane nodes"} more (${grow})`,
        ...(profile === "full" ? ['use apps.profile "light"'] : []),
    ];
    const list = (names: string[]) => (names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}` : names.join(""));
    const perNode = list([...PER_NODE_ADDONS, ...(nodeRole === "controlPlane" ? [CONTROL_PLANE_PODS] : [])].map((addon) => addon.name));
    const once = list([...CLUSTER_ADDONS, argocdDemand()].map((addon) => addon.name));
    return (
        `apps: at their HPA maxima the ${profile} profile's components request ${(need.cpuMillis / 1000).toFixed(2)} CPU, ${gib(need.memoryMiB)} GiB of memory ` +
        `and ${need.storageGiB.toFixed(0)} GiB of local-path volumes (${need.pods} pods), but the ${nodes.length} node(s) that run workloads can give ` +
        `${(have.cpuMillis / 1000).toFixed(2)} CPU, ${gib(have.memoryMiB)} GiB and ${have.storageGiB.toFixed(0)} GiB once each keeps ` +
        `${NODE_RESERVED.cpuMillis / 1000} CPU, ${gib(NODE_RESERVED.memoryMiB)} GiB and ${NODE_RESERVED.diskGiB} GiB of disk for itself and runs ${perNode}, ` +
        `and the cluster places ${once}: ${shortBy} short; ${fixes.join(", or ")}`
    );
}
