// The Proxmox plan's rules about settings, hosts, datastores, the node network and the templates.
// Each fact about Proxmox or the provider comes from proxmox/facts.ts, where its source is cited.
import type { ProviderSettings, StackConfig } from "../config";
import type { Problems } from "../config/problems";
import { ROLES } from "../lib/conventions";
import { DNS_LABEL, isDnsDomain } from "../lib/dnsNames";
import { isIpv4, parseNetwork, type Ipv4Network } from "../lib/net";
import { ENDPOINT_FORM, isCpuType, isSystemAccount, STORAGE_ID, STORAGE_TYPE_NAMES, STORAGE_TYPES, storageTypesFor, THIN_DISK_TYPES, VM_ID_RANGE, type StorageType } from "./facts";
import type { ProxmoxConfig, ReservedAddress, TemplateSpec } from "./plan";
import { checkHostAddress } from "./vmPlan";

const API_TOKEN = /^[^@\s!=]+@[^@\s!=]+![A-Za-z][A-Za-z0-9._-]*=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const LINUX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const CHECKSUM_HEX_LENGTH = { sha256: 64, sha512: 128 } as const;
/**
 * At most three nameservers: kubelet hands pods no more than three (the resolv.conf limit of glibc's
 * MAXNS, which kubelet enforces for pods), though the VMs' own systemd-resolved would take more.
 */
const MAX_RESOLVERS = 3;

/** Settings that do not shape the VMs: the provider, the image, the mirror, users and CPU type, the datastores. */
export function checkSettings(config: ProxmoxConfig, provider: ProviderSettings, problems: Problems): void {
    checkProvider(config.domain, provider, config.proxmox.ssh.username, problems);
    if (provider.insecure && config.environment === "production") {
        problems.fail(
            "proxmoxve:insecure",
            true,
            "production verifies the Proxmox API's certificate; trust the cluster's CA instead (/etc/pve/pve-root-ca.pem, with SSL_CERT_FILE or the OS trust store, as the README says) and remove the key",
        );
    }
    if (provider.sshPrivateKey !== undefined && !/^-----BEGIN [A-Z ]*PRIVATE KEY-----\n[\s\S]+\n-----END [A-Z ]*PRIVATE KEY-----\s*$/.test(provider.sshPrivateKey)) {
        // Never echo the value: it is a secret even when it is malformed.
        problems.add(
            "proxmoxve:sshPrivateKey is malformed (value not shown): the provider needs an unencrypted private key in PEM or OpenSSH form; " +
                "set it with `pulumi config set --secret proxmoxve:sshPrivateKey < key`",
        );
    }
    checkDatastores(config.proxmox.datastores, problems);
    checkImage(config.image, problems);
    // cloud-init writes the mirror into apt's deb822 sources as the URIs field, whose values are
    // separated by whitespace (sources.list(5)): the URL's own grammar keeps a second source out.
    problems.requireInternalUrl("mirrors.apt", config.mirrors.apt, "use the http(s) URL of the Ubuntu archive's root on the internal mirror, e.g. http://10.0.0.2/ubuntu", {
        path: /^(?!.*\/(dists|pool)(\/|$))/,
        pathText: "the archive's root (the folder that holds dists/ and pool/)",
    });
    const { adminUser, cpuType, template } = config.vms;
    if (!LINUX_USER.test(adminUser) || adminUser === "root") {
        problems.fail("vms.adminUser", adminUser, "use a lowercase Linux user name other than root, e.g. erpadmin");
    } else if (isSystemAccount(adminUser)) {
        problems.fail("vms.adminUser", adminUser, "a system account on Ubuntu 24.04 or on the infra VMs already; cloud-init would give it a login and sudo. Use a name of its own, e.g. erpadmin");
    }
    if (!isCpuType(cpuType)) {
        problems.fail("vms.cpuType", cpuType, `not a CPU type Proxmox and the provider know; use a built-in model such as x86-64-v2-AES, x86-64-v3 or host, or custom-<name>`);
    }
    if (!DNS_LABEL.test(template.name)) {
        problems.fail("vms.template.name", template.name, "use a DNS label (lowercase letters, digits, hyphens)");
    }
    checkHa(config.proxmox, problems);
    if (config.proxmox.network.vlan !== undefined && (config.proxmox.network.vlan < 1 || config.proxmox.network.vlan > 4094)) {
        problems.fail("proxmox.network.vlan", config.proxmox.network.vlan, "a VLAN ID is 1 to 4094; remove the key for an untagged bridge");
    }
}

/**
 * HA only where it can restart a VM: PVE HA starts the VM on another host, which needs its disks
 * there (shared storage; the HA manager moves the config anyway and the start fails) and its
 * cloud-init snippets there (every start but a live migration's regenerates the cloud-init drive
 * from them: vm_start_nolock calls apply_cloudinit_config, qemu-server src/PVE/QemuServer.pm at
 * 9.2.6). And a host must keep quorum: of two hosts, the survivor has half the votes, no quorum,
 * and with HA services active its watchdog resets it (corosync votequorum; PVE's ha-manager fencing).
 */
