// HA for the VMs: an HA resource per VM, and either negative resource-affinity rules per role
// (PVE 9) or one HA group per host preferring it (PVE 8), so that HA keeps the placement's spread.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { ROLES, type Role } from "../lib/conventions";
import { antiAffinitySets } from "./placement";
import type { ProxmoxPlan } from "./plan";

const ROLE_SLUG: Record<Role, string> = { infra: "infra", controlPlane: "control-plane", workers: "workers" };

export function createHa(config: ProxmoxPlan, vms: Readonly<Record<string, proxmox.VmLegacy>>, opts: pulumi.CustomResourceOptions): void {
    const { environment } = config;
    if (config.haMode === "none") {
        return;
    }
    const groups = new Map<string, proxmox.Hagroup>();
    if (config.haMode === "groups") {
        // PVE 8 has no anti-affinity rules: one group per host prefers the host the placement chose,
        // so HA restarts a VM elsewhere only while its host is down and then moves it back.
        for (const host of new Set(config.vms.map((vm) => vm.host))) {
            groups.set(
                host,
                new proxmox.Hagroup(
                    `ha-group-${host}`,
                    {
                        group: `erp-${environment}-${host}`,
                        comment: `ERP/1 ${environment}: VMs placed on ${host}`,
                        nodes: Object.fromEntries(config.hosts.map((h) => [h.name, h.name === host ? 2 : 1])),
                        restricted: false,
                        noFailback: false,
                    },
                    opts,
                ),
            );
        }
    }
    const resources = new Map<string, proxmox.Haresource>();
    for (const vm of config.vms) {
        const group = groups.get(vm.host);
        resources.set(
            vm.name,
            new proxmox.Haresource(
                `ha-${vm.name}`,
                {
                    resourceId: pulumi.interpolate`vm:${(vms[vm.name] as proxmox.VmLegacy).vmId}`,
                    state: "started",
                    comment: `${vm.fqdn} (${vm.role})`,
                    maxRestart: 3,
                    maxRelocate: 1,
                    ...(group ? { group: group.group } : {}),
                },
                opts,
            ),
        );
    }
    if (config.haMode !== "rules") {
        return;
    }
    const placement = new Map(config.vms.map((vm) => [vm.name, vm.host]));
    for (const role of ROLES) {
        const members = config.vms.filter((vm) => vm.role === role);
        antiAffinitySets(
            members.map((vm) => vm.name),
            placement,
        ).forEach((set, index) => {
            const rule = `erp-${environment}-${ROLE_SLUG[role]}-apart-${index + 1}`;
            new proxmox.Harule(
                rule,
                {
                    rule,
                    type: "resource-affinity",
                    affinity: "negative",
                    comment: `ERP/1 ${environment}: keep ${set.join(", ")} on separate hosts`,
                    resources: set.map((name) => (resources.get(name) as proxmox.Haresource).resourceId),
                },
                opts,
            );
        });
    }
}
