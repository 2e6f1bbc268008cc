// The DNS layer's plan: the names every other layer uses (registry., charts., files., api.,
// argocd., portal. and the infra VM that serves the first three), the extra records, and the zone
// synrc/ns serves. Computed once here; no other file builds one of these names by hand.
import type { StackConfig } from "../config";
import type { Problems } from "../config/problems";
import type { ProxmoxPlan, VmSpec } from "../proxmox/plan";
import { API_NAMES, generatedLabels, generateZone, INGRESS_NAMES, relativeName, SERVICE_NAMES, ZoneError, type ExtraRecord, type Zone } from "./zone";

/** Fully qualified names of the contour's services. */
export interface ServiceNames {
    /** The OCI registry (and its TLS name). */
    readonly registry: string;
    /** The classic Helm chart repository. */
    readonly charts: string;
    /** The files area (Kubespray's offline files, tarballs). */
    readonly files: string;
    /** The Kubernetes API virtual IP. */
    readonly api: string;
    /** An alias of the API name. */
    readonly apiAlias: string;
    readonly argocd: string;
    readonly portal: string;
}

export interface DnsPlan {
    readonly domain: string;
    readonly ttl: number;
    readonly memoryMaxMiB: number;
    readonly nsArtifact: StackConfig["dns"]["nsArtifact"];
    readonly names: ServiceNames;
    /** The infra VMs, in order: each runs synrc/ns (ns1, ns2, ...). */
    readonly servers: readonly VmSpec[];
    /** The infra VM the registry, the chart repository and the files area run on (and their CNAMEs point at). */
    readonly serviceHost: VmSpec;
    readonly zone: Zone;
    /** The SOA serial: it changes exactly when a record does. */
    readonly serial: number;
}

export function serviceNames(domain: string): ServiceNames {
    const fqdn = (label: string) => `${label}.${domain}`;
    const [registry, charts, files] = SERVICE_NAMES.map(fqdn) as [string, string, string];
    const [api, apiAlias] = API_NAMES.map(fqdn) as [string, string];
    const [argocd, portal] = INGRESS_NAMES.map(fqdn) as [string, string];
    return { registry, charts, files, api, apiAlias, argocd, portal };
}

export function planDns(config: StackConfig, proxmox: ProxmoxPlan, problems: Problems): DnsPlan | undefined {
    const before = problems.count;
    const { domain, dns } = config;
    problems.requireTarball("dns.nsArtifact", dns.nsArtifact, "the synrc/ns release tarball");
    const servers = proxmox.vms.filter((vm) => vm.role === "infra");
    const generated = generatedLabels(
        proxmox.vms.map((vm) => vm.name),
        servers.length,
    );
    const extraRecords = dns.extraRecords.map((record, i) => {
        const key = `dns.extraRecords[${i}].name`;
        const relative = relativeName(record.name, domain);
        if (checkRecordName(key, record.name, relative, domain, problems) && generated.has(relative)) {
            problems.fail(key, record.name, `${relative}.${domain} is generated from the inventory; choose another name`);
        }
        return { ...record, name: relative } as ExtraRecord;
    });
    const serviceHost = servers[0];
    if (problems.count > before || serviceHost === undefined) {
        return undefined;
    }
    let zone: Zone;
    try {
        zone = generateZone({
            domain,
            ttl: dns.ttl,
            hosts: proxmox.vms.map((vm) => ({ name: vm.name, address: vm.address, role: vm.role })),
            nameServers: servers.map((vm) => ({ name: vm.name, address: vm.address })),
            apiAddress: proxmox.network.apiAddress,
            ingressAddress: proxmox.network.ingressAddress,
            extraRecords,
        });
    } catch (error) {
        if (error instanceof ZoneError) {
            problems.add(...error.problems.map((text) => `dns.extraRecords: ${text}; fix the record in the stack config`));
            return undefined;
        }
        throw error;
    }
    const serial = zone.records[0]?.data.serial as number;
    return {
        domain,
        ttl: dns.ttl,
        memoryMaxMiB: dns.memoryMaxMiB,
        nsArtifact: dns.nsArtifact,
        names: serviceNames(domain),
        servers,
        serviceHost,
        zone,
        serial,
    };
}

/** True when the record's name is a DNS name inside the domain. */
function checkRecordName(key: string, name: string, relative: string, domain: string, problems: Problems): boolean {
    if (relative === name && name.includes(".") && !name.startsWith("_")) {
        problems.fail(key, name, `is outside the domain ${domain}; use a name relative to it ("mail") or under it ("mail.${domain}")`);
        return false;
    }
    const labels = relative === "@" ? [] : relative.split(".");
    if (!labels.every((label) => /^(?!-)[a-z0-9-]{1,63}(?<!-)$/.test(label) || /^_[a-z0-9-]{1,62}$/.test(label))) {
        problems.fail(key, name, "not a DNS name; use lowercase labels of letters, digits and hyphens (SRV labels start with _)");
        return false;
    }
    return true;
}
