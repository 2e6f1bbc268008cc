// The VMs of the stack: expanded from the roles (name, VM ID, address, MAC), checked for clashes,
// and placed on the Proxmox hosts within their capacity. Pure functions over the config.
import { createHash } from "crypto";
import type { Problems } from "../config/problems";
import { environmentTag, ROLE_TAGS, ROLES, type Role } from "../lib/conventions";
import { DNS_LABEL } from "../lib/dnsNames";
import { isIpv4, type Ipv4Network } from "../lib/net";
import { VM_ID_RANGE } from "./facts";
import type { ProxmoxConfig, ReservedAddress, TemplateSpec, VmSpec } from "./plan";
import { hostLoads, placeVms, PlacementError, type PlacementVm } from "./placement";

/** A VM before placement: everything but its Proxmox host. */
export type UnplacedVm = Omit<VmSpec, "host">;

const DEFAULT_NAME_PREFIX: Record<Role, string> = {
    infra: "infra",
    controlPlane: "k8s-control",
    workers: "k8s-worker",
};

export function expandVms(config: ProxmoxConfig, network: Ipv4Network, problems: Problems, hostsSound = true): UnplacedVm[] {
    const { vms, domain, proxmox, environment } = config;
    const hostNames = new Set(proxmox.hosts.map((host) => host.name));
    const result: UnplacedVm[] = [];
    for (const role of ROLES) {
        const settings = vms[role];
        const key = `vms.${role}`;
        if (!checkRoleCount(role, settings.count, problems)) {
            continue;
        }
        const prefix = settings.namePrefix ?? DEFAULT_NAME_PREFIX[role];
        const numbered = numberedAddresses(key, prefix, settings.addresses, problems);
        const listed = Object.keys(settings.addresses).length;
        if (listed !== settings.count) {
            problems.fail(
                `${key}.addresses`,
                settings.addresses,
                `lists ${listed} address(es) for ${key}.count ${settings.count}; give exactly one per VM`,
            );
        }
        const highest = Math.max(settings.count, ...numbered.map((entry) => entry.number));
        if (!DNS_LABEL.test(`${prefix}${Math.max(highest, 1)}`)) {
            problems.fail(`${key}.namePrefix`, prefix, "VM names are the prefix plus a number and must be DNS labels; use lowercase letters, digits and hyphens");
        }
        if (settings.vmIdStart < VM_ID_RANGE.min || settings.vmIdStart + highest - 1 > VM_ID_RANGE.max) {
            problems.fail(`${key}.vmIdStart`, settings.vmIdStart, `Proxmox VM IDs run from ${VM_ID_RANGE.min} to ${VM_ID_RANGE.max}`);
        }
        (settings.hosts ?? []).forEach((host, i) => {
            if (hostsSound && !hostNames.has(host)) {
                problems.fail(`${key}.hosts[${i}]`, host, `not a Proxmox host; use one of ${[...hostNames].join(", ")} (proxmox.hosts[].name)`);
            }
        });
        const allowed = settings.hosts ?? [...hostNames];
        if (hostsSound && role === "controlPlane" && proxmox.controlPlaneAntiAffinity === "strict" && settings.count > allowed.length) {
            problems.fail(
                `${key}.count`,
                settings.count,
                `strict anti-affinity puts each control-plane node on its own host, and only ${allowed.length} host(s) are allowed; ` +
                    `add Proxmox hosts, lower the count, or set proxmox.controlPlaneAntiAffinity to "preferred"`,
            );
        }
        const tags = roleTags(role, vms.workers.count === 0, environment);
        for (const { number, address, addressKey } of numbered) {
            const name = `${prefix}${number}`;
            if (!isIpv4(address)) {
                problems.fail(addressKey, address, "not an IPv4 address");
            } else {
                checkHostAddress(addressKey, address, network, config.network.gateway, problems);
            }
            result.push({
                name,
                fqdn: `${name}.${domain}`,
                role,
                number,
                addressKey,
                vmId: settings.vmIdStart + number - 1,
                address,
                macAddress: macAddressFor(domain, name),
                cores: settings.cores,
                memoryMiB: settings.memoryMiB,
                diskGiB: settings.diskGiB,
                ...(settings.dataDiskGiB === undefined ? {} : { dataDiskGiB: settings.dataDiskGiB }),
                tags,
            });
        }
    }
    return result;
}

interface NumberedAddress {
    readonly number: number;
    readonly address: string;
    /** Where the address is in the config, for messages: vms.workers.addresses[1] or vms.workers.addresses.k8s-worker3. */
    readonly addressKey: string;
}

/**
 * A role's VMs by number. A list numbers them 1, 2, ... in order; a map from VM name to address
 * gives each its number in its name (<prefix><number>), so that removing one from the middle leaves
 * the others' names, VM IDs and MAC addresses as they were.
 */
