// The Proxmox layer's plan: the provider settings, the hosts, the cloud image, the node network,
// every VM (name, ID, address, MAC, host) and the templates. Pure: config in, model out, every
// problem reported to the collector with the key, the value and the fix.
import type { Environment, ProviderSettings, StackConfig } from "../config";
import type { Problems } from "../config/problems";
import { DNS_LABEL, isDnsDomain } from "../lib/dnsNames";
import { isIpv4, parseNetwork, type Ipv4Network } from "../lib/net";
import { THIN_DATASTORE_TYPES } from "../config/schema";
import { checkHostAddress, checkServiceAddresses, checkUniqueVmIds, checkUniqueness, expandVms, placeVmsOnHosts } from "./vmPlan";
import type { Role } from "../lib/conventions";

export interface VmSpec {
    readonly name: string;
    readonly fqdn: string;
    readonly role: Role;
    /** 1-based position within the role. */
    readonly ordinal: number;
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

type ProxmoxConfig = StackConfig["proxmox"];

export interface ProxmoxPlan {
    readonly environment: Environment;
    readonly domain: string;
    readonly protectVms: boolean;
    readonly provider: { readonly endpoint: string; readonly insecure: boolean; readonly sshUsername: string };
    readonly hosts: readonly ProxmoxHostSpec[];
    readonly haMode: ProxmoxConfig["haMode"];
    readonly datastores: ProxmoxConfig["datastores"];
    readonly nic: ProxmoxConfig["network"];
    readonly clones: ProxmoxConfig["clones"];
    /** How much of each host the VMs may take (the capacity check and topology.md). */
    readonly capacity: { readonly memoryReserveGiB: number; readonly cpuOvercommit: number };
    readonly image: StackConfig["image"] & { readonly checksum: string; readonly fileName: string };
    readonly network: NodeNetwork;
    readonly aptMirror: string;
    readonly adminUser: string;
    readonly cpuType: string;
    readonly templates: readonly TemplateSpec[];
    readonly vms: readonly VmSpec[];
}

const API_TOKEN = /^[^@\s!=]+@[^@\s!=]+![A-Za-z][A-Za-z0-9._-]*=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const LINUX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const CHECKSUM_HEX_LENGTH = { sha256: 64, sha512: 128 } as const;

/**
 * The Proxmox model of the stack, or undefined when a problem in this layer leaves no sound model
 * (the problems are in the collector then).
 */
export function planProxmox(config: StackConfig, provider: ProviderSettings, problems: Problems, protectVms: boolean): ProxmoxPlan | undefined {
    const before = problems.count;
    checkProvider(config.domain, provider, problems);
    checkHosts(config.proxmox, problems);
    const network = checkNetwork(config.network, problems);
    checkImage(config.image, problems);
    problems.requireInternalUrl("mirrors.apt", config.mirrors.apt, "use an http(s) URL of the internal mirror");
    if (!LINUX_USER.test(config.vms.adminUser) || config.vms.adminUser === "root") {
        problems.fail("vms.adminUser", config.vms.adminUser, "use a lowercase Linux user name other than root, e.g. erpadmin");
    }
    if (!DNS_LABEL.test(config.vms.template.name)) {
        problems.fail("vms.template.name", config.vms.template.name, "use a DNS label (lowercase letters, digits, hyphens)");
    }
    const unplaced = network ? expandVms(config, network, problems) : [];
    checkUniqueness(unplaced, problems);
    checkServiceAddresses(config, unplaced, problems);
    if (problems.count > before || network === undefined) {
        return undefined;
    }
    const vms = placeVmsOnHosts(config.proxmox, config.vms, unplaced, problems);
    if (problems.count > before) {
        return undefined;
    }
    const templates = planTemplates(config, vms);
    checkUniqueVmIds(vms, templates, problems);
    if (problems.count > before) {
        return undefined;
    }
    return {
        environment: config.environment,
        domain: config.domain,
        protectVms,
        provider: { endpoint: provider.endpoint as string, insecure: provider.insecure ?? false, sshUsername: config.proxmox.ssh.username },
        hosts: config.proxmox.hosts,
        haMode: config.proxmox.haMode,
        datastores: config.proxmox.datastores,
        nic: config.proxmox.network,
        clones: config.proxmox.clones,
        capacity: { memoryReserveGiB: config.proxmox.memoryReserveGiB, cpuOvercommit: config.proxmox.cpuOvercommit },
        image: {
            ...config.image,
            checksum: (config.image.checksum as string).toLowerCase(),
            // Proxmox's "import" content type accepts .qcow2/.raw/.vmdk; Ubuntu's .img is qcow2.
            fileName: imageFileName(config.image.url),
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
    };
}

function checkProvider(domain: string, provider: ProviderSettings, problems: Problems): void {
    const { endpoint, apiToken } = provider;
    if (endpoint === undefined) {
        problems.fail("proxmoxve:endpoint", undefined, `set it with \`pulumi config set proxmoxve:endpoint https://pve1.${domain}:8006/\``);
    } else {
        let url: URL | undefined;
        try {
            url = new URL(endpoint);
        } catch {
            url = undefined;
        }
        if (url === undefined || url.protocol !== "https:") {
            problems.fail("proxmoxve:endpoint", endpoint, "use the HTTPS URL of the Proxmox API, e.g. https://pve1.erp.uno:8006/");
        } else {
            problems.requireInternal("proxmoxve:endpoint", endpoint);
        }
    }
    if (apiToken === undefined) {
        problems.add(
            "proxmoxve:apiToken is missing: create an API token in Proxmox and store it with " +
                "`pulumi config set --secret proxmoxve:apiToken 'pulumi@pve!erpdc=<uuid>'`",
        );
    } else if (!API_TOKEN.test(apiToken)) {
        // Never echo the value: it is a secret even when it is malformed.
        problems.add(
            "proxmoxve:apiToken is malformed (value not shown): expected USER@REALM!TOKENID=UUID, e.g. " +
                "pulumi@pve!erpdc=<uuid>; set it with `pulumi config set --secret proxmoxve:apiToken ...`",
        );
    }
}

function checkHosts(proxmox: ProxmoxConfig, problems: Problems): void {
    const names = new Map<string, number>();
    const addresses = new Map<string, number>();
    proxmox.hosts.forEach((host, i) => {
        const key = `proxmox.hosts[${i}]`;
        if (!DNS_LABEL.test(host.name)) {
            problems.fail(`${key}.name`, host.name, "use the Proxmox node name, a DNS label (lowercase letters, digits, hyphens)");
        }
        if (names.has(host.name)) {
            problems.fail(`${key}.name`, host.name, `proxmox.hosts[${names.get(host.name)}] has the same name; host names must be unique`);
        }
        names.set(host.name, i);
        if (!isIpv4(host.address)) {
            problems.fail(`${key}.address`, host.address, "use the host's IPv4 management address (the provider uploads snippets to it over SSH)");
        } else if (addresses.has(host.address)) {
            problems.fail(`${key}.address`, host.address, `proxmox.hosts[${addresses.get(host.address)}] has the same address; every host needs its own`);
        }
        addresses.set(host.address, i);
    });
    const diskType = proxmox.datastores.disks.type;
    if (!(THIN_DATASTORE_TYPES as readonly string[]).includes(diskType)) {
        problems.fail(
            "proxmox.datastores.disks.type",
            diskType,
            `VM disks must be thin-provisioned; use an LVM-thin ("lvmthin") or ZFS ("zfspool") datastore`,
        );
    }
    if (proxmox.network.vlan !== undefined && (proxmox.network.vlan < 1 || proxmox.network.vlan > 4094)) {
        problems.fail("proxmox.network.vlan", proxmox.network.vlan, "a VLAN ID is 1 to 4094; remove the key for an untagged bridge");
    }
    if (proxmox.haMode !== "none" && proxmox.hosts.length < 2) {
        problems.fail("proxmox.haMode", proxmox.haMode, `HA needs at least two Proxmox hosts and there is ${proxmox.hosts.length}; set it to "none"`);
    }
}

/** The node network, when `network.cidr` is a usable one; the other addresses are checked against it. */
function checkNetwork(settings: StackConfig["network"], problems: Problems): Ipv4Network | undefined {
    const network = parseNetwork(settings.cidr);
    if (network === undefined) {
        problems.fail("network.cidr", settings.cidr, "use an IPv4 network with its host bits zero, e.g. 10.0.0.0/24");
    } else if (network.prefixLength > 29) {
        problems.fail("network.cidr", settings.cidr, "the node network is too small; use /29 or larger");
    }
    if (!isIpv4(settings.gateway)) {
        problems.fail("network.gateway", settings.gateway, "use an IPv4 address inside network.cidr, e.g. 10.0.0.1");
    } else if (network) {
        checkHostAddress("network.gateway", settings.gateway, network, undefined, problems);
    }
    for (const key of ["apiAddress", "ingressAddress"] as const) {
        const address = settings[key];
        if (!isIpv4(address)) {
            problems.fail(`network.${key}`, address, "use a free IPv4 address inside network.cidr");
        } else if (network) {
            checkHostAddress(`network.${key}`, address, network, settings.gateway, problems);
        }
    }
    if (settings.apiAddress === settings.ingressAddress) {
        problems.fail("network.ingressAddress", settings.ingressAddress, "network.apiAddress has it already; the API and the ingress need their own addresses");
    }
    (settings.dnsServers ?? []).forEach((server, i) => {
        if (!isIpv4(server)) {
            problems.fail(`network.dnsServers[${i}]`, server, "use an IPv4 address, e.g. the infra VM's");
        } else {
            problems.requireInternal(`network.dnsServers[${i}]`, server);
        }
    });
    settings.ntpServers.forEach((server, i) => {
        if (!isIpv4(server) && !isDnsDomain(server)) {
            problems.fail(`network.ntpServers[${i}]`, server, "use an IPv4 address or a DNS name");
        } else {
            problems.requireInternal(`network.ntpServers[${i}]`, server);
        }
    });
    return network && network.prefixLength <= 29 ? network : undefined;
}

function checkImage(image: StackConfig["image"], problems: Problems): void {
    problems.requireInternalUrl(
        "image.url",
        image.url,
        "use the http(s) URL of the Ubuntu 24.04 cloud image on the internal mirror, ending in .img, .qcow2 or .raw",
        /^https?:\/\/[^/]+\/.+\.(img|qcow2|raw)$/,
    );
    const length = CHECKSUM_HEX_LENGTH[image.checksumAlgorithm];
    if (image.checksum === undefined || image.checksum === "") {
        problems.fail(
            "image.checksum",
            undefined,
            `Proxmox verifies the downloaded image against it; copy the ${image.checksumAlgorithm} line of the image from the mirror's SHA256SUMS`,
        );
    } else if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(image.checksum)) {
        problems.fail("image.checksum", image.checksum, `a ${image.checksumAlgorithm} checksum is ${length} hexadecimal digits`);
    }
}

/** A template on every host that runs a VM, or one on the first host when disks are shared. */
function planTemplates(config: StackConfig, vms: readonly VmSpec[]): TemplateSpec[] {
    const { proxmox, vms: settings } = config;
    const used = new Set(vms.map((vm) => vm.host));
    return proxmox.hosts
        .map((host, index) => ({ host: host.name, index }))
        .filter(({ host, index }) => (proxmox.datastores.disks.shared ? index === 0 : used.has(host)))
        .map(({ host, index }) => ({
            host,
            // The host's position, not its name, picks the ID: keep proxmox.hosts append-only.
            vmId: settings.template.vmIdStart + index,
            name: proxmox.datastores.disks.shared ? settings.template.name : `${settings.template.name}-${host}`,
            diskGiB: settings.template.diskGiB,
        }));
}

export function imageFileName(url: string): string {
    const base = url.split("/").pop() ?? "cloud-image.img";
    return base.replace(/\.img$/, ".qcow2");
}

