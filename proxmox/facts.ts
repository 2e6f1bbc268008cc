// Facts about Proxmox VE and the bpg provider that the plan's rules rest on, each with its source.

/**
 * VM IDs the API accepts: `pve-vmid`, minimum 100, maximum 999999999
 * (proxmox/pve-common src/PVE/JSONSchema.pm, register_standard_option('pve-vmid'), commit f665029e).
 * The bpg provider accepts more (up to 2^31-1, proxmoxtf/resource/vm/validators.go, v0.111.1), so the
 * plan enforces Proxmox's own range.
 */
export const VM_ID_RANGE = { min: 100, max: 999_999_999 } as const;

/**
 * Storage types and what they can hold (proxmox/pve-storage src/PVE/Storage/*Plugin.pm, `sub
 * plugindata`, libpve-storage-perl 9.1.7, commit 0c56bad8). `shared`: "always" for the types
 * Plugin.pm's @SHARED_STORAGE forces shared, "never" for the types whose options have no `shared`
 * flag (lvmthin, zfspool), "optional" for the rest. `import` on file storages came with
 * libpve-storage-perl 8.2.8 (commits d955a46a, 974081ce).
 */
export const STORAGE_TYPES = {
    dir: { content: ["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"], shared: "optional" },
    nfs: { content: ["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"], shared: "always" },
    cifs: { content: ["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"], shared: "always" },
    cephfs: { content: ["vztmpl", "iso", "backup", "snippets", "import"], shared: "always" },
    btrfs: { content: ["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"], shared: "optional" },
    lvm: { content: ["images", "rootdir"], shared: "optional" },
    lvmthin: { content: ["images", "rootdir"], shared: "never" },
    zfspool: { content: ["images", "rootdir"], shared: "never" },
    zfs: { content: ["images"], shared: "always" },
    rbd: { content: ["images", "rootdir"], shared: "always" },
    iscsi: { content: ["images"], shared: "always" },
    iscsidirect: { content: ["images"], shared: "always" },
    pbs: { content: ["backup"], shared: "always" },
    esxi: { content: ["import"], shared: "optional" },
} as const satisfies Record<string, { content: readonly string[]; shared: "always" | "never" | "optional" }>;

export type StorageType = keyof typeof STORAGE_TYPES;
export const STORAGE_TYPE_NAMES = Object.keys(STORAGE_TYPES) as StorageType[];

/**
 * Storage types that can hold a content type. An esxi storage lists `import` but is a read-only
 * view of an ESXi host to import from (ESXiPlugin.pm), never a place to download to.
 */
export function storageTypesFor(content: string): StorageType[] {
    return STORAGE_TYPE_NAMES.filter((type) => (STORAGE_TYPES[type].content as readonly string[]).includes(content) && type !== "esxi");
}

/**
 * The QEMU CPU models the bpg provider accepts (proxmoxtf/resource/vm/validators.go
 * CPUTypeValidator, v0.111.1): Proxmox's built-in list (qemu-server PVE/QemuServer/CPUConfig.pm,
 * $cpu_vendor_list and $builtin_models, 8.3.13) less three names the provider does not know, plus
 * `custom-<name>` models defined in /etc/pve/virtual-guest/cpu-models.conf.
 */
export const CPU_TYPES: readonly string[] = [
    "486", "pentium", "pentium2", "pentium3", "coreduo", "core2duo", "Conroe", "Penryn", "Nehalem", "Nehalem-IBRS",
    "Westmere", "Westmere-IBRS", "SandyBridge", "SandyBridge-IBRS", "IvyBridge", "IvyBridge-IBRS", "Haswell",
    "Haswell-IBRS", "Haswell-noTSX", "Haswell-noTSX-IBRS", "Broadwell", "Broadwell-IBRS", "Broadwell-noTSX",
    "Broadwell-noTSX-IBRS", "Skylake-Client", "Skylake-Client-IBRS", "Skylake-Client-noTSX-IBRS", "Skylake-Client-v4",
    "Skylake-Server", "Skylake-Server-IBRS", "Skylake-Server-noTSX-IBRS", "Skylake-Server-v4", "Skylake-Server-v5",
    "Cascadelake-Server", "Cascadelake-Server-v2", "Cascadelake-Server-noTSX", "Cascadelake-Server-v4",
    "Cascadelake-Server-v5", "Cooperlake", "Cooperlake-v2", "KnightsMill", "Icelake-Client", "Icelake-Client-noTSX",
    "Icelake-Server", "Icelake-Server-noTSX", "Icelake-Server-v3", "Icelake-Server-v4", "Icelake-Server-v5",
    "Icelake-Server-v6", "SapphireRapids", "athlon", "phenom", "Opteron_G1", "Opteron_G2", "Opteron_G3", "Opteron_G4",
    "Opteron_G5", "EPYC", "EPYC-IBPB", "EPYC-v3", "EPYC-v4", "EPYC-Rome", "EPYC-Rome-v2", "EPYC-Rome-v3", "EPYC-Rome-v4",
    "EPYC-Milan", "EPYC-Genoa", "host", "kvm32", "kvm64", "qemu32", "qemu64", "max", "x86-64-v2", "x86-64-v2-AES",
    "x86-64-v3", "x86-64-v4",
];

/**
 * A storage ID as pve-common checks it (src/PVE/JSONSchema.pm parse_id, format "pve-storage-id"):
 * at least two characters, a letter first, letters, digits, "-", "_" and "." inside, no "-", "_"
 * or "." last. Perl's "$" there also lets a trailing newline through; this does not.
 */
export const STORAGE_ID = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;

/**
 * Accounts that exist on the VMs before the admin user is made: base-passwd's static users
 * (/usr/share/base-passwd/passwd.master), the users systemd and the cloud image's packages create
 * (sysusers.d, maintainer scripts), and the program's own service users. Debian names new system
 * accounts with a leading "_" (Debian Policy 9.2.1), systemd with "systemd-".
 */
export const SYSTEM_ACCOUNTS: readonly string[] = [
    ...["root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data", "backup", "list", "irc", "_apt", "nobody"],
    ...["messagebus", "polkitd", "syslog", "sshd", "uuidd", "tcpdump", "tss", "landscape", "fwupd-refresh", "usbmux", "dnsmasq", "pollinate", "lxd"],
    ...["docker-registry", "synrc-ns"],
];

export function isSystemAccount(name: string): boolean {
    return SYSTEM_ACCOUNTS.includes(name) || name.startsWith("_") || name.startsWith("systemd-");
}

/** Thin-provisioned storage types for VM disks: LVM-thin and ZFS (local), Ceph RBD (shared). */
export const THIN_DISK_TYPES: readonly StorageType[] = ["lvmthin", "zfspool", "rbd"];

export function isCpuType(value: string): boolean {
    return CPU_TYPES.includes(value) || /^custom-[A-Za-z0-9_.-]+$/.test(value);
}

/**
 * The provider builds its API URLs as `<endpoint>/api2/json/...` and drops any path of the
 * endpoint (bpg proxmox/api/client.go NewConnection, since v0.37.1; docs/index.md: "Do not include
 * /api2/json"). So the endpoint is `https://host[:port]/` and nothing more.
 */
export const ENDPOINT_FORM = "https://<host>:8006/";
