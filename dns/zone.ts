// The contour's zone in synrc/ns's (erldns) JSON format: plain data in, zone out.
// synrc/ns silently drops a record it cannot parse, so the generator checks every record it emits
// and throws instead of writing a zone that would lose names without a word.
import { createHash } from "crypto";
import { isIpv4 } from "../lib/net";

export type RecordType = "SOA" | "NS" | "A" | "CNAME" | "MX" | "SRV" | "TXT";

export interface ZoneRecord {
    readonly name: string;
    readonly type: RecordType;
    readonly ttl: number;
    readonly data: Readonly<Record<string, string | number>>;
}

export interface Zone {
    readonly name: string;
    readonly records: readonly ZoneRecord[];
}

/** A record as written in the stack config: `name` relative to the zone ("mail") or "@" for the apex. */
export interface ExtraRecord {
    readonly name: string;
    readonly type: Exclude<RecordType, "SOA" | "NS">;
    readonly ttl?: number;
    readonly data: Readonly<Record<string, string | number>>;
}

export interface ZoneInput {
    readonly domain: string;
    readonly ttl: number;
    /** Every VM: name (a label) and address. */
    readonly hosts: readonly { readonly name: string; readonly address: string; readonly role: string }[];
    /** The infra VMs, in order: ns1, ns2, ...; each serves the registry, the charts and the files too. */
    readonly nameServers: readonly { readonly name: string; readonly address: string }[];
    /** Kubernetes API endpoint (the control-plane virtual IP). */
    readonly apiAddress: string;
    /** The cluster ingress (LoadBalancer address of ingress-nginx). */
    readonly ingressAddress: string;
    readonly extraRecords: readonly ExtraRecord[];
}

export const SERVICE_NAMES = ["registry", "charts", "files"] as const;
export const INGRESS_NAMES = ["argocd", "portal"] as const;
export const API_NAMES = ["api", "k8s-control"] as const;

/** The labels the generator itself uses, which extra records may not take. */
export function generatedLabels(hostNames: readonly string[], nameServerCount: number): Set<string> {
    return new Set([
        ...hostNames,
        ...Array.from({ length: nameServerCount }, (_, i) => `ns${i + 1}`),
        ...SERVICE_NAMES,
        ...API_NAMES,
        ...INGRESS_NAMES,
    ]);
}

