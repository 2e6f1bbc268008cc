// The Proxmox layer's plan: the provider settings, the hosts, the cloud image, the node network,
// every VM (name, ID, address, MAC, host) and the templates. Pure: config in, model out, every
// problem reported to the collector with the key, the value and the fix.
import type { Environment, ProviderSettings, StackConfig } from "../config";
import type { Problems } from "../config/problems";
import type { Role } from "../lib/conventions";
import { checkHosts, checkNetwork, checkSettings, checkTemplates } from "./checks";
import { STORAGE_TYPES, type StorageType } from "./facts";
import { survivalProblems } from "./topology";
import { checkServiceAddresses, checkUniqueVmIds, checkUniqueness, expandVms, placeVmsOnHosts } from "./vmPlan";

export interface VmSpec {
    readonly name: string;
    readonly fqdn: string;
    readonly role: Role;
    /** The VM's number within its role (1, 2, ...): its name ends with it and its VM ID is vmIdStart + number - 1. */
    readonly number: number;
    /** Where the VM's address is in the config, for messages (vms.workers.addresses[1], vms.workers.addresses.k8s-worker3). */
    readonly addressKey: string;
    readonly vmId: number;
    readonly address: string;
    readonly macAddress: string;
    readonly cores: number;
    readonly memoryMiB: number;
    readonly diskGiB: number;
    readonly dataDiskGiB?: number;
    readonly host: string;
    /** Proxmox tags: role and environment; operators and the other layers find VMs by them. */
    readonly tags: readonly string[];
}

export interface TemplateSpec {
    readonly host: string;
    readonly vmId: number;
    readonly name: string;
    readonly diskGiB: number;
}

export interface ProxmoxHostSpec {
    readonly name: string;
    readonly address: string;
    readonly cores: number;
    readonly memoryGiB: number;
}

export interface NodeNetwork {
    readonly cidr: string;
    readonly prefixLength: number;
    readonly gateway: string;
    readonly apiAddress: string;
    readonly ingressAddress: string;
    readonly dnsServers: readonly string[];
    readonly searchDomains: readonly string[];
    readonly ntpServers: readonly string[];
}

type ProxmoxSection = StackConfig["proxmox"];

export interface ProxmoxPlan {
    readonly environment: Environment;
    readonly domain: string;
    readonly protectVms: boolean;
    readonly provider: {
        readonly endpoint: string;
        readonly insecure: boolean;
        readonly sshUsername: string;
        /** True when no proxmoxve:sshPrivateKey is set: the provider then uses the SSH agent. */
        readonly sshAgent: boolean;
    };
    readonly hosts: readonly ProxmoxHostSpec[];
    readonly haMode: ProxmoxSection["haMode"];
    readonly datastores: ProxmoxSection["datastores"] & { readonly disks: { readonly shared: boolean } };
    readonly nic: ProxmoxSection["network"];
    readonly clones: ProxmoxSection["clones"];
    /** How much of each host the VMs may take (the capacity check and topology.md). */
    readonly capacity: { readonly memoryReserveGiB: number; readonly cpuOvercommit: number };
    readonly image: StackConfig["image"] & { readonly checksum: string; readonly fileName: string };
    readonly network: NodeNetwork;
    readonly aptMirror: string;
    readonly adminUser: string;
    readonly cpuType: string;
    readonly templates: readonly TemplateSpec[];
    readonly vms: readonly VmSpec[];
    /** VMs that keep running without their protections, so that the next edit may remove them. */
    readonly decommission: readonly string[];
}

/** What the Proxmox plan reads of the configuration. */
export type ProxmoxConfig = Pick<StackConfig, "environment" | "domain" | "proxmox" | "image" | "network" | "vms" | "mirrors">;

/** An address on the contour that belongs to a machine this program does not build (a mirror, an NTP server). */
export interface ReservedAddress {
    readonly address: string;
    /** The key that names it, e.g. "mirrors.apt". */
    readonly owner: string;
}

export interface ProxmoxPlanContext {
    readonly protectVms: boolean;
    readonly reserved: readonly ReservedAddress[];
}

/**
 * The Proxmox model of the stack, or undefined when a problem leaves no sound set of VMs (the
 * problems are in the collector then). Problems that do not touch the VMs' names, addresses or
 * placement (the image, the endpoint, the CPU type, ...) are reported without withholding the model,
 * so that the stages after this one still check what depends on it.
 */
