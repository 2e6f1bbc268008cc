// The shape of the stack configuration (`erpdc:*` keys in Pulumi.<stack>.yaml).
// Shape errors are caught here; rules that relate several keys (addresses inside the network,
// unique names, capacity, ...) live in resolve.ts so that their messages can name the fix.
import { z } from "zod";

export const ENVIRONMENTS = ["dev", "staging", "production"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export const HA_MODES = ["rules", "groups", "none"] as const;
export const THIN_DATASTORE_TYPES = ["lvmthin", "zfspool"] as const;

const integer = (min: number, max: number) => z.int().min(min).max(max);

const datastore = z.strictObject({
    /** Proxmox storage ID, e.g. "local-lvm". */
    id: z.string().min(1),
    /** True when every host sees the same storage (Ceph, NFS, ...). */
    shared: z.boolean().default(false),
});

const proxmoxHost = z.strictObject({
    /** The Proxmox node name, exactly as `pvecm nodes` shows it. */
    name: z.string(),
    /** Management address: the provider uploads snippets to it over SSH. */
    address: z.string(),
    cores: integer(1, 4096),
    memoryGiB: z.number().positive().max(65536),
});

const proxmox = z.strictObject({
    hosts: z.array(proxmoxHost).min(1),
    haMode: z.enum(HA_MODES),
    controlPlaneAntiAffinity: z.enum(["strict", "preferred"]).default("strict"),
    memoryReserveGiB: z.number().min(0).default(4),
    cpuOvercommit: z.number().min(1).max(16).default(2),
    datastores: z.strictObject({
        disks: datastore.extend({ type: z.string() }),
        images: datastore,
        snippets: datastore,
    }),
    network: z.strictObject({
        bridge: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,14}$/),
        vlan: z.int().optional(),
        mtu: integer(576, 9216).optional(),
    }),
    ssh: z.strictObject({ username: z.string().min(1).default("root") }).default({ username: "root" }),
    clones: z
        .strictObject({
            retries: integer(0, 10).default(3),
            parallelPerHost: integer(1, 16).default(2),
        })
        .default({ retries: 3, parallelPerHost: 2 }),
});

const image = z.strictObject({
    url: z.string(),
    checksumAlgorithm: z.enum(["sha256", "sha512"]).default("sha256"),
    checksum: z.string().optional(),
});

const network = z.strictObject({
    cidr: z.string(),
    gateway: z.string(),
    /** The Kubernetes API endpoint (a virtual IP on the node network, not a VM's address). */
    apiAddress: z.string(),
    /** The cluster ingress (a LoadBalancer address on the node network). */
    ingressAddress: z.string(),
    /** Resolvers for the VMs; the infra VMs (which run synrc/ns) when absent. */
    dnsServers: z.array(z.string()).optional(),
    ntpServers: z.array(z.string()).default([]),
});

const role = z.strictObject({
    count: z.int(),
    namePrefix: z.string().optional(),
    vmIdStart: z.int(),
    cores: integer(1, 512),
    memoryMiB: integer(1024, 4194304),
    diskGiB: integer(8, 65536),
    /** A second disk (scsi1), e.g. for the registry's storage on the infra host. */
    dataDiskGiB: integer(1, 65536).optional(),
    addresses: z.array(z.string()),
    /** Restricts the role to these Proxmox hosts; all hosts when absent. */
    hosts: z.array(z.string()).optional(),
});

const vms = z.strictObject({
    adminUser: z.string().default("erpadmin"),
    cpuType: z.string().default("x86-64-v2-AES"),
    template: z
        .strictObject({
            name: z.string().default("u24-cloud"),
            vmIdStart: z.int().default(9000),
            diskGiB: integer(4, 64).default(4),
        })
        .default({ name: "u24-cloud", vmIdStart: 9000, diskGiB: 4 }),
    infra: role,
    controlPlane: role,
    workers: role,
});

const mirrors = z.strictObject({
    /** Ubuntu archive mirror, e.g. http://mirror.erp.uno/ubuntu */
    apt: z.string(),
    /** Plain file server (cloud images, Kubespray offline files). */
    files: z.string(),
    /** OCI registry host[:port]. */
    registry: z.string(),
    /** Helm chart repository URL. */
    charts: z.string(),
});

