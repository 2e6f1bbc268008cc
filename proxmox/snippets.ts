// The cloud-init snippets of every VM (user-data, network-config, meta-data), published as artifacts
// and uploaded to the snippets datastore of the VM's host.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { ArtifactSink } from "../lib/artifacts";
import type * as tls from "@pulumi/tls";
import { metaData, networkConfig, userData, vendorData } from "./cloudInit";
import type { ProxmoxPlan } from "./plan";

/** scsi1 as the guest sees it on Proxmox (stable, unlike /dev/sdb). */
const DATA_DISK_DEVICE = "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive-scsi1";

/** A VM's cloud-init snippets. */
export interface VmSnippets {
    readonly userData: proxmox.FileLegacy;
    readonly networkData: proxmox.FileLegacy;
    readonly metaData: proxmox.FileLegacy;
    /** The SSH host key (a secret): not published as an artifact. */
    readonly vendorData: proxmox.FileLegacy;
}

export function createSnippets(
    config: ProxmoxPlan,
    adminPublicKey: pulumi.Input<string>,
    trustedCaCertificates: pulumi.Input<pulumi.Input<string>[]>,
    hostKeys: Readonly<Record<string, tls.PrivateKey>>,
    artifacts: ArtifactSink,
    opts: pulumi.CustomResourceOptions,
): Map<string, VmSnippets> {
    const { network, datastores } = config;
    const snippets = new Map<string, VmSnippets>();
    const trusted = pulumi.output(trustedCaCertificates);
    for (const vm of config.vms) {
        const hostKey = hostKeys[vm.name] as tls.PrivateKey;
        const userDataText = pulumi
            .all([adminPublicKey, trusted])
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
        const metaDataText = metaData({ hostname: vm.name });
        artifacts.add(`cloud-init/${vm.name}/user-data`, userDataText);
        artifacts.add(`cloud-init/${vm.name}/network-config`, networkText);
        artifacts.add(`cloud-init/${vm.name}/meta-data`, metaDataText);

        const snippet = (kind: string, data: pulumi.Input<string>) =>
            new proxmox.FileLegacy(
                `${vm.name}-${kind}`,
                {
                    nodeName: datastores.snippets.shared ? (config.hosts[0] as { name: string }).name : vm.host,
                    datastoreId: datastores.snippets.id,
                    contentType: "snippets",
                    sourceRaw: { fileName: `erp-${config.environment}-${vm.name}-${kind}.yaml`, data },
                },
                {
                    ...opts,
                    // The file keeps its name when its content changes; creating the new one first
                    // and then deleting the old one would delete the new file.
                    deleteBeforeReplace: true,
                    // A VM reads its snippets from its own host. When a new Proxmox host changes where
                    // the placement would put a VM, the running VM stays where it is, and so must its files.
                    ignoreChanges: ["nodeName"],
                },
            );
        snippets.set(vm.name, {
            userData: snippet("user-data", userDataText),
            networkData: snippet("network-config", networkText),
            metaData: snippet("meta-data", metaDataText),
            vendorData: snippet(
                "vendor-data",
                pulumi.secret(
                    pulumi
                        .all([hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh])
                        .apply(([hostKeyPrivate, hostKeyPublic]) => vendorData({ hostKeyPrivate, hostKeyPublic })),
                ),
            ),
        });
    }
    return snippets;
}
