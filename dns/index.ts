// The synrc/ns layer: installs the DNS server on every infra VM from the contour's files area and
// ships the zone generated from the inventory. The infra VMs are changed one after the other, and
// each is waited for until it answers the zone's SOA, so that one of them always answers.
import * as fs from "fs";
import * as path from "path";
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ArtifactSink } from "../lib/artifacts";
import { APT_INSTALL, provision, shellQuote } from "../lib/remote";
import type { ProxmoxLayer } from "../proxmox";
import { NS_CONFIG, NS_ETC, NS_HOME, NS_LAUNCHER, NS_STATE, NS_UNIT, NS_VM_ARGS, NS_ZONES, nsSysConfig, nsUnit, nsVmArgs } from "./nsConfig";
import type { DnsPlan } from "./plan";
import { zoneFileJson } from "./zone";

const script = (name: string) => fs.readFileSync(path.join(__dirname, "files", name), "utf8");
const INSTALL_SCRIPT = script("install-synrc-ns.sh");
const APPLY_SCRIPT = script("synrc-ns-apply.sh");
const LAUNCHER = script("synrc-ns-run.sh");
const SUMS_ENTRY = script("sha256sums-entry.sh");
const INSTALL = "/usr/local/lib/erpdc/install-synrc-ns";
const APPLY = "/usr/local/lib/erpdc/synrc-ns-apply";

export interface SynrcNsArgs {
    readonly plan: DnsPlan;
    readonly proxmox: ProxmoxLayer;
    readonly artifacts: ArtifactSink;
}

/** The settings the VM's scripts read (/etc/synrc-ns/synrc-ns.env), as shell assignments. */
export function nsEnv(values: Readonly<Record<string, string>>): string {
    return Object.entries(values)
        .map(([key, value]) => `${key}=${shellQuote(value)}\n`)
        .join("");
}

export class SynrcNs extends pulumi.ComponentResource {
    /** Per infra VM: done when its server answers with the current zone. */
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

        artifacts.add(`dns/${zoneFile}`, zoneJson);
        artifacts.add("dns/synrc-ns.service", unit);

        const zones: Record<string, command.remote.Command> = {};
        let previous: command.remote.Command | undefined;
        for (const vm of dns.servers) {
            const sysConfig = nsSysConfig({ listenAddress: vm.address, port: 53, zonePath: `/zones/${zoneFile}` });
            const vmArgs = nsVmArgs({ schedulers: vm.cores });
            const env = nsEnv({
                NS_URL: dns.nsArtifact.url,
                NS_SHA256: dns.nsArtifact.sha256 ?? "",
                NS_HOME,
                NS_STATE,
                NS_CONFIG,
                NS_VM_ARGS,
                NS_ZONES,
                NS_ZONE_FILE: zoneFile,
                NS_UNIT,
                NS_LAUNCHER,
                NS_ADDRESS: vm.address,
                NS_DOMAIN: domain,
            });
            artifacts.add(`dns/${vm.name}/sys.config`, sysConfig);
            artifacts.add(`dns/${vm.name}/vm.args`, vmArgs);
            // A rebuilt VM gets it all again (replaceWith).
            const rebuilt = [proxmox.vms[vm.name] as pulumi.Resource];
            const install = provision(
                `${vm.name}-synrc-ns`,
                {
                    connection: proxmox.connection(vm.name),
                    // dig: the apply step's SOA check, from Ubuntu main on the contour's mirror.
                    before: `${APT_INSTALL} bind9-dnsutils`,
                    files: [
                        { path: INSTALL, content: INSTALL_SCRIPT, mode: "0755" },
                        { path: APPLY, content: APPLY_SCRIPT, mode: "0755" },
                        { path: "/usr/local/lib/erpdc/sha256sums-entry", content: SUMS_ENTRY, mode: "0755" },
                        { path: NS_LAUNCHER, content: LAUNCHER, mode: "0755" },
                        { path: `${NS_ETC}/synrc-ns.env`, content: env, mode: "0644" },
                        { path: NS_CONFIG, content: sysConfig, mode: "0644" },
                        { path: NS_VM_ARGS, content: vmArgs, mode: "0644" },
                        { path: NS_UNIT, content: unit, mode: "0644" },
                    ],
                    after: `sudo ${INSTALL}\nsudo ${APPLY}`,
                },
                // After the VM's first boot (apt sources, users); after the previous infra VM
                // answers, so that a new release or configuration never silences two servers at once.
                { parent: this, dependsOn: [proxmox.ready[vm.name] as command.remote.Command, ...(previous ? [previous] : [])], replaceWith: rebuilt },
            );
            const zone = provision(
                `${vm.name}-zone`,
                {
                    connection: proxmox.connection(vm.name),
                    files: [{ path: `${NS_ZONES}/${zoneFile}`, content: zoneJson, mode: "0644" }],
                    after: `sudo ${APPLY}`,
                },
                // One infra VM after the other: each answers the new zone before the next restarts.
                { parent: this, dependsOn: [install], replaceWith: rebuilt },
            );
            zones[vm.name] = zone;
            previous = zone;
        }
        this.zones = zones;
        this.serial = dns.serial;
        this.registerOutputs({ serial: this.serial });
    }
}
