// The shape of the stack configuration (`erpdc:*` keys in Pulumi.<stack>.yaml), with a description
// of every key: the README's configuration table is generated from these (`npm run docs`).
// Shape errors are caught here; rules that relate several keys live in the layer that owns the
// fact (`<layer>/plan.ts`), so that their messages can name the fix.
import { z } from "zod";

export const ENVIRONMENTS = ["dev", "staging", "production"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export const HA_MODES = ["rules", "groups", "none"] as const;

const integer = (min: number, max: number) => z.int().min(min).max(max);

const datastore = (what: string, example: string, types: string) =>
    z.strictObject({
        id: z.string().min(1).describe(`Proxmox storage ID of the ${what}, e.g. "${example}"`),
        type: z.string().describe(`storage type of the ${what} as \`pvesm status\` shows it: ${types}`),
        shared: z.boolean().default(false).describe("true when every host sees the same storage (nfs, cifs, cephfs, rbd are; lvmthin and zfspool never are)"),
    });

const proxmoxHost = z.strictObject({
    name: z.string().describe("the Proxmox node name, exactly as `pvecm nodes` shows it"),
    address: z.string().describe("management IPv4 address; the provider uploads snippets to it over SSH"),
    cores: integer(1, 4096).describe("physical cores, for the capacity check"),
    memoryGiB: z.number().positive().max(65536).describe("memory in GiB, for the capacity check"),
});

const proxmox = z.strictObject({
    hosts: z
        .array(proxmoxHost)
        .min(1)
        .describe("the Proxmox hosts; append-only, because a host's position picks its template's VM ID"),
    haMode: z
        .enum(HA_MODES)
        .describe('"rules" (PVE 9: HA resources and negative resource-affinity rules), "groups" (PVE 8: one HA group per host) or "none"'),
    controlPlaneAntiAffinity: z
        .enum(["strict", "preferred"])
        .default("strict")
        .describe('"strict" (one control-plane node per host, or an error) or "preferred"'),
    memoryReserveGiB: z.number().min(0).default(4).describe("memory kept free on every host for Proxmox and the ZFS ARC"),
    cpuOvercommit: z.number().min(1).max(16).default(2).describe("vCPUs scheduled per physical core"),
    datastores: z.strictObject({
        disks: z.strictObject({
            id: z.string().min(1).describe('Proxmox storage ID of the VM disks, e.g. "local-zfs"'),
            type: z
                .string()
                .describe('storage type of the VM disks as `pvesm status` shows it: "lvmthin" or "zfspool" (local to each host: a template per host) or "rbd" (Ceph, shared: one template)'),
        }),
        images: datastore("downloaded cloud image", "local", '"dir", "nfs", "cifs", "cephfs" or "btrfs" (content type import)'),
        snippets: datastore("cloud-init snippets", "local", '"dir", "nfs", "cifs", "cephfs" or "btrfs"'),
    }),
    network: z.strictObject({
        bridge: z
            .string()
            .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,14}$/)
            .describe("the Linux bridge the VMs' NIC joins, e.g. vmbr0"),
        vlan: z.int().optional().describe("VLAN tag of the VMs' NIC; untagged when absent"),
        mtu: integer(576, 9216).optional().describe("MTU of the VMs' NIC; the bridge's when absent"),
    }),
    ssh: z
        .strictObject({ username: z.string().min(1).default("root").describe("SSH user on the hosts for snippet uploads") })
        .default({ username: "root" }),
    clones: z
        .strictObject({
            retries: integer(0, 10).default(3).describe("how often the provider retries a failed full clone"),
            parallelPerHost: integer(1, 16).default(2).describe("full clones running at once per host (storage lock)"),
        })
        .default({ retries: 3, parallelPerHost: 2 }),
});

const image = z.strictObject({
    url: z.string().describe("http(s) URL of the Ubuntu 24.04 cloud image on the internal mirror"),
    checksumAlgorithm: z.enum(["sha256", "sha512"]).default("sha256").describe('"sha256" or "sha512"'),
    checksum: z.string().optional().describe("the image's checksum (required): Proxmox verifies the download against it"),
});

const network = z.strictObject({
    cidr: z.string().describe("the node network, e.g. 10.0.0.0/24"),
    gateway: z.string().describe("the node network's gateway"),
    apiAddress: z.string().describe("the Kubernetes API virtual IP (kube-vip), a free address on the node network; api.<domain>"),
    ingressAddress: z.string().describe("the ingress LoadBalancer address (MetalLB), a free address on the node network; argocd.<domain>, portal.<domain>"),
    dnsServers: z.array(z.string()).optional().describe("the VMs' resolvers; the infra VMs (which run synrc/ns) when absent"),
    ntpServers: z.array(z.string()).default([]).describe("NTP servers of the VMs (addresses or names)"),
});