function checkHa(proxmox: StackConfig["proxmox"], problems: Problems): void {
    const { haMode, hosts, datastores } = proxmox;
    if (haMode === "none") {
        return;
    }
    if (hosts.length < 2) {
        problems.fail("proxmox.haMode", haMode, `HA needs at least two Proxmox hosts and there is ${hosts.length}; set it to "none"`);
        return;
    }
    if (hosts.length === 2) {
        problems.fail(
            "proxmox.haMode",
            haMode,
            "with two Proxmox hosts, losing one leaves the other without quorum, and its HA watchdog resets it; add a third host (or a QDevice, which this program does not set up) or set it to \"none\"",
        );
    }
    const disks = datastores.disks;
    if ((STORAGE_TYPE_NAMES as string[]).includes(disks.type) && STORAGE_TYPES[disks.type as StorageType].shared !== "always") {
        problems.fail(
            "proxmox.haMode",
            haMode,
            `HA restarts a VM on another host, and the VM disks' storage ${disks.id} (${disks.type}) is local to each host, so the start there fails and strands the VM's config on that host; ` +
                'put the disks on shared storage (proxmox.datastores.disks of type rbd) or set it to "none" (the roles\' VMs on separate hosts carry a host loss)',
        );
    }
    const snippets = datastores.snippets;
    // `shared` agrees with the storage type once checkDatastores has passed (and says so when not).
    if (!snippets.shared) {
        problems.fail(
            "proxmox.haMode",
            haMode,
            `a VM restarted on another host rebuilds its cloud-init drive from its snippets, and the snippets' storage ${snippets.id} (${snippets.type}) is local to each host; ` +
                'put the snippets on shared storage (proxmox.datastores.snippets of type nfs, cifs or cephfs) or set it to "none"',
        );
    }
}

function checkProvider(domain: string, provider: ProviderSettings, sshUsername: string, problems: Problems): void {
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
            problems.fail("proxmoxve:endpoint", endpoint, `use the HTTPS URL of the Proxmox API, ${ENDPOINT_FORM}`);
        } else if (url.pathname !== "/" || url.search !== "" || url.hash !== "") {
            problems.fail("proxmoxve:endpoint", endpoint, `the provider adds /api2/json itself and drops any path; use ${url.protocol}//${url.host}/`);
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
    if (sshUsername.includes("@")) {
        problems.fail("proxmox.ssh.username", sshUsername, `the provider logs in to the hosts over SSH as a Linux user, not a Proxmox realm user; use ${sshUsername.split("@")[0]} (or root)`);
    } else if (!LINUX_USER.test(sshUsername)) {
        problems.fail("proxmox.ssh.username", sshUsername, "use a Linux user name on the Proxmox hosts, e.g. root");
    }
}

/** Each datastore's type can hold its content, and `shared` says what the type really is. */
function checkDatastores(datastores: StackConfig["proxmox"]["datastores"], problems: Problems): void {
    const uses = [
        ["disks", "images", "the VM disks"],
        ["images", "import", "the downloaded cloud image (content type import)"],
        ["snippets", "snippets", "the cloud-init snippets"],
    ] as const;
    for (const [name, content, what] of uses) {
        const store = datastores[name];
        const key = `proxmox.datastores.${name}`;
        if (store.id !== "" && !STORAGE_ID.test(store.id)) {
            problems.fail(`${key}.id`, store.id, "not a Proxmox storage ID (pve-storage-id: a letter, then letters, digits, -, _ or ., at least 2 characters); use the ID pvesm status shows, e.g. local-zfs");
        }
        if (!(STORAGE_TYPE_NAMES as string[]).includes(store.type)) {
            problems.fail(`${key}.type`, store.type, `not a Proxmox storage type; use one of ${storageTypesFor(content).join(", ")} (pvesm status shows each storage's type)`);
            continue;
        }
        const type = store.type as StorageType;
        if (name === "disks" && !THIN_DISK_TYPES.includes(type)) {
            problems.fail(`${key}.type`, type, 'VM disks must be thin-provisioned; use an LVM-thin ("lvmthin"), ZFS ("zfspool") or Ceph RBD ("rbd") datastore');
        } else if (!storageTypesFor(content).includes(type)) {
            problems.fail(`${key}.type`, type, `a ${type} storage cannot hold ${what}; use a storage of type ${storageTypesFor(content).join(", ")}`);
        }
        if (!("shared" in store)) {
            continue;
        }
        if (STORAGE_TYPES[type].shared === "never" && store.shared) {
            problems.fail(`${key}.shared`, true, `${type} storage is local to each host, never shared; set shared to false`);
        } else if (STORAGE_TYPES[type].shared === "always" && !store.shared) {
            problems.fail(`${key}.shared`, store.shared, `${type} storage is always shared by the hosts; set shared to true`);
        }
    }
}

