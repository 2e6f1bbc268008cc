// The Proxmox layer: cloud image, templates, cloud-init snippets, VMs and HA placement rules.
// All decisions (names, IDs, addresses, placement, documents) come from plain functions; this
// component only wires them into resources.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { ArtifactSink } from "../lib/artifacts";
import { environmentTag, type Role } from "../lib/conventions";
import { provision } from "../lib/remote";
import { createSnippets, type VmSnippets } from "./snippets";
import { createHa } from "./ha";
import { cloneLanes } from "./placement";
import type { ProxmoxPlan, TemplateSpec } from "./plan";
import type { NodeBoundWorkload } from "../lib/workloads";
import { topologyMarkdown } from "./topology";

export interface ProxmoxLayerArgs {
    readonly plan: ProxmoxPlan;
    readonly proxmoxApiToken: pulumi.Input<string>;
    /** The key the provider uploads snippets with; without it, the SSH agent (README: prerequisites). */
    readonly proxmoxSshKey?: pulumi.Input<string>;
    readonly artifacts: ArtifactSink;
    /** PEM certificates every VM trusts from first boot (the local CA). */
    readonly trustedCaCertificates?: pulumi.Input<pulumi.Input<string>[]>;
    /** The workloads whose state a lost node takes with it (topology.md's host-loss section). */
    readonly nodeBoundWorkloads?: readonly NodeBoundWorkload[];
}

export interface InventoryEntry {
    readonly name: string;
    readonly fqdn: string;
    readonly role: Role;
    readonly proxmoxHost: string;
    readonly address: string;
    readonly vmId: number;
}


/** Where the provisioning keeps the contour's CA in the VMs' trust store (update-ca-certificates). */
const TRUSTED_CA_FILE = "/usr/local/share/ca-certificates/erpdc-contour-ca.crt";


/**
 * Done when the VM answers SSH and cloud-init has finished its first boot cleanly. `cloud-init
 * status` exits 1 on an error and 2 when the boot finished "degraded", with recoverable errors
 * (cloudinit/cmd/status.py). Both fail here, deliberately: a warning means part of the first boot did
 * not apply (a package, the CA, a mount), and what runs next would fail later and less clearly. The
 * warnings are printed, so that the failure says which.
 */
const READINESS = [
    "code=0",
    "cloud-init status --wait >/dev/null || code=$?",
    'if [ "$code" -ne 0 ]; then',
    '    echo "the first boot by cloud-init did not end cleanly (exit $code: 1 is an error, 2 means it finished with warnings):" >&2',
    "    cloud-init status --long >&2",
    "    grep -E ' (WARNING|ERROR) ' /var/log/cloud-init.log | tail -n 40 >&2",
    "    exit 1",
    "fi",
].join("\n");

