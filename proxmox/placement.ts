// Anti-affinity placement of VMs on Proxmox hosts: plain data in, plain data out.
//
// The rules, in order of priority, for each VM of a role:
//   1. spread: the host that carries the fewest VMs of this role so far;
//   2. capacity: among those, the host whose memory would be the least used by this role,
//      relative to its size, so larger hosts take a larger share;
//   3. rotation: remaining ties go round the hosts starting at a different host for each role,
//      so the first infra VM, the first control-plane node and the first worker do not all
//      land on the first host.
// A VM's host depends only on the hosts and on the VMs of its own role that come before it.
// That is what makes placement stable: appending a VM to any role never moves an existing VM, and
// a VM removed from the middle keeps its place as a vacant slot, so removing one moves none either.
// The price is that roles are balanced against host capacity one at a time; the total is then
// checked against every host's capacity, and a host that would be overfilled is an error.

import { ROLES, type Role } from "../lib/conventions";

export interface PlacementHost {
    readonly name: string;
    readonly cores: number;
    readonly memoryMiB: number;
}

export interface PlacementVm {
    readonly name: string;
    readonly role: Role;
    readonly cores: number;
    readonly memoryMiB: number;
    /** Hosts this VM may run on; all hosts when absent. */
    readonly allowedHosts?: readonly string[];
    /**
     * A number of the role no VM has any longer (removed from the middle): placed as before, so that
     * the VMs after it keep their hosts, but left out of the result, the loads and the problems.
     */
    readonly vacant?: boolean;
}

export interface PlacementRules {
    /** Roles whose VMs must each sit on a different host. */
    readonly strictRoles: ReadonlySet<Role>;
    /** Memory kept free on every host for Proxmox itself (and the ZFS ARC). */
    readonly memoryReserveMiB: number;
    /** How many vCPUs may be scheduled per physical core. */
    readonly cpuOvercommit: number;
}

export interface HostLoad {
    readonly host: string;
    readonly vms: readonly string[];
    readonly cores: number;
    readonly memoryMiB: number;
    readonly usableCores: number;
    readonly usableMemoryMiB: number;
}

export class PlacementError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(problems.join("\n"));
        this.name = "PlacementError";
    }
}

/** Returns the host of every VM, keyed by VM name, in the order the VMs were given. */
export function placeVms(
    hosts: readonly PlacementHost[],
    vms: readonly PlacementVm[],
    rules: PlacementRules,
): Map<string, string> {
    if (hosts.length === 0) {
        throw new PlacementError(["there is no Proxmox host to place VMs on"]);
    }
    const hostIndex = new Map(hosts.map((host, index) => [host.name, index]));
    const placement = new Map<string, string>();
    const problems: string[] = [];

    for (const [roleOffset, role] of ROLES.entries()) {
        const roleCount = new Map<string, number>();
        const roleMemory = new Map<string, number>();
        // VMs really there (vacant slots left out): strict anti-affinity is about these alone, so a
        // host that holds only a vacant slot is free for a VM of a strict role.
        const realCount = new Map<string, number>();
        const strict = rules.strictRoles.has(role);
        for (const vm of vms.filter((candidate) => candidate.role === role)) {
            const allowed = vm.allowedHosts ?? hosts.map((host) => host.name);
            const eligible = hosts.filter((host) => allowed.includes(host.name));
            if (eligible.length === 0) {
                problems.push(`${vm.name}: none of its allowed hosts (${allowed.join(", ")}) is a Proxmox host`);
                continue;
            }
            const candidates = eligible.filter((host) => !(strict && !vm.vacant && (realCount.get(host.name) ?? 0) > 0));
            if (candidates.length === 0) {
                problems.push(`${vm.name}: strict anti-affinity for ${role} needs one host per VM, but all ${eligible.length} allowed hosts already carry one`);
                continue;
            }
            const rank = (host: PlacementHost) => {
                const index = hostIndex.get(host.name) ?? 0;
                return [
                    roleCount.get(host.name) ?? 0,
                    ((roleMemory.get(host.name) ?? 0) + vm.memoryMiB) / host.memoryMiB,
                    (index - (roleOffset % hosts.length) + hosts.length) % hosts.length,
                ];
            };
            const best = candidates.reduce((left, right) => (compareRanks(rank(right), rank(left)) < 0 ? right : left));
            placement.set(vm.name, best.name);
            if (!vm.vacant) realCount.set(best.name, (realCount.get(best.name) ?? 0) + 1);
            roleCount.set(best.name, (roleCount.get(best.name) ?? 0) + 1);
            roleMemory.set(best.name, (roleMemory.get(best.name) ?? 0) + vm.memoryMiB);
        }
    }
    if (problems.length > 0) {
        throw new PlacementError(problems);
    }
    return new Map(vms.filter((vm) => !vm.vacant).map((vm) => [vm.name, placement.get(vm.name) as string]));
}