function numberedAddresses(key: string, prefix: string, addresses: readonly string[] | Readonly<Record<string, string>>, problems: Problems): NumberedAddress[] {
    if (Array.isArray(addresses)) {
        return addresses.map((address, i) => ({ number: i + 1, address, addressKey: `${key}.addresses[${i}]` }));
    }
    const numbered: NumberedAddress[] = [];
    for (const [name, address] of Object.entries(addresses)) {
        const digits = name.startsWith(prefix) ? name.slice(prefix.length) : "";
        if (!/^[1-9][0-9]{0,5}$/.test(digits)) {
            problems.fail(`${key}.addresses.${name}`, address, `"${name}" is not a VM name of this role: use ${prefix} plus the VM's number (e.g. ${prefix}3), which also gives its VM ID`);
            continue;
        }
        numbered.push({ number: Number(digits), address, addressKey: `${key}.addresses.${name}` });
    }
    return numbered.sort((left, right) => left.number - right.number);
}

function checkRoleCount(role: Role, count: number, problems: Problems): boolean {
    const key = `vms.${role}.count`;
    if (role === "controlPlane" && (count < 1 || count % 2 === 0)) {
        problems.fail(key, count, "etcd runs on the control-plane nodes and needs an odd number (1, 3, 5)");
        return false;
    }
    if (role === "infra" && (count < 1 || count > 3)) {
        problems.fail(key, count, "DNS, the registry and the chart server run on the infra VMs; use 1, or 2-3 for redundant DNS");
        return false;
    }
    if (count < 0 || count > 500) {
        problems.fail(key, count, "use 0 to 500 (0 makes the control-plane nodes schedule workloads)");
        return false;
    }
    return true;
}

function roleTags(role: Role, allInOne: boolean, environment: string): string[] {
    const forRole = role === "controlPlane" && allInOne ? [...ROLE_TAGS.controlPlane, ...ROLE_TAGS.workers] : ROLE_TAGS[role];
    return [...forRole, environmentTag(environment)];
}

/**
 * A stable, locally administered unicast MAC address for a VM. The network-config matches the NIC
 * by it, so the address never depends on the order Proxmox enumerates devices in.
 */