export function planProxmox(config: ProxmoxConfig, provider: ProviderSettings, problems: Problems, context: ProxmoxPlanContext): ProxmoxPlan | undefined {
    checkSettings(config, provider, problems);
    const model = problems.scope();
    const hosts = model.scope();
    checkHosts(config.proxmox, hosts);
    const network = checkNetwork(config.network, config.proxmox.hosts, context.reserved, model);
    // With unsound hosts, the rules that count or name hosts would only repeat the hosts' problem.
    const unplaced = network ? expandVms(config, network, model, hosts.count === 0) : [];
    checkUniqueness(unplaced, model);
    checkServiceAddresses(config, unplaced, context.reserved, model);
    if (model.count > 0 || network === undefined) {
        return undefined;
    }
    const vms = placeVmsOnHosts(config.proxmox, config.vms, unplaced, model);
    if (model.count > 0) {
        return undefined;
    }
    config.vms.decommission.forEach((name, i) => {
        if (!vms.some((vm) => vm.name === name)) {
            problems.warn(`vms.decommission[${i}] is ${JSON.stringify(name)}: no planned VM has that name (any more); remove the entry once the VM is gone`);
        }
    });
    if (config.environment === "production") {
        // The same host-loss rows topology.md shows; dev (one host) is the documented exception.
        for (const [key, value, fix] of survivalProblems({ hosts: config.proxmox.hosts, vms, haMode: config.proxmox.haMode })) problems.fail(key, value, fix);
    }
    const templates = planTemplates(config, vms);
    checkTemplates(templates, config.vms, problems);
    checkUniqueVmIds(config.vms, vms, templates, model);
    if (model.count > 0) {
        return undefined;
    }
    return {
        environment: config.environment,
        domain: config.domain,
        protectVms: context.protectVms,
        provider: {
            endpoint: provider.endpoint ?? "",
            insecure: provider.insecure ?? false,
            sshUsername: config.proxmox.ssh.username,
            sshAgent: provider.sshPrivateKey === undefined,
        },
        hosts: config.proxmox.hosts,
        haMode: config.proxmox.haMode,
        datastores: { ...config.proxmox.datastores, disks: { ...config.proxmox.datastores.disks, shared: disksShared(config) } },
        nic: config.proxmox.network,
        clones: config.proxmox.clones,
        capacity: { memoryReserveGiB: config.proxmox.memoryReserveGiB, cpuOvercommit: config.proxmox.cpuOvercommit },
        image: {
            ...config.image,
            checksum: (config.image.checksum ?? "").toLowerCase(),
            // Proxmox's "import" content type accepts .qcow2/.raw/.vmdk; Ubuntu's .img is qcow2.
            fileName: imageFileName(config.image.url, config.image.checksum ?? ""),
        },
        network: {
            cidr: network.cidr,
            prefixLength: network.prefixLength,
            gateway: config.network.gateway,
            apiAddress: config.network.apiAddress,
            ingressAddress: config.network.ingressAddress,
            dnsServers: config.network.dnsServers ?? vms.filter((vm) => vm.role === "infra").map((vm) => vm.address),
            searchDomains: [config.domain],
            ntpServers: config.network.ntpServers,
        },
        aptMirror: config.mirrors.apt,
        adminUser: config.vms.adminUser,
        cpuType: config.vms.cpuType,
        templates,
        vms,
        decommission: config.vms.decommission,
    };
}

/** A template on every host that runs a VM, or one on the first host when disks are shared. */
function planTemplates(config: ProxmoxConfig, vms: readonly VmSpec[]): TemplateSpec[] {
    const { proxmox, vms: settings } = config;
    const used = new Set(vms.map((vm) => vm.host));
    return proxmox.hosts
        .map((host, index) => ({ host: host.name, index }))
        .filter(({ host, index }) => (disksShared(config) ? index === 0 : used.has(host)))
        .map(({ host, index }) => ({
            host,
            // The host's position, not its name, picks the ID: keep proxmox.hosts append-only.
            vmId: settings.template.vmIdStart + index,
            name: disksShared(config) ? settings.template.name : `${settings.template.name}-${host}`,
            diskGiB: settings.template.diskGiB,
        }));
}

/** VM disks on a storage every host sees (Ceph RBD): one template feeds every host's clones. */
function disksShared(config: ProxmoxConfig): boolean {
    return STORAGE_TYPES[config.proxmox.datastores.disks.type as StorageType]?.shared === "always";
}

/**
 * The image's file name on the datastore: its URL's name with the checksum's first 12 digits, so
 * that a new image is a new file beside the old one (the provider cannot replace a file in place:
 * "file already exists"), and ".qcow2" for ".img", the suffix Proxmox's import content accepts.
 */
export function imageFileName(url: string, checksum: string): string {
    const base = (url.split("/").pop() ?? "cloud-image.img").replace(/\.(img|qcow2|raw)$/, "");
    const suffix = /\.raw$/.test(url) ? ".raw" : ".qcow2";
    return `${base}-${checksum.slice(0, 12).toLowerCase()}${suffix}`;
}

