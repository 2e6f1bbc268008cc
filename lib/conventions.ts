// Conventions every part of the project agrees on: the VM roles, the Proxmox tags that mark them,
// and the calendar-version pattern of ERP/1 images and charts. The config, the layers, the policy
// pack and the chart schema (checked by a test) use these copies and no others.

export const ROLES = ["infra", "controlPlane", "workers"] as const;
export type Role = (typeof ROLES)[number];

/** Proxmox tags of a role's VMs; operators and the policy pack find VMs by them. */
export const ROLE_TAGS: Readonly<Record<Role, readonly string[]>> = {
    infra: ["infra"],
    controlPlane: ["k8s-control-plane"],
    workers: ["k8s-worker"],
};

/** Every role tag, for checks that only ask "does this VM carry a role?". */
export const ALL_ROLE_TAGS: readonly string[] = [...new Set(Object.values(ROLE_TAGS).flat())];

/** The tag that marks a VM's environment. */
export function environmentTag(environment: string): string {
    return `env-${environment}`;
}

/**
 * A calendar version X.Y.Z: year (1-4 digits), month 1-12, release 1-9999, no leading zeros in
 * month or release, never "latest". The chart's values.schema.json carries the same pattern.
 */
export const CALVER = /^[0-9]{1,4}\.(1[0-2]|[1-9])\.[1-9][0-9]{0,3}$/;

/**
 * Node-local DNS, the resolver Kubespray puts in every pod's resolv.conf (nodelocaldns_ip,
 * roles/kubespray_defaults/defaults/main/main.yml at v2.28.0). The cluster's group_vars set it and
 * the chart's NetworkPolicies allow it, both from this copy.
 */
export const NODE_LOCAL_DNS = "169.254.25.10";