function compareRanks(left: number[], right: number[]): number {
    for (let i = 0; i < left.length; i++) {
        const difference = (left[i] ?? 0) - (right[i] ?? 0);
        if (Math.abs(difference) > 1e-9) {
            return difference;
        }
    }
    return 0;
}

/** What each host carries under a placement, against what it can carry. */
export function hostLoads(
    hosts: readonly PlacementHost[],
    vms: readonly PlacementVm[],
    placement: ReadonlyMap<string, string>,
    rules: PlacementRules,
): HostLoad[] {
    return hosts.map((host) => {
        const placed = vms.filter((vm) => placement.get(vm.name) === host.name);
        return {
            host: host.name,
            vms: placed.map((vm) => vm.name),
            cores: placed.reduce((sum, vm) => sum + vm.cores, 0),
            memoryMiB: placed.reduce((sum, vm) => sum + vm.memoryMiB, 0),
            usableCores: host.cores * rules.cpuOvercommit,
            usableMemoryMiB: host.memoryMiB - rules.memoryReserveMiB,
        };
    });
}

/**
 * Groups the VMs of each host into launch lanes: a VM waits for the VM `parallel` places before it
 * on the same storage lock (the host, or the whole cluster when disks are on shared storage).
 * Proxmox takes a storage lock for the whole of a full clone; too many at once fail with
 * "can't lock file ... got timeout".
 */
export function cloneLanes(
    vmsInOrder: readonly string[],
    placement: ReadonlyMap<string, string>,
    parallel: number,
    sharedStorage: boolean,
): Map<string, string | undefined> {
    const queues = new Map<string, string[]>();
    const predecessor = new Map<string, string | undefined>();
    for (const vm of vmsInOrder) {
        const lock = sharedStorage ? "*" : (placement.get(vm) ?? "?");
        const queue = queues.get(lock) ?? [];
        predecessor.set(vm, queue.length >= parallel ? queue[queue.length - parallel] : undefined);
        queue.push(vm);
        queues.set(lock, queue);
    }
    return predecessor;
}

/**
 * Splits the VMs of one role into sets that each hold at most one VM per host, following the
 * placement: the first VM on every host, then the second, and so on. A negative
 * resource-affinity rule can only be satisfied for such a set, so each set of two or more VMs
 * becomes one rule. Roles with no more VMs than hosts give a single set.
 */
export function antiAffinitySets(vmsInOrder: readonly string[], placement: ReadonlyMap<string, string>): string[][] {
    const perHost = new Map<string, string[]>();
    for (const vm of vmsInOrder) {
        const host = placement.get(vm) ?? "?";
        perHost.set(host, [...(perHost.get(host) ?? []), vm]);
    }
    const depth = Math.max(0, ...[...perHost.values()].map((list) => list.length));
    const sets: string[][] = [];
    for (let slot = 0; slot < depth; slot++) {
        const members = vmsInOrder.filter((vm) => perHost.get(placement.get(vm) ?? "?")?.[slot] === vm);
        if (members.length >= 2) {
            sets.push(members);
        }
    }
    return sets;
}
