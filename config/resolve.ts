// Turns the raw stack configuration into typed, fully resolved values: every VM with its name,
// VM ID, address, MAC address and Proxmox host. Pure: no Pulumi engine needed, so every rule is
// unit-tested directly. All problems are collected and reported together.
import { createHash } from "crypto";
import { z } from "zod";
import { CALVER, loadChart } from "../apps/catalog";
import { capacityProblem, composeValues, effectiveValues, requested, type Profile } from "../apps/values";
import { compatibilityProblems, kubeVersionFor } from "../cluster/compatibility";
import { hostOf, ipToNumber, isInternalHost, isIpv4, networksOverlap, parseNetwork, type Ipv4Network } from "../lib/net";
import { hostLoads, placeVms, PlacementError, ROLES, type PlacementVm, type Role } from "../infra/placement";
import { generatedLabels, generateZone, relativeName, ZoneError, type ExtraRecord, type Zone } from "../dns/zone";
import { ConfigError, problem, show } from "./errors";
import {
    stackConfigSchema,
    THIN_DATASTORE_TYPES,
    type Environment,
    type RawStackConfig,
    type RoleConfig,
} from "./schema";

export { ConfigError } from "./errors";

/** Settings of the Proxmox provider, read from the `proxmoxve:` namespace. */
export interface ProviderSettings {
    readonly endpoint?: string;
    /** Checked for its shape only; it never appears in a message or in the resolved config. */
    readonly apiToken?: string;
    readonly insecure?: boolean;
}

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

export interface StackConfig {
    readonly environment: Environment;
    readonly domain: string;
    readonly internalDomains: readonly string[];
    readonly protectVms: boolean;
    readonly proxmox: Omit<RawStackConfig["proxmox"], "hosts"> & {
        readonly endpoint: string;
        readonly insecure: boolean;
        readonly hosts: readonly ProxmoxHostSpec[];
    };
    readonly image: RawStackConfig["image"] & { readonly checksum: string; readonly fileName: string };
    readonly network: {
        readonly cidr: string;
        readonly prefixLength: number;
        readonly gateway: string;
        readonly apiAddress: string;
        readonly ingressAddress: string;
        readonly dnsServers: readonly string[];
        readonly searchDomains: readonly string[];
        readonly ntpServers: readonly string[];
    };
    readonly adminUser: string;
    readonly cpuType: string;
    readonly templates: readonly TemplateSpec[];
    readonly vms: readonly VmSpec[];
    readonly mirrors: RawStackConfig["mirrors"];
    readonly pki: RawStackConfig["pki"];
    readonly dns: Omit<RawStackConfig["dns"], "extraRecords"> & {
        /** The zone synrc/ns serves, generated and checked while the config is resolved. */
        readonly zone: Zone;
    };
    readonly registry: RawStackConfig["registry"];
    readonly kubernetes: RawStackConfig["kubernetes"] & {
        /** kube_version as this Kubespray release expects it (with or without the "v"). */
        readonly kubeVersionForKubespray: string;
    };
    readonly apps: Omit<RawStackConfig["apps"], "profile" | "imageVersion"> & {
        readonly profile: Profile;
        readonly imageVersion: string;
        readonly chartVersion: string;
        /** The erp-uno values of this stack (overrides of the chart's defaults). */
        readonly values: Record<string, unknown>;
    };
    /** Names of the services on the first infra VM. */
    readonly services: { readonly registry: string; readonly charts: string; readonly files: string };
    /** Problems that do not stop a non-production stack (e.g. a public mirror in dev). */
    readonly warnings: readonly string[];
}

export const ROLE_TAGS: Record<Role, readonly string[]> = {
    infra: ["infra"],
    controlPlane: ["k8s-control-plane"],
    workers: ["k8s-worker"],
};

const DEFAULT_NAME_PREFIX: Record<Role, string> = {
    infra: "infra",
    controlPlane: "k8s-control",
    workers: "k8s-worker",
};

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const API_TOKEN = /^[^@\s!=]+@[^@\s!=]+![A-Za-z][A-Za-z0-9._-]*=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const LINUX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const CHECKSUM_HEX_LENGTH = { sha256: 64, sha512: 128 } as const;

export function isDnsDomain(value: string): boolean {
    const labels = value.split(".");
    return value.length <= 253 && labels.length >= 2 && labels.every((label) => DNS_LABEL.test(label));
}

/** Validates `raw` (the `erpdc:*` keys) and `provider` (the `proxmoxve:*` keys). Throws ConfigError. */
export function resolveStackConfig(raw: unknown, provider: ProviderSettings): StackConfig {
    const parsed = stackConfigSchema.safeParse(raw, { reportInput: true });
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map(describeSchemaIssue));
    }
    return new Resolver(parsed.data, provider).resolve();
}