/** A name from the stack config relative to the zone: "mail", "_sip._tcp", or "@" for the apex. */
export function relativeName(name: string, domain: string): string {
    if (name === "@" || name === domain) return "@";
    return name.endsWith(`.${domain}`) ? name.slice(0, -domain.length - 1) : name;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const SERVICE_LABEL = /^_[a-z0-9-]{1,62}$/;

export class ZoneError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(`the generated zone is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ZoneError";
    }
}

export function generateZone(input: ZoneInput): Zone {
    const { domain, ttl } = input;
    const fqdn = (label: string) => (label === "@" ? domain : `${label}.${domain}`);
    const records: ZoneRecord[] = [];
    const add = (name: string, type: RecordType, data: ZoneRecord["data"], recordTtl = ttl) =>
        records.push({ name, type, ttl: recordTtl, data });

    input.nameServers.forEach((_, i) => add(domain, "NS", { dname: fqdn(`ns${i + 1}`) }));
    input.nameServers.forEach((server, i) => add(fqdn(`ns${i + 1}`), "A", { ip: server.address }));
    for (const host of input.hosts) {
        add(fqdn(host.name), "A", { ip: host.address });
    }
    // Every infra VM serves the registry, the charts and the files: each name has an address per VM
    // (synrc/ns keeps a list of records per name: records_by_name in include/erldns.hrl), and clients
    // try them in turn: Go's dialer in containerd, helm and ArgoCD (Dialer.Timeout "may be divided
    // between them", src/net/dial.go) and Python's socket.create_connection in Kubespray's downloads.
    for (const service of SERVICE_NAMES) {
        for (const server of input.nameServers) add(fqdn(service), "A", { ip: server.address });
    }
    const [api, apiAlias] = API_NAMES;
    add(fqdn(api), "A", { ip: input.apiAddress });
    add(fqdn(apiAlias), "CNAME", { dname: fqdn(api) });
    for (const name of INGRESS_NAMES) {
        add(fqdn(name), "A", { ip: input.ingressAddress });
    }
    // etcd members by DNS discovery (RFC 2782), and the API for clients that look it up.
    for (const host of input.hosts.filter((h) => h.role === "controlPlane")) {
        add(fqdn("_etcd-server-ssl._tcp"), "SRV", { priority: 0, weight: 10, port: 2380, target: fqdn(host.name) });
        add(fqdn("_etcd-client-ssl._tcp"), "SRV", { priority: 0, weight: 10, port: 2379, target: fqdn(host.name) });
    }
    add(fqdn("_kubernetes._tcp"), "SRV", { priority: 0, weight: 10, port: 6443, target: fqdn("api") });
    for (const extra of input.extraRecords) {
        add(fqdn(extra.name), extra.type, extra.data, extra.ttl ?? ttl);
    }

    const sorted = sortRecords(records);
    const soa: ZoneRecord = {
        name: domain,
        type: "SOA",
        ttl,
        data: {
            mname: fqdn("ns1"),
            rname: fqdn("hostmaster"),
            serial: contentSerial(sorted),
            refresh: 3600,
            retry: 600,
            expire: 1209600,
            minimum: ttl,
        },
    };
    const zone = { name: domain, records: [soa, ...sorted] };
    const problems = validateZone(zone);
    if (problems.length > 0) {
        throw new ZoneError(problems);
    }
    return zone;
}

/** The file synrc/ns loads: an array of zones. */
export function zoneFileJson(zone: Zone): string {
    return `${JSON.stringify([zone], null, 2)}\n`;
}

/**
 * The SOA serial is a function of the records alone: it changes exactly when they change, and two
 * renders of the same inventory give the same zone byte for byte (no timestamps). Kept below 2^31
 * so that serial arithmetic (RFC 1982) never wraps.
 */
function contentSerial(records: readonly ZoneRecord[]): number {
    const digest = createHash("sha256").update(JSON.stringify(records)).digest();
    return (digest.readUInt32BE(0) % 2_000_000_000) + 1;
}

function sortRecords(records: readonly ZoneRecord[]): ZoneRecord[] {
    const order: RecordType[] = ["SOA", "NS", "MX", "A", "CNAME", "SRV", "TXT"];
    return [...records].sort(
        (a, b) =>
            order.indexOf(a.type) - order.indexOf(b.type) ||
            a.name.localeCompare(b.name) ||
            JSON.stringify(a.data).localeCompare(JSON.stringify(b.data)),
    );
}

/**
 * A DNS name synrc/ns serves as written: labels of letters, digits and hyphens, or service labels
 * that start with an underscore (`_sip._tcp`, DKIM's `sel._domainkey`). synrc/ns takes names
 * verbatim (src/erldns_zone_parser.erl at 1bf3f6c, no name validation; its test zones use
 * `_ldap._tcp.dc.test.com`), so the generator is the one that keeps them valid.
 */
export function isZoneName(name: string): boolean {
    return name.length <= 253 && name.split(".").every((label) => LABEL.test(label) || SERVICE_LABEL.test(label));
}

/**
 * One TXT value: one or more quoted character-strings separated by spaces, each at most 255
 * characters, with \" and \\ as escapes (erldns_txt:parse in synrc/ns; RFC 1035 3.3.14).
 */
const TXT_VALUE = /^"(?:[^"\\]|\\.){0,255}"(?: "(?:[^"\\]|\\.){0,255}")*$/;

/** Every reason synrc/ns would drop or misread this record, as "<what>" texts (no record prefix). */
export function recordProblems(record: Pick<ZoneRecord, "name" | "type" | "ttl" | "data">, zoneName: string): string[] {
    const problems: string[] = [];
    const int = (value: unknown, min: number, max: number) => Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
    if (!isZoneName(record.name)) problems.push(`"${record.name}" is not a valid DNS name`);
    if (record.name !== zoneName && !record.name.endsWith(`.${zoneName}`)) problems.push(`"${record.name}" is outside the zone ${zoneName}`);
    if (!int(record.ttl, 0, 2_147_483_647)) problems.push(`ttl ${record.ttl} is not a whole number of seconds`);
    const data = record.data;
    const target = (key: string) => {
        const value = data[key];
        if (typeof value !== "string" || !isZoneName(value)) problems.push(`${key} "${String(value)}" is not a valid DNS name`);
    };
    const expectKeys = (keys: string[]) => {
        const actual = Object.keys(data).sort();
        if (JSON.stringify(actual) !== JSON.stringify([...keys].sort())) {
            problems.push(`data has keys ${actual.join(", ") || "(none)"}; synrc/ns expects ${keys.join(", ")}`);
        }
    };
    switch (record.type) {
        case "SOA":
            expectKeys(["mname", "rname", "serial", "refresh", "retry", "expire", "minimum"]);
            target("mname");
            target("rname");
            for (const key of ["serial", "refresh", "retry", "expire", "minimum"]) {
                if (!int(data[key], 0, 4_294_967_295)) problems.push(`${key} must be an unsigned 32-bit integer`);
            }
            break;
        case "NS":
        case "CNAME":
            expectKeys(["dname"]);
            target("dname");
            break;
        case "A":
            expectKeys(["ip"]);
            if (typeof data.ip !== "string" || !isIpv4(data.ip)) problems.push(`ip "${String(data.ip)}" is not an IPv4 address`);
            break;
        case "MX":
            expectKeys(["preference", "exchange"]);
            target("exchange");
            if (!int(data.preference, 0, 65535)) problems.push("preference must be 0-65535");
            break;
        case "SRV":
            expectKeys(["priority", "weight", "port", "target"]);
            target("target");
            for (const key of ["priority", "weight", "port"]) {
                if (!int(data[key], 0, 65535)) problems.push(`${key} must be 0-65535`);
            }
            break;
        case "TXT":
            expectKeys(["txt"]);
            if (typeof data.txt !== "string" || !TXT_VALUE.test(data.txt)) {
                problems.push('txt must be one or more quoted strings of at most 255 characters each, separated by spaces (\\" and \\\\ escape a quote and a backslash)');
            }
            break;
        default:
            problems.push(`type ${String(record.type)} is not generated by this program`);
    }
    return problems;
}

/** Every reason synrc/ns would drop or misread a record, or the zone would be inconsistent. */
export function validateZone(zone: Zone): string[] {
    const problems: string[] = [];
    const types = new Map<string, Set<RecordType>>();
    const seen = new Set<string>();
    zone.records.forEach((record, i) => {
        const where = `record ${i} (${record.name} ${record.type})`;
        problems.push(...recordProblems(record, zone.name).map((text) => `${where}: ${text}`));
        if (record.type === "SOA" && i !== 0) problems.push(`${where}: the SOA must be the first record`);
        types.set(record.name, new Set([...(types.get(record.name) ?? []), record.type]));
        const key = `${record.name} ${record.type} ${JSON.stringify(record.data)}`;
        if (seen.has(key)) {
            problems.push(`${where}: duplicate record`);
        }
        seen.add(key);
    });
    if (zone.records.filter((r) => r.type === "SOA").length !== 1) {
        problems.push("the zone needs exactly one SOA record");
    }
    for (const [name, set] of types) {
        if (set.has("CNAME") && set.size > 1) {
            problems.push(`${name} has a CNAME and other records (${[...set].join(", ")}); a CNAME must stand alone`);
        }
    }
    const cnames = zone.records.filter((r) => r.type === "CNAME").map((r) => r.name);
    if (new Set(cnames).size !== cnames.length) {
        problems.push("a name has more than one CNAME");
    }
    return problems;
}
