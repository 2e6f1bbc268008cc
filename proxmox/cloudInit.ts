// Cloud-init documents for one VM: plain data in, YAML text out.
// Cloud-init runs once, at first boot. Later changes reach running VMs through command resources.
import YAML from "yaml";

export interface UserDataInput {
    readonly hostname: string;
    readonly fqdn: string;
    readonly adminUser: string;
    readonly sshPublicKeys: readonly string[];
    /** Ubuntu archive mirror inside the contour, e.g. http://mirror.erp.uno/ubuntu */
    readonly aptMirror: string;
    readonly ntpServers: readonly string[];
    /** PEM certificates every VM must trust (the local CA); filled by the infra-host layer. */
    readonly trustedCaCertificates: readonly string[];
    /** A second disk to format (once) and mount, e.g. the infra VM's data disk at /srv. */
    readonly dataDisk?: { readonly device: string; readonly label: string; readonly mountPoint: string };
}

export interface NetworkConfigInput {
    readonly macAddress: string;
    readonly address: string;
    readonly prefixLength: number;
    readonly gateway: string;
    readonly dnsServers: readonly string[];
    readonly searchDomains: readonly string[];
    readonly mtu?: number;
}

const YAML_OPTIONS = { lineWidth: 0 } as const;

/**
 * The Ubuntu archive as the VMs use it, and as the mirror must carry it: these suites and
 * components, nothing else. A deb822 `sources_list` is written by cloud-init (23.4 and later, so
 * noble's) to /etc/apt/sources.list.d/ubuntu.sources (cloudinit/config/cc_apt_configure.py at
 * 24.1.3); without it cloud-init writes noble, -updates, -backports, -security with main,
 * restricted, universe, multiverse, and `apt-get update` fails on a mirror that lacks one of them.
 */
export const APT_SUITES = ["$RELEASE", "$RELEASE-updates", "$RELEASE-security"] as const;
export const APT_COMPONENTS = ["main", "universe"] as const;

/**
 * Ubuntu services that reach public hosts on their own (apt news and the ESM hook on every apt
 * update, motd news, the release-upgrade check, snap seeding and refreshes, pollinate, firmware
 * metadata): masked from the first boot on, so that a VM never tries the internet.
 */
export const PUBLIC_CALLERS = [
    "apt-news.service",
    "esm-cache.service",
    "ua-timer.timer",
    "motd-news.timer",
    "snapd.service",
    "snapd.socket",
    "snapd.seeded.service",
    "pollinate.service",
    "fwupd-refresh.timer",
] as const;

