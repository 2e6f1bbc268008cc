// topology.md: which VM sits on which Proxmox host, how full each host is, where the disks live,
// and what survives the loss of each host.
import type { ProxmoxHostSpec, ProxmoxPlan, VmSpec } from "./plan";
import type { NodeBoundWorkload } from "../lib/workloads";
import { hostLoads } from "./placement";

export interface HostLoss {
    readonly host: string;
    readonly lost: readonly string[];
    readonly controlPlaneLeft: number;
    readonly controlPlaneTotal: number;
    /** etcd keeps a majority of its members. */
    readonly quorum: boolean;
    /** The API answers behind its virtual IP: a control-plane node is left and etcd has quorum. */
    readonly api: boolean;
    readonly workersLeft: number;
    /** ingress-nginx and erp-uno have a node to run on: a worker (a control-plane node when all-in-one). */
    readonly ingress: boolean;
    readonly infraLeft: number;
    /** DNS, the registry, the chart repository and the files area: every infra VM serves all four. */
    readonly infraServices: boolean;
    /** Per lost VM, the hosts PVE HA may restart it on (none without HA). */
    readonly restarts: Readonly<Record<string, readonly string[]>>;
    /** The lost nodes that run workloads (workers; control-plane nodes when all-in-one): their local-path volumes go with them. */
    readonly workloadNodesLost: readonly string[];
}

export type HaPlacement = Pick<ProxmoxPlan, "haMode">;

export function hostLosses(hosts: readonly ProxmoxHostSpec[], vms: readonly VmSpec[], ha: HaPlacement = { haMode: "none" }): HostLoss[] {
    const count = (role: VmSpec["role"], host?: string) =>
        vms.filter((vm) => vm.role === role && (host === undefined || vm.host !== host)).length;
    const allInOne = !vms.some((vm) => vm.role === "workers");
    return hosts.map(({ name }) => {
        const controlPlaneLeft = count("controlPlane", name);
        const controlPlaneTotal = count("controlPlane");
        const quorum = controlPlaneLeft > controlPlaneTotal / 2;
        const workersLeft = count("workers", name);
        const infraLeft = count("infra", name);
        const lost = vms.filter((vm) => vm.host === name);
        return {
            host: name,
            lost: lost.map((vm) => vm.name),
            controlPlaneLeft,
            controlPlaneTotal,
            quorum,
            api: quorum && controlPlaneLeft > 0,
            workersLeft,
            ingress: allInOne ? controlPlaneLeft > 0 : workersLeft > 0,
            infraLeft,
            infraServices: infraLeft > 0,
            restarts: Object.fromEntries(lost.map((vm) => [vm.name, restartHosts(vm, name, hosts, vms, ha)])),
            workloadNodesLost: lost.filter((vm) => vm.role === (allInOne ? "controlPlane" : "workers")).map((vm) => vm.name),
        };
    });
}

/**
 * Where PVE HA may start a VM whose host is gone: another host, and with "rules" one that holds no
 * other VM of its role (the negative resource-affinity rule, proxmox/ha.ts). The config check allows
 * HA only where that start can work (proxmox/checks.ts checkHa).
 */
function restartHosts(vm: VmSpec, lostHost: string, hosts: readonly ProxmoxHostSpec[], vms: readonly VmSpec[], ha: HaPlacement): string[] {
    if (ha.haMode === "none") return [];
    return hosts
        .map((host) => host.name)
        .filter((host) => host !== lostHost)
        .filter((host) => ha.haMode !== "rules" || !vms.some((other) => other.role === vm.role && other.name !== vm.name && other.host === host));
}

/**
 * What production must keep through the loss of any one host, as problems with the figures (the
 * same rows topology.md shows). Dev, on one host, is the documented exception; staging is not held to it.
 */