export class ProxmoxLayer extends pulumi.ComponentResource {
    readonly provider: proxmox.Provider;
    /** The key of the admin user on every VM; other layers use it for SSH. */
    readonly adminKey: tls.PrivateKey;
    readonly vms: Readonly<Record<string, proxmox.VmLegacy>>;
    /** Per VM: done when the VM answers SSH and cloud-init has finished its first boot. */
    readonly ready: Readonly<Record<string, command.remote.Command>>;
    /** Per VM: done when the VM trusts the current local CA (a rotated one too). */
    readonly trust: Readonly<Record<string, command.remote.Command>>;
    readonly inventory: readonly InventoryEntry[];
    /** Per VM: its SSH host key, pinned by every connection to it. */
    readonly hostKeys: Readonly<Record<string, tls.PrivateKey>>;
    private readonly adminUser: string;
    private readonly addresses: Readonly<Record<string, string>>;

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
                    // The agent takes precedence over a key in the provider (bpg docs/index.md), so it is off with one.
                    agent: config.provider.sshAgent,
                    ...(args.proxmoxSshKey === undefined ? {} : { privateKey: args.proxmoxSshKey }),
                    nodes: config.hosts.map((host) => ({ name: host.name, address: host.address })),
                },
            },
            { parent: this },
        );
        const resourceOpts = { parent: this, provider: this.provider };

        // Protected: the VMs learn this key at first boot only, so `--replace` would lock every command
        // out of them. The README's day-2 steps say how to rotate it.
        this.adminKey = new tls.PrivateKey("admin-ssh", { algorithm: "ED25519" }, { parent: this, protect: true });

        // Every VM's SSH host key, made here and handed to cloud-init (vendor-data), so that every SSH
        // client of the program pins it instead of trusting whatever answers first. Not replaced with
        // the VM: a rebuilt VM gets the same key back, and the pins stay valid.
        this.hostKeys = Object.fromEntries(config.vms.map((vm) => [vm.name, new tls.PrivateKey(`${vm.name}-host-key`, { algorithm: "ED25519" }, { parent: this })]));
        this.addresses = Object.fromEntries(config.vms.map((vm) => [vm.name, vm.address]));

        const templates = this.createTemplates(config, resourceOpts);
        const snippets = createSnippets(config, this.adminKey.publicKeyOpenssh, args.trustedCaCertificates ?? [], this.hostKeys, args.artifacts, resourceOpts);
        this.adminUser = config.adminUser;
        this.vms = this.createVms(config, templates, snippets, resourceOpts);
        createHa(config, this.vms, resourceOpts);
        this.ready = Object.fromEntries(
            config.vms.map((vm) => [
                vm.name,
                new command.remote.Command(
                    `${vm.name}-ready`,
                    { connection: this.connection(vm.name), create: READINESS },
                    {
                        parent: this,
                        // The connection names the VM by address only: wait for the VM resource itself,
                        // and run again on a rebuilt VM (replaceWith), so that what follows runs there too.
                        dependsOn: [this.vms[vm.name] as proxmox.VmLegacy],
                        replaceWith: [this.vms[vm.name] as proxmox.VmLegacy],
                    },
                ),
            ]),
        );

        // The CA reaches a VM at first boot through cloud-init; a rotated CA reaches running VMs here.
        const certificates = pulumi.output(args.trustedCaCertificates ?? []).apply((pems) => pems.join("\n"));
        this.trust = Object.fromEntries(
            config.vms.map((vm) => [
                vm.name,
                provision(
                    `${vm.name}-ca`,
                    {
                        connection: this.connection(vm.name),
                        files: [certificates.apply((content) => ({ path: TRUSTED_CA_FILE, content, mode: "0644" }))],
                        // containerd reads the trust store when it starts: a new CA needs a restart there.
                        after: "sudo update-ca-certificates >/dev/null\nif systemctl is-active --quiet containerd; then sudo systemctl restart containerd; fi",
                    },
                    { parent: this, dependsOn: [this.ready[vm.name] as command.remote.Command], replaceWith: [this.vms[vm.name] as proxmox.VmLegacy] },
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
        artifacts.add("topology.md", topologyMarkdown(config, args.nodeBoundWorkloads));

        this.registerOutputs({ inventory: this.inventory, sshPublicKey: this.adminKey.publicKeyOpenssh });
    }

    /**
     * SSH to a VM as the admin user with the generated key (a secret input), accepting only the VM's
     * own host key (the provider checks `hostKey` with ssh.FixedHostKey: pulumi-command v1.2.1
     * provider/pkg/provider/remote/connection.go).
     */
    connection(vmName: string): command.types.input.remote.ConnectionArgs {
        const address = this.addresses[vmName];
        const hostKey = this.hostKeys[vmName];
        if (address === undefined || hostKey === undefined) {
            throw new Error(`no VM ${vmName} in this stack`);
        }
        return { host: address, user: this.adminUser, privateKey: pulumi.secret(this.adminKey.privateKeyOpenssh), hostKey: hostKey.publicKeyOpenssh };
    }

    /** known_hosts lines for the VMs, by address, name and FQDN: for the Kubespray runner's ssh and Ansible. */
    knownHosts(vms: readonly { readonly name: string; readonly fqdn: string; readonly address: string }[]): pulumi.Output<string> {
        return pulumi
            .all(vms.map((vm) => (this.hostKeys[vm.name] as tls.PrivateKey).publicKeyOpenssh))
            .apply((keys) => vms.map((vm, i) => `${vm.address},${vm.name},${vm.fqdn} ${(keys[i] as string).trim()}\n`).join(""));
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
                    // A new image has another file name (proxmox/plan.ts imageFileName), so it is
                    // downloaded beside the old one, which is deleted once nothing uses it.
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
                tags: ["template", environmentTag(config.environment)],
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
            {
                ...opts,
                // The disk is imported once, when the template is made (the provider ignores a later
                // importFrom): a new image must rebuild the template, which takes the fixed VM ID again,
                // so the old template goes first. Full clones do not depend on it.
                replaceWith: [image],
                deleteBeforeReplace: true,
            },
        );
    }

    private createVms(
        config: ProxmoxPlan,
        templates: ReadonlyMap<string, proxmox.VmLegacy>,
        snippets: ReadonlyMap<string, VmSnippets>,
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
            const files = snippets.get(vm.name) as VmSnippets;
            const protect = config.protectVms && !config.decommission.includes(vm.name);
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
                    protection: protect,
                    ...this.hardware(config, vm.cores, vm.memoryMiB),
                    // The VM is done once cloned, configured and started: waiting for the guest agent's
                    // address (the agent arrives with cloud-init's packages, minutes later) would hold
                    // the next clone on this host's storage lock that long. Readiness is the VM's own
                    // step (<vm>-ready, over SSH). Nothing reads ipv4Addresses.
                    agent: { enabled: true, trim: true, waitForIp: { disabled: true } },
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
                        metaDataFileId: files.metaData.id,
                        vendorDataFileId: files.vendorData.id,
                    },
                },
                {
                    ...opts,
                    // A replacement destroys the VM's disks: production VMs must never be replaced by
                    // accident. A VM listed in vms.decommission loses both protections, so that it can go.
                    protect,
                    // The VM ID is fixed, and Proxmox refuses a second VM with it ("config file already
                    // exists"): a replacement must delete the old VM first.
                    deleteBeforeReplace: true,
                    // Every clone.* field and the cloud-init file IDs force a new VM in the provider
                    // (bpg proxmoxtf/resource/vm/vm.go, ForceNew), yet they matter only when the VM is made:
                    // a new clone source (another host's template, a new image), retries or snippet are
                    // no reason to destroy a running VM; later changes reach it through command resources.
                    // nodeName: HA moves VMs between hosts, and that is not drift to undo.
                    ignoreChanges: [
                        "nodeName",
                        "clone",
                        "initialization.userDataFileId",
                        "initialization.networkDataFileId",
                        "initialization.metaDataFileId",
                        // The host key reaches a VM at its first boot only; a VM made before the key
                        // existed keeps its own until it is rebuilt (README: day-2, pinned host keys).
                        "initialization.vendorDataFileId",
                        // Matters only while the VM is made; a change of the agent block reboots a running
                        // VM (rebootRequired, bpg v0.111.1 proxmoxtf/resource/vm/vm.go vmUpdate).
                        "agent.waitForIp",
                    ],
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