const role = (label: string) =>
    z.strictObject({
        count: z.int().describe(`how many ${label} VMs`),
        namePrefix: z.string().optional().describe("VM names are the prefix plus their number; a default per role when absent"),
        vmIdStart: z.int().describe("the Proxmox VM ID of the first VM; the others follow"),
        cores: integer(1, 512).describe("vCPUs per VM"),
        memoryMiB: integer(1024, 4194304).describe("memory per VM in MiB"),
        diskGiB: integer(8, 65536).describe("system disk (scsi0) per VM in GiB"),
        dataDiskGiB: integer(1, 65536).optional().describe("a second disk (scsi1) in GiB, mounted at /srv; required for the infra VMs"),
        addresses: z
            .union([z.array(z.string()), z.record(z.string(), z.string())])
            .describe(
                "one IPv4 address per VM: a list numbers the VMs 1, 2, ... in order; a map from VM name (the prefix plus its number) to address keeps every other VM's name and ID when one in the middle is removed",
            ),
        hosts: z.array(z.string()).optional().describe("the Proxmox hosts this role may run on; all when absent"),
    });

const vms = z.strictObject({
    adminUser: z.string().default("erpadmin").describe("the admin user on every VM (SSH key only, sudo)"),
    cpuType: z.string().default("x86-64-v2-AES").describe("the QEMU CPU type of every VM"),
    template: z
        .strictObject({
            name: z.string().default("u24-cloud").describe("name of the cloud-init template (suffixed with the host when disks are local)"),
            vmIdStart: z.int().default(9000).describe("VM ID of the first host's template; one more per host position"),
            diskGiB: integer(4, 64).default(4).describe("the template's disk in GiB (clones grow it to their role's diskGiB)"),
        })
        .default({ name: "u24-cloud", vmIdStart: 9000, diskGiB: 4 }),
    decommission: z
        .array(z.string())
        .default([])
        .describe("VMs to strip of their protection (Proxmox's flag and Pulumi's protect) before they are removed; the README's day-2 steps say when"),
    infra: role("infra (DNS, registry, charts, files)"),
    controlPlane: role("Kubernetes control-plane (and etcd)"),
    workers: role("Kubernetes worker"),
});

const mirrors = z.strictObject({
    apt: z.string().describe("the Ubuntu archive mirror inside the contour, e.g. http://10.0.0.2/ubuntu"),
});

const pki = z
    .strictObject({
        algorithm: z.enum(["ECDSA", "RSA"]).default("ECDSA").describe('key algorithm of the local CA and its certificates: "ECDSA" or "RSA"'),
        ecdsaCurve: z.enum(["P256", "P384"]).default("P256").describe('ECDSA curve: "P256" or "P384"'),
        rsaBits: z.union([z.literal(2048), z.literal(3072), z.literal(4096)]).default(3072).describe("RSA key size: 2048, 3072 or 4096"),
        caValidityDays: integer(30, 7300).default(3650).describe("validity of the local CA in days"),
        serverValidityDays: integer(1, 825).default(397).describe("validity of each server certificate in days"),
        organization: z.string().min(1).default("ERP/1").describe("the organization in every certificate's subject"),
    })
    .default({ algorithm: "ECDSA", ecdsaCurve: "P256", rsaBits: 3072, caValidityDays: 3650, serverValidityDays: 397, organization: "ERP/1" });

const extraRecord = z.strictObject({
    name: z.string().describe('relative to the domain ("mail", "_sip._tcp"), under it ("mail.<domain>"), or "@" for the apex'),
    type: z.enum(["A", "CNAME", "MX", "SRV", "TXT"]).describe('"A", "CNAME", "MX", "SRV" or "TXT"'),
    ttl: integer(0, 604800).optional().describe("the record's TTL; dns.ttl when absent"),
    data: z.record(z.string(), z.union([z.string(), z.number()])).describe("the record's data as synrc/ns reads it, e.g. {ip: 10.0.0.40}"),
});

