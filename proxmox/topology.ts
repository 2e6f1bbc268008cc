// topology.md: which VM sits on which Proxmox host, how full each host is, where the disks live,
// and what survives the loss of each host.
import type { ProxmoxHostSpec, ProxmoxPlan, VmSpec } from "./plan";
import { hostLoads } from "./placement";

export interface HostLoss {
    readonly host: string;
    readonly lost: readonly string[];
    readonly controlPlaneLeft: number;
    readonly controlPlaneTotal: number;
    /** etcd keeps a majority of its members. */
    readonly quorum: boolean;
    readonly workersLeft: number;
    readonly infraLeft: number;
}

export function hostLosses(hosts: readonly ProxmoxHostSpec[], vms: readonly VmSpec[]): HostLoss[] {
    const count = (role: VmSpec["role"], host?: string) =>
        vms.filter((vm) => vm.role === role && (host === undefined || vm.host !== host)).length;
    return hosts.map(({ name }) => {
        const controlPlaneLeft = count("controlPlane", name);
        const controlPlaneTotal = count("controlPlane");
        return {
            host: name,
            lost: vms.filter((vm) => vm.host === name).map((vm) => vm.name),
            controlPlaneLeft,
            controlPlaneTotal,
            quorum: controlPlaneLeft > controlPlaneTotal / 2,
            workersLeft: count("workers", name),
            infraLeft: count("infra", name),
        };
    });
}

export function topologyMarkdown(plan: ProxmoxPlan): string {
    const { environment, hosts, vms } = plan;
    const allInOne = !vms.some((vm) => vm.role === "workers");
    const lines = [
        `# Topology of the ${environment} stack`,
        "",
        "| VM | role | Proxmox host | address | VM ID | vCPU | memory (MiB) |",
        "|---|---|---|---|---|---|---|",
        ...vms.map((vm) => `| ${vm.fqdn} | ${vm.role} | ${vm.host} | ${vm.address} | ${vm.vmId} | ${vm.cores} | ${vm.memoryMiB} |`),
        "",
        "```mermaid",
        "flowchart TB",
        ...hosts.flatMap((host) => [
            `  subgraph ${mermaidId(host.name)}["${host.name} (${host.cores} cores, ${host.memoryGiB} GiB)"]`,
            ...vms
                .filter((vm) => vm.host === host.name)
                .map((vm) => `    ${mermaidId(vm.name)}["${vm.name}<br/>${vm.role}<br/>${vm.address}"]`),
            "  end",
        ]),
        "```",
        "",
        ...capacitySection(plan),
        ...storageSection(plan),
        "## Losing one Proxmox host",
        "",
        "| host lost | VMs lost | control plane left | etcd quorum | workers left | infra VMs left |",
        "|---|---|---|---|---|---|",
        ...hostLosses(hosts, vms).map(
            (loss) =>
                `| ${loss.host} | ${loss.lost.join(", ") || "none"} | ${loss.controlPlaneLeft}/${loss.controlPlaneTotal} | ` +
                `${loss.quorum ? "kept" : "**lost**"} | ${allInOne ? "n/a (all-in-one)" : loss.workersLeft} | ${loss.infraLeft} |`,
        ),
        "",
    ];
    return lines.join("\n");
}

function capacitySection({ hosts, vms, capacity }: ProxmoxPlan): string[] {
    return [
        "## Capacity per host",
        "",
        `Usable: cores x ${capacity.cpuOvercommit} (proxmox.cpuOvercommit) vCPUs, memory less ${capacity.memoryReserveGiB} GiB (proxmox.memoryReserveGiB).`,
        "",
        "| host | vCPUs placed / usable | memory placed / usable (MiB) |",
        "|---|---|---|",
        // The same sums the plan's capacity check makes (placement.ts hostLoads).
        ...hostLoads(
            hosts.map((host) => ({ name: host.name, cores: host.cores, memoryMiB: host.memoryGiB * 1024 })),
            vms.map((vm) => ({ name: vm.name, role: vm.role, cores: vm.cores, memoryMiB: vm.memoryMiB })),
            new Map(vms.map((vm) => [vm.name, vm.host])),
            { strictRoles: new Set(), memoryReserveMiB: capacity.memoryReserveGiB * 1024, cpuOvercommit: capacity.cpuOvercommit },
        ).map((load) => `| ${load.host} | ${load.cores} / ${load.usableCores} | ${load.memoryMiB} / ${load.usableMemoryMiB} |`),
        "",
    ];
}

function storageSection({ datastores, templates }: ProxmoxPlan): string[] {
    const where = (shared: boolean) => (shared ? "shared by every host" : "local to each host");
    return [
        "## Storage",
        "",
        `- VM disks: ${datastores.disks.id} (${datastores.disks.type}, ${where(datastores.disks.shared)}); templates: ${templates.map((t) => `${t.name} (${t.vmId}) on ${t.host}`).join(", ")}`,
        `- cloud image: ${datastores.images.id} (${datastores.images.type}, ${where(datastores.images.shared)})`,
        `- cloud-init snippets: ${datastores.snippets.id} (${datastores.snippets.type}, ${where(datastores.snippets.shared)})`,
        "",
    ];
}

function mermaidId(name: string): string {
    return name.replace(/[^A-Za-z0-9_]/g, "_");
}
