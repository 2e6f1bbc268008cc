// The DNS layer's plan: the names every other layer uses (registry., charts., files., api.,
// argocd., portal. and the infra VM that serves the first three), the extra records, and the zone
// synrc/ns serves. Computed once here; no other file builds one of these names by hand.
import type { StackConfig } from "../config";
import type { Problems } from "../config/problems";
import { isIpv4 } from "../lib/net";
import type { ProxmoxPlan, VmSpec } from "../proxmox/plan";
import { NS_MEMORY_MAX_MIN_MIB, NS_RELEASE } from "./release";
import { API_NAMES, generatedLabels, generateZone, INGRESS_NAMES, isZoneName, recordProblems, relativeName, SERVICE_NAMES, ZoneError, type ExtraRecord, type Zone } from "./zone";

/** Fully qualified names of the contour's services, and the infra VMs behind them. */
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
    /** The infra VMs, in order: each runs synrc/ns (ns1, ns2, ...). */
    readonly servers: readonly VmSpec[];
    /** The infra VM the registry, the chart repository and the files area run on (and their CNAMEs point at). */
    readonly serviceHost: VmSpec;
}

export interface DnsPlan {
    readonly domain: string;
    readonly ttl: number;
    readonly memoryMaxMiB: number;
    readonly nsArtifact: StackConfig["dns"]["nsArtifact"];
    readonly names: ServiceNames;
    /** The infra VMs, in order: each runs synrc/ns (ns1, ns2, ...). */
    readonly servers: readonly VmSpec[];
    /** The infra VM the registry, the chart repository and the files area run on. */
    readonly serviceHost: VmSpec;
    readonly zone: Zone;
    /** The SOA serial: it changes exactly when a record does. */
    readonly serial: number;
}

/** What the DNS plan reads of the configuration. */
export type DnsConfig = Pick<StackConfig, "domain" | "dns">;

/** The derived names, from the domain and the infra VMs (the Proxmox plan guarantees at least one). */
export function serviceNames(domain: string, proxmox: ProxmoxPlan): ServiceNames {
    const fqdn = (label: string) => `${label}.${domain}`;
    const [registry, charts, files] = SERVICE_NAMES.map(fqdn) as [string, string, string];
    const [api, apiAlias] = API_NAMES.map(fqdn) as [string, string];
    const [argocd, portal] = INGRESS_NAMES.map(fqdn) as [string, string];
    const servers = proxmox.vms.filter((vm) => vm.role === "infra");
    return { registry, charts, files, api, apiAlias, argocd, portal, servers, serviceHost: servers[0] as VmSpec };
}

/**
 * The zone and the DNS server's settings. The extra records are checked one by one first (with
 * the operator's index), then against the names the inventory generates when there is one.
 */
export function planDns(config: DnsConfig, proxmox: ProxmoxPlan | undefined, names: ServiceNames | undefined, problems: Problems): DnsPlan | undefined {
    const scope = problems.scope();
    const { domain, dns } = config;
    problems.requireTarball("dns.nsArtifact", dns.nsArtifact, "the synrc/ns release tarball");
    if (dns.memoryMaxMiB < NS_MEMORY_MAX_MIN_MIB) {
        problems.fail(
            "dns.memoryMaxMiB",
            dns.memoryMaxMiB,
            `synrc/ns peaks at about ${NS_RELEASE.startPeakMiB} MiB while it starts (measured), and its MemoryHigh (3/4 of this value) must stay 1.5 times above that; set at least ${NS_MEMORY_MAX_MIN_MIB}`,
        );
    }
    const extraRecords = dns.extraRecords.map((record, i) => checkExtraRecord(`dns.extraRecords[${i}]`, record, domain, dns.ttl, scope));
    checkExtraRecordSet(dns.extraRecords, extraRecords, domain, scope);
    if (proxmox === undefined || names === undefined) {
        return undefined;
    }
    checkAgainstInventory(dns.extraRecords, extraRecords, proxmox, domain, scope);
    if (scope.count > 0 || extraRecords.some((record) => record === undefined)) {
        return undefined;
    }
    let zone: Zone;
    try {
        zone = generateZone({
            domain,
            ttl: dns.ttl,
            hosts: proxmox.vms.map((vm) => ({ name: vm.name, address: vm.address, role: vm.role })),
            nameServers: names.servers.map((vm) => ({ name: vm.name, address: vm.address })),
            apiAddress: proxmox.network.apiAddress,
            ingressAddress: proxmox.network.ingressAddress,
            extraRecords: extraRecords as ExtraRecord[],
        });
    } catch (error) {
        if (error instanceof ZoneError) {
            // Every input was checked above, so a zone the validator refuses is the program's fault.
            problems.add(...error.problems.map((text) => `the generated zone is invalid (a bug in erpdc, not in the stack config): ${text}`));
            return undefined;
        }
        throw error;
    }
    return {
        domain,
        ttl: dns.ttl,
        memoryMaxMiB: dns.memoryMaxMiB,
        nsArtifact: dns.nsArtifact,
        names,
        servers: names.servers,
        serviceHost: names.serviceHost,
        zone,
        serial: zone.records[0]?.data.serial as number,
    };
}

type ExtraRecordConfig = StackConfig["dns"]["extraRecords"][number];

