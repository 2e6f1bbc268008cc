// The erp-uno values of a stack and the capacity check: plain data in, plain data out.
import { NODE_LOCAL_DNS } from "../lib/conventions";
import type { Chart, ChartValues, ServiceValues } from "./catalog";

export type Profile = "light" | "full";

/** The light profile (dev): enough of each tier to run the portal end to end, one replica each. */
export const LIGHT_PROFILE: Readonly<Record<string, readonly string[]>> = {
    "erp-infra": [],
    "erp-telemetry": ["prometheus", "grafana"],
    "erp-security": ["ca-pki", "ias-auth"],
    "erp-ai": [],
    "erp-services": ["kvs-database", "rest-bpe", "nitro-portal", "n2o-server"],
    "erp-apps": ["crm-documents"],
};

/** Stateless front ends that run twice in the full profile, so that a node loss never takes them down. */
export const HA_FRONT_ENDS = ["nitro-portal", "n2o-server", "rest-bpe", "otel-collector"];

export interface ValuesInput {
    readonly domain: string;
    /** The portal's ingress name (portal.<domain>). */
    readonly portalHost: string;
    readonly environment: string;
    readonly registry: string;
    readonly imageVersion: string;
    readonly profile: Profile;
}

/** Overrides on top of the chart's defaults; ArgoCD and the render both use them. */
export function composeValues(chart: Chart, input: ValuesInput): Record<string, unknown> {
    const services: Record<string, Record<string, Partial<ServiceValues>>> = {};
    for (const [namespace, members] of Object.entries(chart.defaults.services)) {
        services[namespace] = {};
        for (const [name, defaults] of Object.entries(members)) {
            if (input.profile === "light") {
                const enabled = (LIGHT_PROFILE[namespace] ?? []).includes(name);
                services[namespace][name] = enabled ? { enabled, replicas: 1, hpa: null } : { enabled };
            } else {
                services[namespace][name] = { enabled: true, ...(HA_FRONT_ENDS.includes(name) ? { replicas: Math.max(2, defaults.replicas) } : {}) };
            }
        }
    }
    return {
        global: { domain: input.domain, environment: input.environment, registry: input.registry, version: input.imageVersion },
        services,
        ingress: { host: input.portalHost },
        // The address Kubespray gives node-local DNS, so that the policies allow the resolver pods use.
        networkPolicy: { nodeLocalDns: NODE_LOCAL_DNS },
    };
}

/** The chart's defaults with the overrides applied, as Helm merges them. */
export function effectiveValues(chart: Chart, overrides: Record<string, unknown>): ChartValues {
    return deepMerge(structuredClone(chart.defaults) as unknown as Record<string, unknown>, overrides) as unknown as ChartValues;
}

function deepMerge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
    for (const [key, value] of Object.entries(override)) {
        const current = base[key];
        base[key] =
            value !== null && typeof value === "object" && !Array.isArray(value) && current !== null && typeof current === "object" && !Array.isArray(current)
                ? deepMerge(current as Record<string, unknown>, value as Record<string, unknown>)
                : value;
    }
    return base;
}

/** CPU as the chart's schema allows it (values.schema.json $defs.cpu): cores ("0.5") or millicores ("500m"). */
export function cpuMillis(quantity: string): number {
    const match = /^(?:([0-9]+)m|([0-9]+(?:\.[0-9]{1,3})?))$/.exec(quantity);
    if (!match) throw new Error(`CPU quantity "${quantity}": use cores (0.5) or millicores (500m)`);
    return match[1] !== undefined ? Number(match[1]) : Number(match[2]) * 1000;
}

/** Memory as the chart's schema allows it (values.schema.json $defs.memory): Ki, Mi, Gi or Ti; "128m" would be milli-bytes. */
export function memoryMiB(quantity: string): number {
    const units: Record<string, number> = { Ki: 1 / 1024, Mi: 1, Gi: 1024, Ti: 1024 * 1024 };
    const match = /^([0-9]+)(Ki|Mi|Gi|Ti)$/.exec(quantity);
    if (!match) throw new Error(`memory quantity "${quantity}": use Ki, Mi, Gi or Ti (e.g. 128Mi)`);
    return Number(match[1]) * (units[match[2] as string] as number);
}