export function userData(input: UserDataInput): string {
    const source = (uri: string, suites: string) =>
        [`Types: deb`, `URIs: ${uri}`, `Suites: ${suites}`, `Components: ${APT_COMPONENTS.join(" ")}`, "Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg"].join("\n");
    const document: Record<string, unknown> = {
        hostname: input.hostname,
        fqdn: input.fqdn,
        prefer_fqdn_over_hostname: false,
        // "localhost" keeps only the host's own line right; "true" would rewrite /etc/hosts at every
        // boot and drop what Kubespray writes there (the API's name).
        manage_etc_hosts: "localhost",
        users: [
            {
                name: input.adminUser,
                gecos: "ERP/1 platform administrator",
                groups: ["sudo"],
                shell: "/bin/bash",
                sudo: "ALL=(ALL) NOPASSWD:ALL",
                lock_passwd: true,
                ssh_authorized_keys: [...input.sshPublicKeys],
            },
        ],
        disable_root: true,
        ssh_pwauth: false,
        // Masked before the units could start: the first boot must not reach a public host. Masking
        // a unit the image does not have is harmless; stopping one fails, hence the `|| true`.
        bootcmd: [`systemctl mask ${PUBLIC_CALLERS.join(" ")} && { systemctl stop ${PUBLIC_CALLERS.join(" ")} 2>/dev/null || true; }`],
        apt: {
            preserve_sources_list: false,
            primary: [{ arches: ["default"], uri: input.aptMirror }],
            security: [{ arches: ["default"], uri: input.aptMirror }],
            sources_list: `${source("$PRIMARY", APT_SUITES.slice(0, 2).join(" "))}\n\n${source("$SECURITY", APT_SUITES[2])}\n`,
            conf: 'Acquire::Retries "5";\n',
        },
        write_files: [
            // ubuntu-pro-client's apt hook fetches ESM and apt news from public hosts on every update.
            { path: "/etc/apt/apt.conf.d/20apt-esm-hook.conf", content: "", permissions: "0644" },
            { path: "/etc/default/motd-news", content: "ENABLED=0\n", permissions: "0644" },
            { path: "/etc/update-manager/release-upgrades", content: "[DEFAULT]\nPrompt=never\n", permissions: "0644" },
            // Without NTP servers of its own, systemd-timesyncd would fall back to ntp.ubuntu.com.
            ...(input.ntpServers.length > 0 ? [] : [{ path: "/etc/systemd/timesyncd.conf.d/erpdc.conf", content: "[Time]\nFallbackNTP=\n", permissions: "0644" }]),
        ],
        package_update: true,
        package_upgrade: false,
        packages: ["qemu-guest-agent"],
        runcmd: [["systemctl", "enable", "--now", "qemu-guest-agent"]],
    };
    if (input.ntpServers.length > 0) {
        document.ntp = { enabled: true, servers: [...input.ntpServers] };
    }
    if (input.dataDisk) {
        const { device, label, mountPoint } = input.dataDisk;
        // overwrite: false keeps an existing filesystem, so a rebuilt cloud-init never wipes data.
        document.fs_setup = [{ label, filesystem: "ext4", device, partition: "none", overwrite: false }];
        document.mounts = [[`LABEL=${label}`, mountPoint, "ext4", "defaults,nofail", "0", "2"]];
    }
    if (input.trustedCaCertificates.length > 0) {
        document.ca_certs = { trusted: [...input.trustedCaCertificates] };
    }
    return `#cloud-config\n${YAML.stringify(document, YAML_OPTIONS)}`;
}

/**
 * The NoCloud vendor-data: the VM's SSH host key, made by the program so that every SSH client of
 * the program can pin it from the first connection on. cloud-init's ssh module, given `ssh_keys`,
 * deletes the image's host keys, writes these and generates no other type
 * (cloudinit/config/cc_ssh.py at 24.1.3). It is a snippet of its own, a secret, so that the
 * user-data stays free of key material and can be published for review.
 */
export function vendorData(input: { readonly hostKeyPrivate: string; readonly hostKeyPublic: string }): string {
    const document = { ssh_keys: { ed25519_private: input.hostKeyPrivate, ed25519_public: input.hostKeyPublic.trim() } };
    return `#cloud-config\n${YAML.stringify(document, YAML_OPTIONS)}`;
}

/** The NoCloud meta-data: an instance-id that stays the VM's own, whatever its user-data becomes. */
export function metaData(input: { readonly hostname: string }): string {
    // Without a meta-data snippet Proxmox derives the instance-id from a hash of the user-data and
    // network-config (qemu-server PVE/QemuServer/Cloudinit.pm) and any change would make cloud-init
    // run again as a new instance at the next start (new host keys, apt, runcmd).
    return YAML.stringify({ "instance-id": `iid-${input.hostname}`, "local-hostname": input.hostname }, YAML_OPTIONS);
}

/** Netplan-style network config v2, matched on the MAC address the VM is given. */
export function networkConfig(input: NetworkConfigInput): string {
    const nic: Record<string, unknown> = {
        match: { macaddress: input.macAddress.toLowerCase() },
        "set-name": "lan0",
        dhcp4: false,
        dhcp6: false,
        addresses: [`${input.address}/${input.prefixLength}`],
        // "0.0.0.0/0" rather than "default": older cloud-init and netplan renderers only know the former.
        routes: [{ to: "0.0.0.0/0", via: input.gateway }],
        nameservers: { addresses: [...input.dnsServers], search: [...input.searchDomains] },
    };
    if (input.mtu !== undefined) {
        nic.mtu = input.mtu;
    }
    return YAML.stringify({ network: { version: 2, ethernets: { lan0: nic } } }, YAML_OPTIONS);
}