export function survivalProblems(plan: Pick<ProxmoxPlan, "hosts" | "vms" | "haMode">): [key: string, value: unknown, fix: string][] {
    const problems: [string, unknown, string][] = [];
    const infra = plan.vms.filter((vm) => vm.role === "infra");
    const stopped = (loss: HostLoss, role: VmSpec["role"]) => plan.vms.filter((vm) => vm.role === role && vm.host === loss.host).map((vm) => vm.name).join(", ");
    for (const loss of hostLosses(plan.hosts, plan.vms, plan)) {
        const intro = `production must survive the loss of any one Proxmox host, and losing ${loss.host} stops`;
        if (!loss.infraServices) {
            const fix =
                infra.length < 2
                    ? "run two infra VMs (vms.infra.count 2 with a second address): the placement puts them on separate hosts"
                    : "put the infra VMs on separate hosts (vms.infra.hosts lists where they may go)";
            // Two or more infra VMs share a host only when vms.infra.hosts allows no other.
            const [key, value] = infra.length < 2 ? ["vms.infra.count", infra.length] : ["vms.infra.hosts", [...new Set(infra.map((vm) => vm.host))]];
            problems.push([key, value, `${intro} ${stopped(loss, "infra")} (${infra.length - loss.infraLeft} of ${infra.length} infra VMs): DNS, the registry, the chart repository and the files area would have no server left; ${fix}`]);
        }
        if (!loss.api) {
            problems.push([
                "vms.controlPlane.count",
                loss.controlPlaneTotal,
                `${intro} ${stopped(loss, "controlPlane")}: etcd keeps ${loss.controlPlaneLeft} of ${loss.controlPlaneTotal} members, no majority, and the API stops; run three control-plane nodes (or five) with proxmox.controlPlaneAntiAffinity "strict"`,
            ]);
        }
        if (!loss.ingress) {
            problems.push(["vms.workers.count", plan.vms.filter((vm) => vm.role === "workers").length, `${intro} every worker (${stopped(loss, "workers")}): the ingress and erp-uno have no node left; spread the workers over the hosts (vms.workers.hosts) or add one`]);
        }
    }
    return problems;
}

/** topology.md; `nodeBound` are the erp-uno components whose state is on local-path volumes (apps/capacity.ts). */
export function topologyMarkdown(plan: ProxmoxPlan, nodeBound: readonly NodeBoundWorkload[] = []): string {
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
        "Every infra VM serves DNS, the registry, the chart repository and the files area; the API needs an etcd majority;",
        `the ingress needs a ${allInOne ? "control-plane node (all-in-one)" : "worker"}. HA: ${plan.haMode === "none" ? "none (proxmox.haMode), so a lost VM waits for its host" : `${plan.haMode}, restarting a lost VM on the hosts named`}.`,
        "erp-uno's state lives on local-path volumes, each on the node it was made on: the last column names the lost nodes whose volumes are unavailable until they are back (see below).",
        "",
        "| host lost | VMs lost | control plane left | etcd quorum | API | workers left | ingress | infra VMs left | DNS, registry, charts, files | HA restarts | erp-uno state unavailable with |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        ...hostLosses(hosts, vms, plan).map(
            (loss) =>
                `| ${loss.host} | ${loss.lost.join(", ") || "none"} | ${loss.controlPlaneLeft}/${loss.controlPlaneTotal} | ` +
                `${loss.quorum ? "kept" : "**lost**"} | ${serves(loss.api)} | ${allInOne ? "n/a (all-in-one)" : loss.workersLeft} | ${serves(loss.ingress)} | ${loss.infraLeft} | ${serves(loss.infraServices)} | ${restartsCell(loss)} | ` +
                `${loss.workloadNodesLost.length > 0 && nodeBound.length > 0 ? `volumes on ${loss.workloadNodesLost.join(", ")}` : "none"} |`,
        ),
        "",
        ...nodeBoundSection(nodeBound),
    ];
    return lines.join("\n");
}

function serves(up: boolean): string {
    return up ? "serves" : "**down**";
}

function restartsCell(loss: HostLoss): string {
    const entries = Object.entries(loss.restarts);
    if (entries.length === 0) return "–";
    return entries.map(([vm, targets]) => `${vm}: ${targets.length > 0 ? targets.join(" or ") : "no"}`).join("; ");
}

/**
 * Which erp-uno components a lost node takes state from. The scheduler picks the node when a
 * volume is first claimed and the chart only prefers to spread members apart, so the table says
 * what a component loses with the node holding a member, and how to see where each volume is.
 */
function nodeBoundSection(nodeBound: readonly NodeBoundWorkload[]): string[] {
    if (nodeBound.length === 0) return [];
    const consequence = (workload: NodeBoundWorkload) =>
        workload.kind === "Deployment"
            ? "stops: its one volume holds every pod to that node"
            : workload.members === 1
              ? "stops: its only member's volume is there"
              : `keeps its members on other nodes; stops if all ${workload.members} landed there (spread by preference only)`;
    return [
        "### erp-uno components with state on a node",
        "",
        "A member whose volume is on a lost node stays down until that node is back (the volume cannot move).",
        "Where each volume is: `kubectl get pv -o custom-columns=CLAIM:.spec.claimRef.namespace,NAME:.spec.claimRef.name,NODE:.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]`.",
        "",
        "| component | kind | members (most) | volume (GiB) | when the node holding a member is lost |",
        "|---|---|---|---|---|",
        ...nodeBound.map((workload) => `| ${workload.name} | ${workload.kind} | ${workload.members} | ${workload.volumeGiB} | ${consequence(workload)} |`),
        "",
    ];
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