/** One extra record as synrc/ns will read it, or undefined (with the problems reported). */
function checkExtraRecord(key: string, record: ExtraRecordConfig, domain: string, ttl: number, problems: Problems): ExtraRecord | undefined {
    const relative = relativeName(record.name, domain);
    // A dotted name of plain labels is a full name ("mail.example.com"); one with a service label
    // ("sel._domainkey", "_sip._tcp") is relative to the domain.
    const fullName = record.name.includes(".") && !record.name.split(".").some((label) => label.startsWith("_"));
    if (relative === record.name && fullName) {
        problems.fail(`${key}.name`, record.name, `is outside the domain ${domain}; use a name relative to it ("mail") or under it ("mail.${domain}")`);
        return undefined;
    }
    const fqdn = relative === "@" ? domain : `${relative}.${domain}`;
    if (!isZoneName(fqdn)) {
        problems.fail(`${key}.name`, record.name, "not a DNS name; use lowercase labels of letters, digits and hyphens (service labels such as _sip or _domainkey start with _)");
        return undefined;
    }
    if (record.type === "SRV" && !/^_[a-z0-9-]+\._(tcp|udp|tls|sctp)(\.|$)/.test(relative)) {
        problems.fail(`${key}.name`, record.name, "an SRV record's name is _service._proto (RFC 2782), e.g. _sip._tcp");
        return undefined;
    }
    if (record.type === "CNAME" && relative === "@") {
        problems.fail(`${key}.name`, record.name, "a CNAME cannot stand at the zone's apex, which has the SOA and NS records; use an A record or another name");
        return undefined;
    }
    const recordProblemsFound = recordProblems({ name: fqdn, type: record.type, ttl: record.ttl ?? ttl, data: record.data }, domain);
    for (const text of recordProblemsFound) problems.fail(`${key}.data`, record.data, `${text}; write it as synrc/ns reads a ${record.type} record`);
    if (recordProblemsFound.length > 0) return undefined;
    if (record.type === "A") problems.requireInternal(`${key}.data.ip`, String(record.data.ip));
    return { ...record, name: relative } as ExtraRecord;
}

const TARGET_KEY: Readonly<Partial<Record<ExtraRecordConfig["type"], string>>> = { CNAME: "dname", MX: "exchange", SRV: "target" };

/** Duplicates and CNAMEs that do not stand alone, among the operator's own records. */
function checkExtraRecordSet(configured: readonly ExtraRecordConfig[], records: readonly (ExtraRecord | undefined)[], domain: string, problems: Problems): void {
    records.forEach((record, i) => {
        if (record === undefined) return;
        const earlier = records.findIndex((other) => other !== undefined && other.name === record.name && (other.type === "CNAME" || record.type === "CNAME"));
        if (earlier >= 0 && earlier < i) {
            problems.fail(`dns.extraRecords[${i}].name`, configured[i]?.name, `dns.extraRecords[${earlier}] has the same name, and a CNAME must stand alone at its name; use another name`);
        }
        const same = records.findIndex((other) => other !== undefined && JSON.stringify(other) === JSON.stringify(record));
        if (same >= 0 && same < i) {
            problems.fail(`dns.extraRecords[${i}]`, configured[i]?.name, `repeats dns.extraRecords[${same}]; remove one`);
        }
        const targetKey = TARGET_KEY[record.type];
        const target = targetKey === undefined ? undefined : String(record.data[targetKey]);
        if (target === undefined) return;
        if (isIpv4(target) || !target.includes(".")) {
            problems.fail(`dns.extraRecords[${i}].data.${targetKey}`, target, `a ${record.type} target is a full DNS name that resolves, not ${isIpv4(target) ? "an address" : "a bare label"}; write e.g. ${isIpv4(target) ? `mail.${domain} (with an A record for ${target})` : `${target}.${domain}`}`);
        } else if (target !== domain && !target.endsWith(`.${domain}`)) {
            problems.requireInternal(`dns.extraRecords[${i}].data.${targetKey}`, target);
        }
    });
}

/** Against the generated names: no extra record takes one, every in-zone target exists, no VM takes a generated name. */
function checkAgainstInventory(configured: readonly ExtraRecordConfig[], records: readonly (ExtraRecord | undefined)[], proxmox: ProxmoxPlan, domain: string, problems: Problems): void {
    const infraCount = proxmox.vms.filter((vm) => vm.role === "infra").length;
    const vmNames = proxmox.vms.map((vm) => vm.name);
    const generated = generatedLabels(vmNames, infraCount);
    const reservedForServices = generatedLabels([], infraCount);
    for (const vm of proxmox.vms.filter((candidate) => reservedForServices.has(candidate.name))) {
        problems.fail(`vms.${vm.role}.namePrefix`, vm.name.replace(/\d+$/, ""), `gives ${vm.name}, a name the zone already uses for ${vm.name.startsWith("ns") ? "a name server" : "a service"}; choose another prefix`);
    }
    const existing = new Set([...generated, "@", ...records.filter((r): r is ExtraRecord => r !== undefined).map((r) => r.name)]);
    records.forEach((record, i) => {
        if (record === undefined) return;
        if (generated.has(record.name)) {
            problems.fail(`dns.extraRecords[${i}].name`, configured[i]?.name, `${record.name}.${domain} is generated from the inventory; choose another name`);
        }
        const targetKey = TARGET_KEY[record.type];
        const target = targetKey === undefined ? undefined : String(record.data[targetKey]);
        if (target !== undefined && (target === domain || target.endsWith(`.${domain}`)) && !existing.has(relativeName(target, domain))) {
            problems.fail(`dns.extraRecords[${i}].data.${targetKey}`, target, `no record in the zone has this name, so the ${record.type} would point nowhere; add the record or fix the name`);
        }
    });
}