export interface Requested {
    readonly cpuMillis: number;
    readonly memoryMiB: number;
    readonly pods: number;
}

/** What the enabled components request at their floor: replicas, or the HPA minimum. */
export function requested(values: ChartValues): Requested {
    let cpu = 0;
    let memory = 0;
    let pods = 0;
    for (const [namespace, members] of Object.entries(values.services)) {
        if (!values.namespaces[namespace]?.enabled) continue;
        for (const service of Object.values(members)) {
            if (!service.enabled) continue;
            const replicas = service.hpa ? service.hpa.minReplicas : service.replicas;
            cpu += cpuMillis(service.resources.requests.cpu) * replicas;
            memory += memoryMiB(service.resources.requests.memory) * replicas;
            pods += replicas;
        }
    }
    return { cpuMillis: cpu, memoryMiB: memory, pods };
}

/** Kept free on every node for the kubelet and the OS, and once for the cluster's own add-ons. */
export const NODE_RESERVED = { cpuMillis: 250, memoryMiB: 1024 };
export const PLATFORM_RESERVED = { cpuMillis: 1500, memoryMiB: 3072 };

/** Whether the nodes that run workloads are the workers or, with none, the control-plane nodes. */
export type NodeRole = "workers" | "controlPlane";

export function capacityProblem(
    need: Requested,
    nodes: readonly { readonly cores: number; readonly memoryMiB: number }[],
    profile: Profile,
    nodeRole: NodeRole = "workers",
): string | undefined {
    const cpu = nodes.reduce((sum, node) => sum + node.cores * 1000 - NODE_RESERVED.cpuMillis, 0) - PLATFORM_RESERVED.cpuMillis;
    const memory = nodes.reduce((sum, node) => sum + node.memoryMiB - NODE_RESERVED.memoryMiB, 0) - PLATFORM_RESERVED.memoryMiB;
    const shortOfCpu = need.cpuMillis > cpu;
    const shortOfMemory = need.memoryMiB > memory;
    if (!shortOfCpu && !shortOfMemory) {
        return undefined;
    }
    const gib = (mib: number) => (mib / 1024).toFixed(1);
    const short = [shortOfCpu ? `${((need.cpuMillis - cpu) / 1000).toFixed(2)} CPU` : "", shortOfMemory ? `${gib(need.memoryMiB - memory)} GiB of memory` : ""].filter(Boolean).join(" and ");
    const grow = [shortOfCpu ? `vms.${nodeRole}.cores` : "", shortOfMemory ? `vms.${nodeRole}.memoryMiB` : ""].filter(Boolean).join(" and ");
    const fixes = [
        nodeRole === "workers" ? "add workers (vms.workers.count)" : "add workers (vms.workers.count, which also frees the control plane)",
        `give the ${nodeRole === "workers" ? "workers" : "control-plane nodes"} more (${grow})`,
        ...(profile === "full" ? ['use apps.profile "light"'] : []),
    ];
    return (
        `apps: the ${profile} profile's components request ${(need.cpuMillis / 1000).toFixed(2)} CPU and ${gib(need.memoryMiB)} GiB ` +
        `(${need.pods} pods at their minimum), but the ${nodes.length} node(s) that run workloads can allocate ${(cpu / 1000).toFixed(2)} CPU and ${gib(memory)} GiB ` +
        `once each keeps ${NODE_RESERVED.cpuMillis / 1000} CPU and ${gib(NODE_RESERVED.memoryMiB)} GiB for the kubelet and the OS and the cluster's add-ons take ` +
        `${PLATFORM_RESERVED.cpuMillis / 1000} CPU and ${gib(PLATFORM_RESERVED.memoryMiB)} GiB: ${short} short; ${fixes.join(", or ")}`
    );
}
