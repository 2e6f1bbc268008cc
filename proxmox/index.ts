// The Proxmox layer: cloud image, templates, cloud-init snippets, VMs and HA placement rules.
// All decisions (names, IDs, addresses, placement, documents) come from plain functions; this
// component only wires them into resources.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { ArtifactSink } from "../lib/artifacts";
import type { Role } from "../lib/conventions";
import { networkConfig, userData } from "./cloudInit";
import { createHa } from "./ha";
import { cloneLanes } from "./placement";
import type { ProxmoxPlan, TemplateSpec } from "./plan";
import { topologyMarkdown } from "./topology";

export interface ProxmoxLayerArgs {
    readonly plan: ProxmoxPlan;
    readonly proxmoxApiToken: pulumi.Input<string>;
    readonly artifacts: ArtifactSink;
    /** PEM certificates every VM trusts from first boot (the local CA). */
    readonly trustedCaCertificates?: pulumi.Input<pulumi.Input<string>[]>;
}

export interface InventoryEntry {
    readonly name: string;
    readonly fqdn: string;
    readonly role: Role;
    readonly proxmoxHost: string;
    readonly address: string;
    readonly vmId: number;
}

/** scsi1 as the guest sees it on Proxmox (stable, unlike /dev/sdb). */
const DATA_DISK_DEVICE = "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive-scsi1";

export class ProxmoxLayer extends pulumi.ComponentResource {
    readonly provider: proxmox.Provider;
    /** The key of the admin user on every VM; other layers use it for SSH. */
    readonly adminKey: tls.PrivateKey;
    readonly vms: Readonly<Record<string, proxmox.VmLegacy>>;
    /** Per VM: done when the VM answers SSH and cloud-init has finished its first boot. */
    readonly ready: Readonly<Record<string, command.remote.Command>>;
    readonly inventory: readonly InventoryEntry[];
    private readonly adminUser: string;

    constructor(name: string, args: ProxmoxLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        // The type token predates the proxmox/ folder; it is part of every URN in existing state, so it stays.
        super("erpdc:infra:ProxmoxLayer", name, {}, opts);
        const { plan: config, artifacts } = args;

        this.provider = new proxmox.Provider(
            "proxmoxve",
            {
                endpoint: config.provider.endpoint,
                apiToken: args.proxmoxApiToken,
                insecure: config.provider.insecure,
                randomVmIds: false,
                ssh: {
                    username: config.provider.sshUsername,
                    agent: true,
                    nodes: config.hosts.map((host) => ({ name: host.name, address: host.address })),
                },
            },
            { parent: this },
        );
        const resourceOpts = { parent: this, provider: this.provider };

        this.adminKey = new tls.PrivateKey("admin-ssh", { algorithm: "ED25519" }, { parent: this });

        const templates = this.createTemplates(config, resourceOpts);
        const snippets = this.createSnippets(config, args, resourceOpts);
        this.adminUser = config.adminUser;
        this.vms = this.createVms(config, templates, snippets, resourceOpts);
        createHa(config, this.vms, resourceOpts);
        this.ready = Object.fromEntries(
            config.vms.map((vm) => [
                vm.name,
                new command.remote.Command(
                    `${vm.name}-ready`,
                    {
                        connection: this.connection(vm.address),
                        // Fails (and so stops what depends on it) when cloud-init reports an error.
                        create: "cloud-init status --wait >/dev/null || { cloud-init status --long; exit 1; }",
                    },
                    // The connection names the VM by address only: wait for the VM resource itself.
                    { parent: this, dependsOn: [this.vms[vm.name] as proxmox.VmLegacy] },
                ),
            ]),
        );

        this.inventory = config.vms.map((vm) => ({
            name: vm.name,
            fqdn: vm.fqdn,
            role: vm.role,
            proxmoxHost: vm.host,
            address: vm.address,
            vmId: vm.vmId,
        }));
        artifacts.add("topology.md", topologyMarkdown(config));

        this.registerOutputs({ inventory: this.inventory, sshPublicKey: this.adminKey.publicKeyOpenssh });
    }

    /** SSH to a VM as the admin user with the generated key (a secret input). */
    connection(address: string): command.types.input.remote.ConnectionArgs {
        return { host: address, user: this.adminUser, privateKey: pulumi.secret(this.adminKey.privateKeyOpenssh) };
    }

