// The synrc/ns layer: installs the DNS server on every infra VM from the internal files mirror and
// ships the zone generated from the inventory, restarting the servers one by one only when the zone
// changes.
import * as fs from "fs";
import * as path from "path";
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ArtifactSink } from "../lib/artifacts";
import { provision, shellQuote } from "../lib/remote";
import type { ProxmoxLayer } from "../proxmox";
import { NS_CONFIG, NS_STATE, nsSysConfig, nsUnit } from "./nsConfig";
import type { DnsPlan } from "./plan";
import { zoneFileJson } from "./zone";

const INSTALL_SCRIPT = fs.readFileSync(path.join(__dirname, "files", "install-synrc-ns.sh"), "utf8");

export interface SynrcNsArgs {
    readonly plan: DnsPlan;
    readonly proxmox: ProxmoxLayer;
    readonly artifacts: ArtifactSink;
}

export class SynrcNs extends pulumi.ComponentResource {
    /** Per infra VM: done when its server runs with the current zone. */
    readonly zones: Readonly<Record<string, command.remote.Command>>;
    /** The zone's SOA serial; it changes exactly when a record does. */
    readonly serial: number;

    constructor(name: string, args: SynrcNsArgs, opts?: pulumi.ComponentResourceOptions) {
        // The type token is part of every URN in existing state: it never changes.
        super("erpdc:dns:SynrcNs", name, {}, opts);
        const { plan: dns, proxmox, artifacts } = args;
        const { domain } = dns;
        const zoneFile = `${domain}.zone.json`;
        const zoneJson = zoneFileJson(dns.zone);
        const unit = nsUnit(domain, dns.memoryMaxMiB);
        const artifactEnv = `NS_URL=${shellQuote(dns.nsArtifact.url)}\nNS_SHA256=${shellQuote(dns.nsArtifact.sha256 ?? "")}\n`;

        artifacts.add(`dns/${zoneFile}`, zoneJson);
        artifacts.add("dns/synrc-ns.service", unit);

        const zones: Record<string, command.remote.Command> = {};
        let previous: command.remote.Command | undefined;
        for (const vm of dns.servers) {
            const sysConfig = nsSysConfig({ listenAddress: vm.address, port: 53, zonePath: `/zones/${zoneFile}` });
            artifacts.add(`dns/${vm.name}/sys.config`, sysConfig);
            const install = provision(
                `${vm.name}-synrc-ns`,
                {
                    connection: proxmox.connection(vm.name),
                    files: [
                        { path: "/usr/local/lib/erpdc/install-synrc-ns.sh", content: INSTALL_SCRIPT, mode: "0755" },
                        { path: "/etc/synrc-ns/artifact.env", content: artifactEnv, mode: "0644" },
                        { path: NS_CONFIG, content: sysConfig, mode: "0644" },
                        { path: "/etc/systemd/system/synrc-ns.service", content: unit, mode: "0644" },
                    ],
                    after: "sudo /usr/local/lib/erpdc/install-synrc-ns.sh",
                },
                // The VM must have finished its first boot (apt sources, users) before anything is
                // installed; a rebuilt VM gets it all again (replaceWith).
                { parent: this, dependsOn: [proxmox.ready[vm.name] as command.remote.Command], replaceWith: [proxmox.vms[vm.name] as pulumi.Resource] },
            );
            const zone = provision(
                `${vm.name}-zone`,
                {
                    connection: proxmox.connection(vm.name),
                    files: [{ path: `${NS_STATE}/zones/${zoneFile}`, content: zoneJson, owner: "synrc-ns", group: "synrc-ns" }],
                    after: [
                        "sudo systemctl restart synrc-ns",
                        "for attempt in $(seq 1 30); do systemctl is-active --quiet synrc-ns && break; sleep 1; done",
                        "systemctl is-active synrc-ns",
                    ].join("\n"),
                },
                // Restart the servers one after the other, so that one of them always answers; a rebuilt
                // VM gets the zone again (replaceWith).
                { parent: this, dependsOn: previous ? [install, previous] : [install], replaceWith: [proxmox.vms[vm.name] as pulumi.Resource] },
            );
            zones[vm.name] = zone;
            previous = zone;
        }
        this.zones = zones;
        this.serial = dns.serial;
        this.registerOutputs({ serial: this.serial });
    }
}
