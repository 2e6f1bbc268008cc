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

export function userData(input: UserDataInput): string {
    const document: Record<string, unknown> = {
        hostname: input.hostname,
        fqdn: input.fqdn,
        prefer_fqdn_over_hostname: false,
        manage_etc_hosts: true,
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
        apt: {
            preserve_sources_list: false,
            primary: [{ arches: ["default"], uri: input.aptMirror }],
            security: [{ arches: ["default"], uri: input.aptMirror }],
            conf: 'Acquire::Retries "5";\n',
        },
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