    private createTemplates(config: ProxmoxPlan, opts: pulumi.CustomResourceOptions): Map<string, proxmox.VmLegacy> {
        const { image, datastores } = config;
        const images = new Map<string, proxmox.download.FileLegacy>();
        const imageFor = (host: string) => {
            const imageHost = datastores.images.shared ? (config.hosts[0] as { name: string }).name : host;
            let file = images.get(imageHost);
            if (file === undefined) {
                file = new proxmox.download.FileLegacy(
                    `ubuntu-2404-image-${imageHost}`,
                    {
                        nodeName: imageHost,
                        datastoreId: datastores.images.id,
                        contentType: "import",
                        url: image.url,
                        fileName: image.fileName,
                        checksum: image.checksum,
                        checksumAlgorithm: image.checksumAlgorithm,
                        overwrite: false,
                        uploadTimeout: 1800,
                    },
                    opts,
                );
                images.set(imageHost, file);
            }
            return file;
        };

        const templates = new Map<string, proxmox.VmLegacy>();
        for (const template of config.templates) {
            templates.set(template.host, this.createTemplate(config, template, imageFor(template.host), opts));
        }
        return templates;
    }

    private createTemplate(
        config: ProxmoxPlan,
        template: TemplateSpec,
        image: proxmox.download.FileLegacy,
        opts: pulumi.CustomResourceOptions,
    ): proxmox.VmLegacy {
        const disks = config.datastores.disks;
        return new proxmox.VmLegacy(
            `template-${template.host}`,
            {
                nodeName: template.host,
                vmId: template.vmId,
                name: template.name,
                description: `Ubuntu 24.04 cloud-init template (${config.image.fileName}); managed by Pulumi, do not edit`,
                tags: ["template", `env-${config.environment}`],
                template: true,
                started: false,
                onBoot: false,
                ...this.hardware(config, 2, 2048),
                disks: [
                    {
                        interface: "scsi0",
                        datastoreId: disks.id,
                        importFrom: image.id,
                        size: template.diskGiB,
                        iothread: true,
                        discard: "on",
                        ssd: true,
                    },
                ],
                initialization: { datastoreId: disks.id, interface: "ide2" },
                networkDevices: [this.nic(config)],
            },
            opts,
        );
    }

    private createSnippets(
        config: ProxmoxPlan,
        args: ProxmoxLayerArgs,
        opts: pulumi.CustomResourceOptions,
    ): Map<string, { userData: proxmox.FileLegacy; networkData: proxmox.FileLegacy }> {
        const { network, datastores } = config;
        const snippets = new Map<string, { userData: proxmox.FileLegacy; networkData: proxmox.FileLegacy }>();
        const trusted = pulumi.output(args.trustedCaCertificates ?? []);
        for (const vm of config.vms) {
            const userDataText = pulumi
                .all([this.adminKey.publicKeyOpenssh, trusted])
                .apply(([publicKey, certificates]) =>
                    userData({
                        hostname: vm.name,
                        fqdn: vm.fqdn,
                        adminUser: config.adminUser,
                        sshPublicKeys: [publicKey.trim()],
                        aptMirror: config.aptMirror,
                        ntpServers: network.ntpServers,
                        trustedCaCertificates: certificates,
                        ...(vm.dataDiskGiB === undefined
                            ? {}
                            : { dataDisk: { device: DATA_DISK_DEVICE, label: "erp-data", mountPoint: "/srv" } }),
                    }),
                );
            const networkText = networkConfig({
                macAddress: vm.macAddress,
                address: vm.address,
                prefixLength: network.prefixLength,
                gateway: network.gateway,
                dnsServers: network.dnsServers,
                searchDomains: network.searchDomains,
                ...(config.nic.mtu === undefined ? {} : { mtu: config.nic.mtu }),
            });
            args.artifacts.add(`cloud-init/${vm.name}/user-data`, userDataText);
            args.artifacts.add(`cloud-init/${vm.name}/network-config`, networkText);

            const snippet = (kind: string, data: pulumi.Input<string>) =>
                new proxmox.FileLegacy(
                    `${vm.name}-${kind}`,
                    {
                        nodeName: datastores.snippets.shared ? (config.hosts[0] as { name: string }).name : vm.host,
                        datastoreId: datastores.snippets.id,
                        contentType: "snippets",
                        sourceRaw: { fileName: `erp-${config.environment}-${vm.name}-${kind}.yaml`, data },
                    },
                    // The file keeps its name when its content changes; creating the new one first
                    // and then deleting the old one would delete the new file.
                    { ...opts, deleteBeforeReplace: true },
                );
            snippets.set(vm.name, { userData: snippet("user-data", userDataText), networkData: snippet("network-config", networkText) });
        }
        return snippets;
    }