const dns = z.strictObject({
    ttl: integer(30, 86400).default(300).describe("TTL of the generated records"),
    memoryMaxMiB: integer(96, 4096).default(256).describe("systemd MemoryMax of synrc/ns (MemoryHigh is 3/4 of it); at least 208, 1.5 times the start-up peak"),
    nsArtifact: z.strictObject({
        url: z.string().describe("http(s) URL of the synrc/ns release tarball on the internal files mirror"),
        sha256: z.string().optional().describe("the tarball's sha256 (npm run synrc-ns prints it); required in production, elsewhere without it only the mirror's SHA256SUMS is checked (a warning)"),
    }),
    extraRecords: z.array(extraRecord).default([]).describe("records served besides the generated ones"),
});

const registry = z
    .strictObject({
        username: z.string().default("erpdc").describe("the push account of the registry (operator, CI, chart publishing); its password is generated and secret"),
        pullUsername: z.string().default("erpdc-pull").describe("the pull-only account the nodes' containerd reads with; its password is generated and secret"),
    })
    .default({ username: "erpdc", pullUsername: "erpdc-pull" });

const kubernetes = z.strictObject({
    kubesprayVersion: z.string().describe("a Kubespray release tag in cluster/compatibility.ts, e.g. v2.28.0"),
    kubeVersion: z.string().describe('the Kubernetes version without a "v", e.g. 1.32.5'),
    ansibleCoreVersion: z.string().describe("the ansible-core the runner installs next to Kubespray's requirements"),
    podCidr: z.string().default("10.233.64.0/18").describe("the pod network"),
    serviceCidr: z.string().default("10.233.0.0/18").describe("the service network"),
    clusterDomain: z.string().default("cluster.local").describe("the cluster's DNS domain"),
    metallbPool: z.string().describe('the MetalLB L2 pool "first-last" on the node network; it must hold network.ingressAddress'),
    certManager: z.boolean().default(false).describe("install cert-manager with Kubespray"),
    runner: z.enum(["local", "infra"]).default("infra").describe('where Ansible runs: "infra" (on the first infra VM) or "local" (where pulumi runs)'),
    kubespraySource: z.strictObject({
        url: z.string().describe("http(s) URL of the Kubespray release tarball on the internal files mirror"),
        sha256: z.string().describe("the tarball's sha256, as sha256sum prints it: the runner trusts the file by it alone"),
    }),
    pythonIndexUrl: z.string().describe("the internal PyPI mirror's simple index, for Ansible"),
});

const apps = z.strictObject({
    profile: z.enum(["light", "full"]).optional().describe('"light" (a subset, one replica each) or "full"; light in dev, full elsewhere when absent'),
    imageVersion: z.string().optional().describe("image tag (CalVer) of every erp-uno component; the chart's appVersion when absent"),
    gitRepoUrl: z.string().optional().describe("source erp-uno from this internal Git repository instead of the chart server"),
    gitRevision: z
        .string()
        .optional()
        .describe("with gitRepoUrl (and only with it): the commit (40 hex digits) or release tag (X.Y.Z or vX.Y.Z) to deploy; a branch would deploy whatever is pushed next"),
    argocd: z.strictObject({
        chartVersion: z.string().describe("version of the argo-cd Helm chart on the internal chart server"),
        imageTag: z.string().describe("ArgoCD image tag in the internal registry: the one the chart version ships or a later patch (apps/argocd.ts), e.g. v3.1.8"),
        redisImageTag: z.string().describe("ArgoCD's Redis image tag in the internal registry: the chart version's or a later patch, e.g. 7.2.11-alpine"),
    }),
});

const bundle = z
    .strictObject({
        dir: z
            .string()
            .optional()
            .describe("the contour bundle (npm run bundle) on the machine that runs pulumi: pulumi up loads it into every infra VM; without it, npm run bundle:load does, by hand"),
    })
    .default({});

export const stackConfigSchema = z.strictObject({
    environment: z
        .enum(ENVIRONMENTS)
        .describe('"dev", "staging" or "production"; production protects VMs and refuses public hosts (elsewhere they are warnings)'),
    domain: z.string().describe("the contour's DNS domain; VMs are <name>.<domain> and it is their search domain"),
    internalDomains: z.array(z.string()).default([]).describe("further domains whose names count as inside the contour"),
    protectVms: z.boolean().optional().describe("protect the VMs from deletion; always on in production, off elsewhere when absent"),
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
    bundle,
});

/** The stack configuration after the schema: shaped and defaulted, but not yet checked across keys. */
export type StackConfig = z.infer<typeof stackConfigSchema>;
export type ExtraRecordConfig = StackConfig["dns"]["extraRecords"][number];

/** The top-level keys, as `erpdc:<key>` in Pulumi.<stack>.yaml. */
export const TOP_LEVEL_KEYS = Object.keys(stackConfigSchema.shape) as (keyof StackConfig)[];