export function macAddressFor(domain: string, name: string): string {
    const digest = createHash("sha256").update(`${domain}/${name}`).digest();
    const bytes = [0x02, ...digest.subarray(0, 5)];
    return bytes.map((byte) => byte.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

export function checkUniqueness(vms: readonly UnplacedVm[], problems: Problems): void {
    const byName = new Map<string, string>();
    const byAddress = new Map<string, string>();
    const reportedPrefixes = new Set<string>();
    for (const vm of vms) {
        const key = `vms.${vm.role}`;
        const sameName = byName.get(vm.name);
        if (sameName !== undefined && !reportedPrefixes.has(key)) {
            reportedPrefixes.add(key);
            problems.fail(`${key}.namePrefix`, vm.name.replace(/\d+$/, ""), `gives ${vm.name}, which ${sameName} already has; give every role its own prefix`);
        }
        byName.set(vm.name, `${key} (${vm.name})`);
        const sameAddress = byAddress.get(vm.address);
        if (vm.address !== "" && sameAddress !== undefined) {
            problems.fail(vm.addressKey, vm.address, `${sameAddress} has it already; give every VM its own address`);
        }
        byAddress.set(vm.address, vm.name);
    }
}

/** The API virtual IP, the ingress, the Proxmox hosts, the mirrors and NTP servers keep their addresses to themselves. */
export function checkServiceAddresses(config: ProxmoxConfig, vms: readonly UnplacedVm[], reserved: readonly ReservedAddress[], problems: Problems): void {
    const { network, proxmox } = config;
    for (const vm of vms.filter((candidate) => candidate.address !== network.gateway)) {
        // The gateway's address is reported as the gateway's, whatever else serves there.
        const owner = reserved.find((entry) => entry.address === vm.address);
        if (owner) {
            problems.fail(vm.addressKey, vm.address, `${owner.owner} uses it already; give ${vm.name} its own address`);
        }
    }
    for (const key of ["apiAddress", "ingressAddress"] as const) {
        const owner = vms.find((vm) => vm.address === network[key]);
        if (owner) {
            problems.fail(`network.${key}`, network[key], `${owner.name} has it already; give the ${key === "apiAddress" ? "API virtual IP" : "ingress"} a free address`);
        }
    }
    proxmox.hosts.forEach((host, i) => {
        const owner = vms.find((vm) => vm.address === host.address);
        if (owner) {
            problems.fail(owner.addressKey, owner.address, `proxmox.hosts[${i}] (${host.name}) has it already; give the VM its own`);
        }
    });
}

/** An address a host of the node network may take: inside it, and not its network, broadcast or gateway address. */
export function checkHostAddress(key: string, address: string, network: Ipv4Network, gateway: string | undefined, problems: Problems): void {
    if (!network.contains(address)) {
        problems.fail(key, address, `outside network.cidr ${network.cidr}; use an address inside it`);
    } else if (address === network.network) {
        problems.fail(key, address, `is the network address of ${network.cidr}; use a host address`);
    } else if (address === network.broadcast) {
        problems.fail(key, address, `is the broadcast address of ${network.cidr}; use a host address`);
    } else if (address === gateway) {
        problems.fail(key, address, "is the gateway's address (network.gateway); give the VM its own");
    }
}

/** Places every VM on a host (anti-affinity, capacity) and reports hosts that would be overfilled. */
export function placeVmsOnHosts(
    proxmox: ProxmoxConfig["proxmox"],
    roles: ProxmoxConfig["vms"],
    vms: readonly UnplacedVm[],
    problems: Problems,
): VmSpec[] {
    const hosts = proxmox.hosts.map((host) => ({ name: host.name, cores: host.cores, memoryMiB: host.memoryGiB * 1024 }));
    const rules = {
        strictRoles: new Set<Role>(proxmox.controlPlaneAntiAffinity === "strict" ? ["controlPlane"] : []),
        memoryReserveMiB: proxmox.memoryReserveGiB * 1024,
        cpuOvercommit: proxmox.cpuOvercommit,
    };
    const requests: PlacementVm[] = [];
    for (const role of ROLES) {
        const ofRole = vms.filter((vm) => vm.role === role);
        const allowedHosts = roles[role].hosts;
        const numbers = new Map(ofRole.map((vm) => [vm.number, vm]));
        // Numbers no VM has (removed from the middle of a map of addresses) stay in the rotation as vacant slots.
        for (let number = 1; number <= Math.max(0, ...numbers.keys()); number++) {
            const vm = numbers.get(number);
            const slot = vm
                ? { name: vm.name, cores: vm.cores, memoryMiB: vm.memoryMiB }
                : { name: `(vacant ${role} ${number})`, cores: roles[role].cores, memoryMiB: roles[role].memoryMiB, vacant: true };
            requests.push({ ...slot, role, ...(allowedHosts ? { allowedHosts } : {}) });
        }
    }
    let placement: Map<string, string>;
    try {
        placement = placeVms(hosts, requests, rules);
    } catch (error) {
        if (error instanceof PlacementError) {
            problems.add(...error.problems.map((text) => `placement: ${text}; add Proxmox hosts or relax vms.<role>.hosts`));
            return [];
        }
        throw error;
    }
    hostLoads(hosts, requests.filter((request) => !request.vacant), placement, rules).forEach((load, i) => {
        const key = `proxmox.hosts[${i}] (${load.host})`;
        if (load.memoryMiB > load.usableMemoryMiB) {
            problems.add(
                `${key} is over capacity: the placement puts ${load.vms.join(", ")} there, ${load.memoryMiB} MiB of memory ` +
                    `against ${load.usableMemoryMiB} MiB usable (memoryGiB minus proxmox.memoryReserveGiB); ` +
                    `add a Proxmox host or lower vms.<role>.memoryMiB`,
            );
        }
        if (load.cores > load.usableCores) {
            problems.add(
                `${key} is over capacity: the placement puts ${load.vms.join(", ")} there, ${load.cores} vCPUs ` +
                    `against ${load.usableCores} (cores x proxmox.cpuOvercommit ${proxmox.cpuOvercommit}); ` +
                    `add a Proxmox host or lower vms.<role>.cores`,
            );
        }
    });
    return vms.map((vm) => ({ ...vm, host: placement.get(vm.name) as string }));
}

/** No two VMs or templates share a VM ID; a clash is reported once per key, quoting that key's value. */
export function checkUniqueVmIds(roles: ProxmoxConfig["vms"], vms: readonly VmSpec[], templates: readonly TemplateSpec[], problems: Problems): void {
    const owners = new Map<number, string>();
    const reported = new Set<string>();
    const claim = (vmId: number, owner: string, key: string, value: number) => {
        const previous = owners.get(vmId);
        if (previous !== undefined && !reported.has(key)) {
            reported.add(key);
            problems.fail(key, value, `gives ${owner} VM ID ${vmId}, which is already ${previous}'s; move the ranges of vmIdStart apart`);
        }
        owners.set(vmId, owner);
    };
    for (const template of templates) {
        claim(template.vmId, `the template on ${template.host}`, "vms.template.vmIdStart", roles.template.vmIdStart);
    }
    for (const vm of vms) {
        claim(vm.vmId, vm.name, `vms.${vm.role}.vmIdStart`, roles[vm.role].vmIdStart);
    }
}