function checkImage(image: StackConfig["image"], problems: Problems): void {
    problems.requireInternalUrl(
        "image.url",
        image.url,
        "use the http(s) URL of the Ubuntu 24.04 cloud image on the internal mirror, ending in .img, .qcow2 or .raw",
        { path: /^\/.+\.(img|qcow2|raw)$/, pathText: "an .img, .qcow2 or .raw file" },
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

/** Host names and addresses are unique and well-formed: placement and the provider's SSH rely on them. */
export function checkHosts(proxmox: StackConfig["proxmox"], problems: Problems): void {
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
}

/** The node network, when `network.cidr` is a usable one; the other addresses are checked against it. */
export function checkNetwork(
    settings: StackConfig["network"],
    hosts: StackConfig["proxmox"]["hosts"],
    reserved: readonly ReservedAddress[],
    problems: Problems,
): Ipv4Network | undefined {
    const parsed = parseNetwork(settings.cidr);
    if (parsed === undefined) {
        problems.fail("network.cidr", settings.cidr, "use an IPv4 network with its host bits zero, e.g. 10.0.0.0/24");
    } else if (parsed.prefixLength > 29) {
        problems.fail("network.cidr", settings.cidr, "the node network is too small; use /29 or larger");
    }
    // Addresses are judged against a usable network only: against a wrong one every address would be "outside".
    const network = parsed && parsed.prefixLength <= 29 ? parsed : undefined;
    if (!isIpv4(settings.gateway)) {
        problems.fail("network.gateway", settings.gateway, "use an IPv4 address inside network.cidr, e.g. 10.0.0.1");
    } else if (network) {
        checkHostAddress("network.gateway", settings.gateway, network, undefined, problems);
    }
    for (const key of ["apiAddress", "ingressAddress"] as const) {
        const address = settings[key];
        const what = key === "apiAddress" ? "API virtual IP" : "ingress";
        if (!isIpv4(address)) {
            problems.fail(`network.${key}`, address, "use a free IPv4 address inside network.cidr");
            continue;
        }
        if (network) checkHostAddress(`network.${key}`, address, network, settings.gateway, problems);
        const host = hosts.findIndex((candidate) => candidate.address === address);
        if (host >= 0) problems.fail(`network.${key}`, address, `proxmox.hosts[${host}] (${hosts[host]?.name}) has it already; give the ${what} a free address`);
        const owner = reserved.find((entry) => entry.address === address);
        if (owner) problems.fail(`network.${key}`, address, `${owner.owner} uses it already; give the ${what} a free address`);
    }
    if (settings.apiAddress === settings.ingressAddress) {
        problems.fail("network.ingressAddress", settings.ingressAddress, "network.apiAddress has it already; the API and the ingress need their own addresses");
    }
    checkResolvers(settings, problems);
    return network;
}

function checkResolvers(settings: StackConfig["network"], problems: Problems): void {
    const servers = settings.dnsServers;
    if (servers !== undefined && servers.length === 0) {
        problems.fail("network.dnsServers", servers, "an empty list leaves the VMs without a resolver; remove the key (the infra VMs resolve) or list the servers");
    }
    if (servers !== undefined && servers.length > MAX_RESOLVERS) {
        problems.fail("network.dnsServers", servers, `pods get at most ${MAX_RESOLVERS} nameservers (kubelet keeps to glibc's MAXNS) and would miss the rest; list at most ${MAX_RESOLVERS}`);
    }
    (servers ?? []).forEach((server, i) => {
        if (!isIpv4(server)) {
            problems.fail(`network.dnsServers[${i}]`, server, "use an IPv4 address, e.g. the infra VM's");
        } else if (servers?.indexOf(server) !== i) {
            problems.fail(`network.dnsServers[${i}]`, server, `network.dnsServers[${servers?.indexOf(server)}] is the same server; list each once`);
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
}

/** Template IDs inside Proxmox's range, and template disks no larger than any clone's (clones cannot shrink a disk). */
export function checkTemplates(templates: readonly TemplateSpec[], vms: StackConfig["vms"], problems: Problems): void {
    const { template } = vms;
    const last = templates.reduce((max, t) => Math.max(max, t.vmId), template.vmIdStart);
    if (template.vmIdStart < VM_ID_RANGE.min || last > VM_ID_RANGE.max) {
        problems.fail("vms.template.vmIdStart", template.vmIdStart, `the templates take VM IDs ${template.vmIdStart} to ${last}, and Proxmox VM IDs run from ${VM_ID_RANGE.min} to ${VM_ID_RANGE.max}`);
    }
    for (const role of ROLES) {
        if (vms[role].count > 0 && vms[role].diskGiB < template.diskGiB) {
            problems.fail(`vms.${role}.diskGiB`, vms[role].diskGiB, `smaller than the template's disk (vms.template.diskGiB ${template.diskGiB}), and a clone's disk can only grow; give the role at least ${template.diskGiB}`);
        }
    }
    // A name that is no DNS label is the schema's message already; here, one the host suffix made too long.
    const tooLong = DNS_LABEL.test(template.name) ? templates.find((t) => !DNS_LABEL.test(t.name)) : undefined;
    if (tooLong) {
        problems.fail("vms.template.name", template.name, `the template on ${tooLong.host} is named ${tooLong.name}, which is not a DNS label (at most 63 characters); shorten the name`);
    }
}