    private createVms(
        config: ProxmoxPlan,
        templates: ReadonlyMap<string, proxmox.VmLegacy>,
        snippets: ReadonlyMap<string, { userData: proxmox.FileLegacy; networkData: proxmox.FileLegacy }>,
        opts: pulumi.CustomResourceOptions,
    ): Record<string, proxmox.VmLegacy> {
        const disks = config.datastores.disks;
        const placement = new Map(config.vms.map((vm) => [vm.name, vm.host]));
        const predecessors = cloneLanes(
            config.vms.map((vm) => vm.name),
            placement,
            config.clones.parallelPerHost,
            disks.shared,
        );
        const firstTemplate = config.templates[0] as TemplateSpec;
        const vms: Record<string, proxmox.VmLegacy> = {};
        for (const vm of config.vms) {
            const templateSpec = disks.shared ? firstTemplate : (config.templates.find((t) => t.host === vm.host) as TemplateSpec);
            const template = templates.get(templateSpec.host) as proxmox.VmLegacy;
            const files = snippets.get(vm.name) as { userData: proxmox.FileLegacy; networkData: proxmox.FileLegacy };
            const predecessor = predecessors.get(vm.name);
            vms[vm.name] = new proxmox.VmLegacy(
                vm.name,
                {
                    nodeName: vm.host,
                    vmId: vm.vmId,
                    name: vm.name,
                    description: `${vm.fqdn} (${vm.address}), ${vm.role}, ERP/1 ${config.environment}; managed by Pulumi`,
                    tags: [...vm.tags],
                    clone: {
                        vmId: template.vmId,
                        nodeName: templateSpec.host,
                        full: true,
                        datastoreId: disks.id,
                        retries: config.clones.retries,
                    },
                    timeoutClone: 1800,
                    started: true,
                    onBoot: true,
                    // Stop rather than wait for a guest shutdown that a broken guest never finishes.
                    stopOnDestroy: true,
                    protection: config.protectVms,
                    ...this.hardware(config, vm.cores, vm.memoryMiB),
                    disks: [
                        { interface: "scsi0", datastoreId: disks.id, size: vm.diskGiB, iothread: true, discard: "on", ssd: true },
                        ...(vm.dataDiskGiB === undefined
                            ? []
                            : [{ interface: "scsi1", datastoreId: disks.id, size: vm.dataDiskGiB, iothread: true, discard: "on", ssd: true }]),
                    ],
                    networkDevices: [{ ...this.nic(config), macAddress: vm.macAddress }],
                    initialization: {
                        datastoreId: disks.id,
                        interface: "ide2",
                        userDataFileId: files.userData.id,
                        networkDataFileId: files.networkData.id,
                    },
                },
                {
                    ...opts,
                    // A replacement destroys the VM's disks: production VMs must never be replaced by accident.
                    protect: config.protectVms,
                    // nodeName: HA moves VMs between hosts, and that is not drift to undo.
                    // *FileId: cloud-init runs at first boot only; the provider would replace the VM when a
                    // snippet changes, so later changes reach running VMs through command resources instead.
                    ignoreChanges: ["nodeName", "initialization.userDataFileId", "initialization.networkDataFileId"],
                    // Bounds the full clones running at once per storage lock ("can't lock file ... got timeout").
                    dependsOn: predecessor === undefined ? [] : [vms[predecessor] as proxmox.VmLegacy],
                },
            );
        }
        return vms;
    }

    /**
     * The virtual hardware of the template and of every clone alike: q35, virtio-scsi-single, the
     * guest agent, and a serial console (the cloud image has no graphical console).
     */
    private hardware(config: ProxmoxPlan, cores: number, memoryMiB: number) {
        return {
            machine: "q35",
            operatingSystem: { type: "l26" },
            cpu: { cores, type: config.cpuType },
            memory: { dedicated: memoryMiB },
            scsiHardware: "virtio-scsi-single",
            agent: { enabled: true, trim: true },
            serialDevices: [{ device: "socket" }],
            vga: { type: "serial0" },
            bootOrders: ["scsi0"],
        };
    }

    private nic(config: ProxmoxPlan): proxmox.types.input.VmLegacyNetworkDevice {
        const network = config.nic;
        return {
            bridge: network.bridge,
            model: "virtio",
            firewall: false,
            ...(network.vlan === undefined ? {} : { vlanId: network.vlan }),
            ...(network.mtu === undefined ? {} : { mtu: network.mtu }),
        };
    }
}

