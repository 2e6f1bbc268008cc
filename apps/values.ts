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