const pki = z
    .strictObject({
        algorithm: z.enum(["ECDSA", "RSA"]).default("ECDSA"),
        ecdsaCurve: z.enum(["P256", "P384"]).default("P256"),
        rsaBits: z.union([z.literal(2048), z.literal(3072), z.literal(4096)]).default(3072),
        caValidityDays: integer(30, 7300).default(3650),
        serverValidityDays: integer(1, 825).default(397),
        organization: z.string().min(1).default("ERP/1"),
    })
    .default({ algorithm: "ECDSA", ecdsaCurve: "P256", rsaBits: 3072, caValidityDays: 3650, serverValidityDays: 397, organization: "ERP/1" });

const extraRecord = z.strictObject({
    /** Relative to the domain ("mail", "_sip._tcp") or "@" for the apex. */
    name: z.string(),
    type: z.enum(["A", "CNAME", "MX", "SRV", "TXT"]),
    ttl: integer(0, 604800).optional(),
    data: z.record(z.string(), z.union([z.string(), z.number()])),
});

const dns = z.strictObject({
    ttl: integer(30, 86400).default(300),
    /** systemd MemoryMax of synrc/ns; it needs about 60 MB resident for a small zone. */
    memoryMaxMiB: integer(96, 4096).default(128),
    /** The synrc/ns OTP release (rebar3 release "erldns") on the internal files mirror. */
    nsArtifact: z.strictObject({ url: z.string(), sha256: z.string().optional() }),
    extraRecords: z.array(extraRecord).default([]),
});

const registry = z.strictObject({ username: z.string().default("erpdc") }).default({ username: "erpdc" });

const kubernetes = z.strictObject({
    /** A Kubespray release tag, e.g. "v2.28.0"; must be in cluster/compatibility.ts. */
    kubesprayVersion: z.string(),
    /** Kubernetes version without a "v", e.g. "1.32.5". */
    kubeVersion: z.string(),
    /** The ansible-core the runner installs next to Kubespray's requirements.txt. */
    ansibleCoreVersion: z.string(),
    podCidr: z.string().default("10.233.64.0/18"),
    serviceCidr: z.string().default("10.233.0.0/18"),
    clusterDomain: z.string().default("cluster.local"),
    /** MetalLB L2 pool, "first-last"; it must hold network.ingressAddress. */
    metallbPool: z.string(),
    certManager: z.boolean().default(false),
    /** Where Ansible runs: on the operator's machine, or on the first infra VM. */
    runner: z.enum(["local", "infra"]).default("infra"),
    /** Kubespray's source tarball on the files mirror (a GitHub release archive, mirrored). */
    kubespraySource: z.strictObject({ url: z.string(), sha256: z.string().optional() }),
    /** The internal PyPI mirror the runner installs Ansible from. */
    pythonIndexUrl: z.string(),
});

const apps = z.strictObject({
    /** "light" (a subset, one replica each) or "full" (the whole catalog, HA); by environment when absent. */
    profile: z.enum(["light", "full"]).optional(),
    /** Image tag of every component (calendar version); the chart's appVersion when absent. */
    imageVersion: z.string().optional(),
    /** Source the erp-uno Application from the internal Git server instead of the chart repository. */
    gitRepoUrl: z.string().optional(),
    argocd: z.strictObject({
        /** Version of the argo-cd Helm chart on the internal chart server. */
        chartVersion: z.string(),
        /** ArgoCD image tag in the internal registry. */
        imageTag: z.string(),
        redisImageTag: z.string(),
    }),
});

export const stackConfigSchema = z.strictObject({
    environment: z.enum(ENVIRONMENTS),
    domain: z.string(),
    /** Names under these domains count as inside the contour (the stack's domain always does). */
    internalDomains: z.array(z.string()).default([]),
    protectVms: z.boolean().optional(),
    proxmox,
    image,
    network,
    vms,
    mirrors,
    pki,
    dns,
    registry,
    kubernetes,
    apps,
});

export type RawStackConfig = z.infer<typeof stackConfigSchema>;
export type RoleConfig = z.infer<typeof role>;