class Resolver {
    private readonly problems: string[] = [];
    private readonly warnings: string[] = [];
    private readonly production: boolean;
    private readonly internalDomains: string[];

    constructor(
        private readonly config: RawStackConfig,
        private readonly provider: ProviderSettings,
    ) {
        this.production = config.environment === "production";
        this.internalDomains = [config.domain, ...config.internalDomains];
    }

    resolve(): StackConfig {
        const { config } = this;
        this.checkDomain();
        this.checkProvider();
        this.checkProxmox();
        const network = this.checkNetwork();
        this.checkImage();
        this.checkMirrors();
        if (!LINUX_USER.test(config.vms.adminUser) || config.vms.adminUser === "root") {
            this.fail("vms.adminUser", config.vms.adminUser, "use a lowercase Linux user name other than root, e.g. erpadmin");
        }
        if (!DNS_LABEL.test(config.vms.template.name)) {
            this.fail("vms.template.name", config.vms.template.name, "use a DNS label (lowercase letters, digits, hyphens)");
        }
        const vms = network ? this.expandVms(network) : [];
        this.checkUniqueness(vms);
        this.checkServiceAddresses(vms);
        this.checkInfraServices();
        if (network) {
            this.checkKubernetes(network, vms);
        }
        const apps = this.resolveApps(vms);
        if (this.problems.length > 0) {
            throw new ConfigError(this.problems);
        }
        const placed = this.place(vms);
        if (this.problems.length > 0) {
            throw new ConfigError(this.problems);
        }
        const templates = this.templates(placed);
        this.checkUniqueVmIds(placed, templates);
        if (this.problems.length > 0 || !network) {
            throw new ConfigError(this.problems);
        }
        const infraAddresses = placed.filter((vm) => vm.role === "infra").map((vm) => vm.address);
        const zone = this.zone(placed);
        if (this.problems.length > 0 || zone === undefined) {
            throw new ConfigError(this.problems);
        }
        const { extraRecords: _extraRecords, ...dnsSettings } = config.dns;
        if (apps === undefined) {
            throw new ConfigError(this.problems);
        }
        return {
            environment: config.environment,
            domain: config.domain,
            internalDomains: this.internalDomains,
            protectVms: config.protectVms ?? this.production,
            proxmox: {
                ...config.proxmox,
                endpoint: this.provider.endpoint as string,
                insecure: this.provider.insecure ?? false,
                hosts: config.proxmox.hosts,
            },
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
                dnsServers: config.network.dnsServers ?? infraAddresses,
                searchDomains: [config.domain],
                ntpServers: config.network.ntpServers,
            },
            adminUser: config.vms.adminUser,
            cpuType: config.vms.cpuType,
            templates,
            vms: placed,
            mirrors: config.mirrors,
            pki: config.pki,
            dns: { ...dnsSettings, zone },
            registry: config.registry,
            kubernetes: {
                ...config.kubernetes,
                kubeVersionForKubespray: kubeVersionFor(config.kubernetes.kubesprayVersion, config.kubernetes.kubeVersion),
            },
            apps,
            services: {
                registry: `registry.${config.domain}`,
                charts: `charts.${config.domain}`,
                files: `files.${config.domain}`,
            },
            warnings: this.warnings,
        };
    }

    private fail(key: string, value: unknown, text: string): void {
        this.problems.push(problem(key, value, text));
    }

    /** A URL or host that must stay inside the contour: an error in production, a warning elsewhere. */
    private requireInternal(key: string, reference: string): void {
        const host = hostOf(reference);
        if (host === undefined || isInternalHost(host, this.internalDomains)) {
            return;
        }
        const message = problem(
            key,
            reference,
            `${host} is outside the closed contour; point it at the internal mirror under ${this.config.domain} ` +
                `(or a private address), or list its domain in internalDomains`,
        );
        (this.production ? this.problems : this.warnings).push(message);
    }

    private checkDomain(): void {
        const { domain, internalDomains } = this.config;
        if (!isDnsDomain(domain)) {
            this.fail("domain", domain, "not a DNS domain; use lowercase labels of letters, digits and hyphens, e.g. erp.uno");
        }
        internalDomains.forEach((entry, i) => {
            if (!isDnsDomain(entry)) {
                this.fail(`internalDomains[${i}]`, entry, "not a DNS domain; use e.g. mgmt.erp.uno");
            }
        });
        if (this.production && this.config.protectVms === false) {
            this.fail("protectVms", false, "production VMs are always protected; remove the key");
        }
    }

    private checkProvider(): void {
        const { endpoint, apiToken } = this.provider;
        if (endpoint === undefined) {
            this.fail(
                "proxmoxve:endpoint",
                undefined,
                `set it with \`pulumi config set proxmoxve:endpoint https://pve1.${this.config.domain}:8006/\``,
            );
        } else {
            let url: URL | undefined;
            try {
                url = new URL(endpoint);
            } catch {
                url = undefined;
            }
            if (url === undefined || url.protocol !== "https:") {
                this.fail("proxmoxve:endpoint", endpoint, "use the HTTPS URL of the Proxmox API, e.g. https://pve1.erp.uno:8006/");
            } else {
                this.requireInternal("proxmoxve:endpoint", endpoint);
            }
        }
        if (apiToken !== undefined && !API_TOKEN.test(apiToken)) {
            // Never echo the value: it is a secret even when it is malformed.
            this.problems.push(
                "proxmoxve:apiToken is malformed (value not shown): expected USER@REALM!TOKENID=UUID, e.g. " +
                    "pulumi@pve!erpdc=<uuid>; set it with `pulumi config set --secret proxmoxve:apiToken ...`",
            );
        }
    }

    private checkProxmox(): void {
        const { proxmox } = this.config;
        const names = new Map<string, number>();
        const addresses = new Map<string, number>();
        proxmox.hosts.forEach((host, i) => {
            const key = `proxmox.hosts[${i}]`;
            if (!DNS_LABEL.test(host.name)) {
                this.fail(`${key}.name`, host.name, "use the Proxmox node name, a DNS label (lowercase letters, digits, hyphens)");
            }
            if (names.has(host.name)) {
                this.fail(`${key}.name`, host.name, `proxmox.hosts[${names.get(host.name)}] has the same name; host names must be unique`);
            }
            names.set(host.name, i);
            if (!isIpv4(host.address)) {
                this.fail(`${key}.address`, host.address, "use the host's IPv4 management address (the provider uploads snippets to it over SSH)");
            } else if (addresses.has(host.address)) {
                this.fail(`${key}.address`, host.address, `proxmox.hosts[${addresses.get(host.address)}] has the same address; every host needs its own`);
            }
            addresses.set(host.address, i);
        });
        const diskType = proxmox.datastores.disks.type;
        if (!(THIN_DATASTORE_TYPES as readonly string[]).includes(diskType)) {
            this.fail(
                "proxmox.datastores.disks.type",
                diskType,
                `VM disks must be thin-provisioned; use an LVM-thin ("lvmthin") or ZFS ("zfspool") datastore`,
            );
        }
        if (proxmox.network.vlan !== undefined && (proxmox.network.vlan < 1 || proxmox.network.vlan > 4094)) {
            this.fail("proxmox.network.vlan", proxmox.network.vlan, "a VLAN ID is 1 to 4094; remove the key for an untagged bridge");
        }
        if (proxmox.haMode !== "none" && proxmox.hosts.length < 2) {
            this.fail("proxmox.haMode", proxmox.haMode, `HA needs at least two Proxmox hosts and there is ${proxmox.hosts.length}; set it to "none"`);
        }
    }

    private checkNetwork(): Ipv4Network | undefined {
        const { network: settings } = this.config;
        const network = parseNetwork(settings.cidr);
        if (network === undefined) {
            this.fail("network.cidr", settings.cidr, "use an IPv4 network with its host bits zero, e.g. 10.0.0.0/24");
        } else if (network.prefixLength > 29) {
            this.fail("network.cidr", settings.cidr, "the node network is too small; use /29 or larger");
        }
        if (!isIpv4(settings.gateway)) {
            this.fail("network.gateway", settings.gateway, "use an IPv4 address inside network.cidr, e.g. 10.0.0.1");
        } else if (network) {
            this.checkHostAddress("network.gateway", settings.gateway, network, undefined);
        }
        for (const key of ["apiAddress", "ingressAddress"] as const) {
            const address = settings[key];
            if (!isIpv4(address)) {
                this.fail(`network.${key}`, address, "use a free IPv4 address inside network.cidr");
            } else if (network) {
                this.checkHostAddress(`network.${key}`, address, network, settings.gateway);
            }
        }
        if (settings.apiAddress === settings.ingressAddress) {
            this.fail("network.ingressAddress", settings.ingressAddress, "network.apiAddress has it already; the API and the ingress need their own addresses");
        }
        (settings.dnsServers ?? []).forEach((server, i) => {
            if (!isIpv4(server)) {
                this.fail(`network.dnsServers[${i}]`, server, "use an IPv4 address, e.g. the infra VM's");
            } else {
                this.requireInternal(`network.dnsServers[${i}]`, server);
            }
        });
        settings.ntpServers.forEach((server, i) => {
            if (!isIpv4(server) && !isDnsDomain(server)) {
                this.fail(`network.ntpServers[${i}]`, server, "use an IPv4 address or a DNS name");
            } else {
                this.requireInternal(`network.ntpServers[${i}]`, server);
            }
        });
        return network && network.prefixLength <= 29 ? network : undefined;
    }

    private checkHostAddress(key: string, address: string, network: Ipv4Network, gateway: string | undefined): boolean {
        if (!network.contains(address)) {
            this.fail(key, address, `outside network.cidr ${network.cidr}; use an address inside it`);
        } else if (address === network.network) {
            this.fail(key, address, `is the network address of ${network.cidr}; use a host address`);
        } else if (address === network.broadcast) {
            this.fail(key, address, `is the broadcast address of ${network.cidr}; use a host address`);
        } else if (address === gateway) {
            this.fail(key, address, "is the gateway's address (network.gateway); give the VM its own");
        } else {
            return true;
        }
        return false;
    }

    private checkImage(): void {
        const { image } = this.config;
        if (!/^https?:\/\/[^/]+\/.+\.(img|qcow2|raw)$/.test(image.url)) {
            this.fail(
                "image.url",
                image.url,
                "use the http(s) URL of the Ubuntu 24.04 cloud image on the internal mirror, ending in .img, .qcow2 or .raw",
            );
        } else {
            this.requireInternal("image.url", image.url);
        }
        const length = CHECKSUM_HEX_LENGTH[image.checksumAlgorithm];
        if (image.checksum === undefined || image.checksum === "") {
            this.fail(
                "image.checksum",
                undefined,
                `Proxmox verifies the downloaded image against it; copy the ${image.checksumAlgorithm} line of the image from the mirror's SHA256SUMS`,
            );
        } else if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(image.checksum)) {
            this.fail("image.checksum", image.checksum, `a ${image.checksumAlgorithm} checksum is ${length} hexadecimal digits`);
        }
    }

    private checkMirrors(): void {
        const { mirrors } = this.config;
        for (const key of ["apt", "files", "charts"] as const) {
            if (!/^https?:\/\/[^/\s]+/.test(mirrors[key])) {
                this.fail(`mirrors.${key}`, mirrors[key], "use an http(s) URL of the internal mirror");
            } else {
                this.requireInternal(`mirrors.${key}`, mirrors[key]);
            }
        }
        if (!/^[a-z0-9.-]+(:\d{1,5})?$/.test(mirrors.registry)) {
            this.fail("mirrors.registry", mirrors.registry, `use host[:port] without a scheme, e.g. registry.${this.config.domain}`);
        } else {
            this.requireInternal("mirrors.registry", mirrors.registry);
        }
    }

    private expandVms(network: Ipv4Network): Omit<VmSpec, "host">[] {
        const { vms, domain, proxmox, environment } = this.config;
        const hostNames = new Set(proxmox.hosts.map((host) => host.name));
        const result: Omit<VmSpec, "host">[] = [];
        for (const role of ROLES) {
            const settings: RoleConfig = vms[role];
            const key = `vms.${role}`;
            if (!this.checkRoleCount(role, settings.count)) {
                continue;
            }
            const prefix = settings.namePrefix ?? DEFAULT_NAME_PREFIX[role];
            if (!DNS_LABEL.test(`${prefix}${Math.max(settings.count, 1)}`)) {
                this.fail(`${key}.namePrefix`, prefix, "VM names are the prefix plus a number and must be DNS labels; use lowercase letters, digits and hyphens");
            }
            if (settings.vmIdStart < 100 || settings.vmIdStart + settings.count - 1 > 999_999_999) {
                this.fail(`${key}.vmIdStart`, settings.vmIdStart, "Proxmox VM IDs run from 100 to 999999999");
            }
            if (settings.addresses.length !== settings.count) {
                this.fail(
                    `${key}.addresses`,
                    settings.addresses,
                    `lists ${settings.addresses.length} address(es) for ${key}.count ${settings.count}; give exactly one per VM, in order`,
                );
            }
            (settings.hosts ?? []).forEach((host, i) => {
                if (!hostNames.has(host)) {
                    this.fail(`${key}.hosts[${i}]`, host, `not a Proxmox host; use one of ${[...hostNames].join(", ")} (proxmox.hosts[].name)`);
                }
            });
            const allowed = settings.hosts ?? [...hostNames];
            if (role === "controlPlane" && proxmox.controlPlaneAntiAffinity === "strict" && settings.count > allowed.length) {
                this.fail(
                    `${key}.count`,
                    settings.count,
                    `strict anti-affinity puts each control-plane node on its own host, and only ${allowed.length} host(s) are allowed; ` +
                        `add Proxmox hosts, lower the count, or set proxmox.controlPlaneAntiAffinity to "preferred"`,
                );
            }
            for (let i = 0; i < settings.count; i++) {
                const address = settings.addresses[i];
                const name = `${prefix}${i + 1}`;
                if (address !== undefined) {
                    if (!isIpv4(address)) {
                        this.fail(`${key}.addresses[${i}]`, address, "not an IPv4 address");
                    } else {
                        this.checkHostAddress(`${key}.addresses[${i}]`, address, network, this.config.network.gateway);
                    }
                }
                result.push({
                    name,
                    fqdn: `${name}.${domain}`,
                    role,
                    ordinal: i + 1,
                    vmId: settings.vmIdStart + i,
                    address: address ?? "",
                    macAddress: macAddressFor(domain, name),
                    cores: settings.cores,
                    memoryMiB: settings.memoryMiB,
                    diskGiB: settings.diskGiB,
                    ...(settings.dataDiskGiB === undefined ? {} : { dataDiskGiB: settings.dataDiskGiB }),
                    tags: roleTags(role, vms.workers.count === 0, environment),
                });
            }
        }
        return result;
    }

    private checkRoleCount(role: Role, count: number): boolean {
        const key = `vms.${role}.count`;
        if (role === "controlPlane" && (count < 1 || count % 2 === 0)) {
            this.fail(key, count, "etcd runs on the control-plane nodes and needs an odd number (1, 3, 5)");
            return false;
        }
        if (role === "infra" && (count < 1 || count > 3)) {
            this.fail(key, count, "DNS, the registry and the chart server run on the infra VMs; use 1, or 2-3 for redundant DNS");
            return false;
        }
        if (count < 0 || count > 500) {
            this.fail(key, count, "use 0 to 500 (0 makes the control-plane nodes schedule workloads)");
            return false;
        }
        return true;
    }

    private checkUniqueness(vms: readonly Omit<VmSpec, "host">[]): void {
        const byName = new Map<string, string>();
        const byAddress = new Map<string, string>();
        for (const vm of vms) {
            const key = `vms.${vm.role}`;
            const sameName = byName.get(vm.name);
            if (sameName !== undefined) {
                this.fail(`${key}.namePrefix`, vm.name.replace(/\d+$/, ""), `gives ${vm.name}, which ${sameName} already has; give every role its own prefix`);
            }
            byName.set(vm.name, `${key} (${vm.name})`);
            const sameAddress = byAddress.get(vm.address);
            if (vm.address !== "" && sameAddress !== undefined) {
                this.fail(`${key}.addresses[${vm.ordinal - 1}]`, vm.address, `${sameAddress} has it already; give every VM its own address`);
            }
            byAddress.set(vm.address, vm.name);
        }
    }

    private checkUniqueVmIds(vms: readonly VmSpec[], templates: readonly TemplateSpec[]): void {
        const owners = new Map<number, string>();
        const claim = (vmId: number, owner: string, key: string) => {
            const previous = owners.get(vmId);
            if (previous !== undefined) {
                this.fail(key, vmId, `VM ID ${vmId} of ${owner} is already ${previous}'s; move the ranges of vmIdStart apart`);
            }
            owners.set(vmId, owner);
        };
        for (const template of templates) {
            claim(template.vmId, `the template on ${template.host}`, "vms.template.vmIdStart");
        }
        for (const vm of vms) {
            claim(vm.vmId, vm.name, `vms.${vm.role}.vmIdStart`);
        }
    }

    private place(vms: readonly Omit<VmSpec, "host">[]): VmSpec[] {
        const { proxmox } = this.config;
        const hosts = proxmox.hosts.map((host) => ({ name: host.name, cores: host.cores, memoryMiB: host.memoryGiB * 1024 }));
        const rules = {
            strictRoles: new Set<Role>(proxmox.controlPlaneAntiAffinity === "strict" ? ["controlPlane"] : []),
            memoryReserveMiB: proxmox.memoryReserveGiB * 1024,
            cpuOvercommit: proxmox.cpuOvercommit,
        };
        const requests: PlacementVm[] = vms.map((vm) => {
            const allowedHosts = this.config.vms[vm.role].hosts;
            return { name: vm.name, role: vm.role, cores: vm.cores, memoryMiB: vm.memoryMiB, ...(allowedHosts ? { allowedHosts } : {}) };
        });
        let placement: Map<string, string>;
        try {
            placement = placeVms(hosts, requests, rules);
        } catch (error) {
            if (error instanceof PlacementError) {
                this.problems.push(...error.problems.map((text) => `placement: ${text}; add Proxmox hosts or relax vms.<role>.hosts`));
                return [];
            }
            throw error;
        }
        hostLoads(hosts, requests, placement, rules).forEach((load, i) => {
            const key = `proxmox.hosts[${i}] (${load.host})`;
            if (load.memoryMiB > load.usableMemoryMiB) {
                this.problems.push(
                    `${key} is over capacity: the placement puts ${load.vms.join(", ")} there, ${load.memoryMiB} MiB of memory ` +
                        `against ${load.usableMemoryMiB} MiB usable (memoryGiB minus proxmox.memoryReserveGiB); ` +
                        `add a Proxmox host or lower vms.<role>.memoryMiB`,
                );
            }
            if (load.cores > load.usableCores) {
                this.problems.push(
                    `${key} is over capacity: the placement puts ${load.vms.join(", ")} there, ${load.cores} vCPUs ` +
                        `against ${load.usableCores} (cores x proxmox.cpuOvercommit ${proxmox.cpuOvercommit}); ` +
                        `add a Proxmox host or lower vms.<role>.cores`,
                );
            }
        });
        return vms.map((vm) => ({ ...vm, host: placement.get(vm.name) as string }));
    }

    private checkServiceAddresses(vms: readonly Omit<VmSpec, "host">[]): void {
        const { network, proxmox } = this.config;
        for (const key of ["apiAddress", "ingressAddress"] as const) {
            const owner = vms.find((vm) => vm.address === network[key]);
            if (owner) {
                this.fail(`network.${key}`, network[key], `${owner.name} has it already; give the ${key === "apiAddress" ? "API virtual IP" : "ingress"} a free address`);
            }
        }
        proxmox.hosts.forEach((host, i) => {
            const owner = vms.find((vm) => vm.address === host.address);
            if (owner) {
                this.fail(`vms.${owner.role}.addresses[${owner.ordinal - 1}]`, owner.address, `proxmox.hosts[${i}] (${host.name}) has it already; give the VM its own`);
            }
        });
    }

    private checkInfraServices(): void {
        const { dns, vms, registry } = this.config;
        if (vms.infra.dataDiskGiB === undefined) {
            this.fail("vms.infra.dataDiskGiB", undefined, "the registry, the chart repository and the files area live on the infra VM's data disk; set its size, e.g. 200");
        }
        this.checkTarball("dns.nsArtifact", dns.nsArtifact, "the synrc/ns release tarball");
        if (!/^[a-z][a-z0-9._-]{0,31}$/.test(registry.username)) {
            this.fail("registry.username", registry.username, "use a lowercase user name of letters, digits, dots, hyphens or underscores");
        }
        dns.extraRecords.forEach((record, i) => this.checkExtraRecord(`dns.extraRecords[${i}]`, record));
    }

    /** A tarball on the files mirror, pinned by sha256 (or, with a warning, by the mirror's SHA256SUMS). */
    private checkTarball(key: string, artifact: { readonly url: string; readonly sha256?: string | undefined }, what: string): void {
        if (!/^https?:\/\/[^/\s]+\/.+\.(tar\.gz|tgz)$/.test(artifact.url)) {
            this.fail(`${key}.url`, artifact.url, `use the http(s) URL of ${what} (.tar.gz) on the internal files mirror`);
        } else {
            this.requireInternal(`${key}.url`, artifact.url);
        }
        if (artifact.sha256 === undefined) {
            this.warnings.push(`${key}.sha256 is missing: ${what} is then only checked against the SHA256SUMS next to it on the mirror; pin its sha256`);
        } else if (!/^[0-9a-f]{64}$/.test(artifact.sha256)) {
            this.fail(`${key}.sha256`, artifact.sha256, "a sha256 checksum is 64 lowercase hexadecimal digits (sha256sum prints it)");
        }
    }

    private checkKubernetes(nodeNetwork: Ipv4Network, vms: readonly Omit<VmSpec, "host">[]): void {
        const { kubernetes: k8s, network, proxmox } = this.config;
        this.problems.push(...compatibilityProblems(k8s.kubesprayVersion, k8s.kubeVersion, k8s.ansibleCoreVersion));
        const networks: [string, Ipv4Network][] = [["network.cidr", nodeNetwork]];
        for (const key of ["podCidr", "serviceCidr"] as const) {
            const parsed = parseNetwork(k8s[key]);
            if (parsed === undefined) {
                this.fail(`kubernetes.${key}`, k8s[key], "use an IPv4 network with its host bits zero, e.g. 10.233.64.0/18");
                continue;
            }
            for (const [otherKey, other] of networks) {
                if (networksOverlap(parsed, other)) {
                    this.fail(`kubernetes.${key}`, k8s[key], `overlaps ${otherKey} ${other.cidr}; pods, services and nodes need separate networks`);
                }
            }
            networks.push([`kubernetes.${key}`, parsed]);
        }
        if (!isDnsDomain(k8s.clusterDomain)) {
            this.fail("kubernetes.clusterDomain", k8s.clusterDomain, "use a DNS domain such as cluster.local");
        }
        const pool = /^(\d+\.\d+\.\d+\.\d+)-(\d+\.\d+\.\d+\.\d+)$/.exec(k8s.metallbPool);
        const [first, last] = pool ? [pool[1] as string, pool[2] as string] : ["", ""];
        if (!pool || !isIpv4(first) || !isIpv4(last) || ipToNumber(first) > ipToNumber(last)) {
            this.fail("kubernetes.metallbPool", k8s.metallbPool, 'use a range "first-last" of IPv4 addresses, e.g. 10.0.0.30-10.0.0.49');
        } else if (!nodeNetwork.contains(first) || !nodeNetwork.contains(last) || first === nodeNetwork.network || last === nodeNetwork.broadcast) {
            this.fail("kubernetes.metallbPool", k8s.metallbPool, `MetalLB answers ARP on the node network, so the pool must lie inside network.cidr ${nodeNetwork.cidr}`);
        } else {
            const inPool = (address: string) => isIpv4(address) && ipToNumber(address) >= ipToNumber(first) && ipToNumber(address) <= ipToNumber(last);
            const taken = [
                ...vms.map((vm) => [vm.address, vm.name] as const),
                [network.gateway, "network.gateway"] as const,
                [network.apiAddress, "network.apiAddress"] as const,
                ...proxmox.hosts.map((host) => [host.address, host.name] as const),
            ].filter(([address]) => inPool(address));
            if (taken.length > 0) {
                this.fail("kubernetes.metallbPool", k8s.metallbPool, `holds ${taken.map(([address, owner]) => `${address} (${owner})`).join(", ")}; keep the pool clear of addresses in use`);
            }
            if (!inPool(network.ingressAddress)) {
                this.fail("kubernetes.metallbPool", k8s.metallbPool, `does not hold network.ingressAddress ${network.ingressAddress}; the ingress gets its LoadBalancer address from this pool`);
            }
        }
        this.checkTarball("kubernetes.kubespraySource", k8s.kubespraySource, "the Kubespray release tarball");
        if (!/^https?:\/\/[^/\s]+/.test(k8s.pythonIndexUrl)) {
            this.fail("kubernetes.pythonIndexUrl", k8s.pythonIndexUrl, "use the http(s) URL of the internal PyPI mirror's simple index");
        } else {
            this.requireInternal("kubernetes.pythonIndexUrl", k8s.pythonIndexUrl);
        }
    }

    private resolveApps(vms: readonly Omit<VmSpec, "host">[]): StackConfig["apps"] | undefined {
        const { apps, environment, domain } = this.config;
        const chart = loadChart();
        const profile: Profile = apps.profile ?? (environment === "dev" ? "light" : "full");
        const imageVersion = apps.imageVersion ?? chart.appVersion;
        if (!CALVER.test(imageVersion)) {
            this.fail("apps.imageVersion", imageVersion, "images carry calendar versions X.Y.Z (month 1-12), never latest; e.g. 2026.11.1");
        }
        if (!CALVER.test(chart.version)) {
            this.problems.push(`apps/charts/erp-uno/Chart.yaml version is "${chart.version}": the chart carries a calendar version X.Y.Z`);
        }
        if (apps.gitRepoUrl !== undefined) {
            if (!/^https?:\/\/[^/\s]+\/.+/.test(apps.gitRepoUrl)) {
                this.fail("apps.gitRepoUrl", apps.gitRepoUrl, "use the http(s) URL of the repository on the internal Git server");
            } else {
                this.requireInternal("apps.gitRepoUrl", apps.gitRepoUrl);
            }
        }
        if (!/^v\d+\.\d+\.\d+$/.test(apps.argocd.imageTag)) {
            this.fail("apps.argocd.imageTag", apps.argocd.imageTag, "use the ArgoCD release tag mirrored into the registry, e.g. v2.13.3");
        }
        if (!/^\d+\.\d+\.\d+$/.test(apps.argocd.chartVersion)) {
            this.fail("apps.argocd.chartVersion", apps.argocd.chartVersion, "use the argo-cd chart version published on the chart server, e.g. 7.7.11");
        }
        const values = composeValues(chart, { domain, environment, registry: `registry.${domain}`, imageVersion, profile });
        const nodes = vms.filter((vm) => (this.config.vms.workers.count > 0 ? vm.role === "workers" : vm.role === "controlPlane"));
        const shortfall = capacityProblem(requested(effectiveValues(chart, values)), nodes.map((vm) => ({ cores: vm.cores, memoryMiB: vm.memoryMiB })), profile);
        if (shortfall !== undefined) {
            this.problems.push(shortfall);
        }
        const { profile: _profile, imageVersion: _imageVersion, ...rest } = apps;
        return this.problems.length > 0 ? undefined : { ...rest, profile, imageVersion, chartVersion: chart.version, values };
    }

    private checkExtraRecord(key: string, record: ExtraRecord): void {
        const { domain } = this.config;
        const name = record.name;
        const relative = relativeName(name, domain);
        if (relative === name && name.includes(".") && !name.startsWith("_")) {
            this.fail(`${key}.name`, name, `is outside the domain ${domain}; use a name relative to it ("mail") or under it ("mail.${domain}")`);
            return;
        }
        const labels = relative === "@" ? [] : relative.split(".");
        if (!labels.every((label) => /^(?!-)[a-z0-9-]{1,63}(?<!-)$/.test(label) || /^_[a-z0-9-]{1,62}$/.test(label))) {
            this.fail(`${key}.name`, name, "not a DNS name; use lowercase labels of letters, digits and hyphens (SRV labels start with _)");
        }
    }

    private zone(vms: readonly VmSpec[]): Zone | undefined {
        const { config } = this;
        const domain = config.domain;
        const infra = vms.filter((vm) => vm.role === "infra");
        const generated = generatedLabels(vms.map((vm) => vm.name), infra.length);
        const extraRecords = config.dns.extraRecords.map((record, i) => {
            const relative = relativeName(record.name, domain);
            if (generated.has(relative)) {
                this.fail(`dns.extraRecords[${i}].name`, record.name, `${relative}.${domain} is generated from the inventory; choose another name`);
            }
            return { ...record, name: relative } as ExtraRecord;
        });
        if (this.problems.length > 0) {
            return undefined;
        }
        try {
            return generateZone({
                domain,
                ttl: config.dns.ttl,
                hosts: vms.map((vm) => ({ name: vm.name, address: vm.address, role: vm.role })),
                nameServers: infra.map((vm) => ({ name: vm.name, address: vm.address })),
                apiAddress: config.network.apiAddress,
                ingressAddress: config.network.ingressAddress,
                extraRecords,
            });
        } catch (error) {
            if (error instanceof ZoneError) {
                this.problems.push(...error.problems.map((text) => `dns.extraRecords: ${text}; fix the record in the stack config`));
                return undefined;
            }
            throw error;
        }
    }

    /** A template on every host that runs a VM, or one on the first host when disks are shared. */
    private templates(vms: readonly VmSpec[]): TemplateSpec[] {
        const { proxmox, vms: settings } = this.config;
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
}

function roleTags(role: Role, allInOne: boolean, environment: Environment): string[] {
    const roleTagsForVm = role === "controlPlane" && allInOne ? ["k8s-control-plane", "k8s-worker"] : ROLE_TAGS[role];
    return [...roleTagsForVm, `env-${environment}`];
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

export function imageFileName(url: string): string {
    const base = url.split("/").pop() ?? "cloud-image.img";
    return base.replace(/\.img$/, ".qcow2");
}

function describeSchemaIssue(issue: z.core.$ZodIssue): string {
    const key = issue.path.map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`)).join("");
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
        case "unrecognized_keys":
            return `${key || "the configuration"} has unknown key(s) ${issue.keys.map((k) => show(k)).join(", ")}: check the spelling against the README's configuration reference`;
        case "invalid_type":
            return input === undefined
                ? `${key} is missing: set it in Pulumi.<stack>.yaml (see the README's configuration reference)`
                : `${key} is ${show(input)}: expected ${issue.expected}`;
        case "invalid_value":
            return `${key} is ${show(input)}: use one of ${issue.values.map((v) => show(v)).join(", ")}`;
        case "too_small":
        case "too_big":
        default:
            return `${key} is ${show(input)}: ${issue.message.toLowerCase()}`;
    }
}
