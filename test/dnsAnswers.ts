// What a DNS server must answer for every record of a zone file in synrc/ns's (erldns) JSON, in the
// presentation format dig prints (RFC 1035 section 5.1: names absolute with a trailing dot, SOA
// fields in order, SRV as RFC 2782 writes it), and dig's answer read back: the two compared as sets.
// The zone file is the input; the server (synrc/ns) and dig are the consumers under test.

interface JsonRecord {
    readonly name: string;
    readonly type: string;
    readonly ttl: number;
    readonly data: Readonly<Record<string, string | number>>;
}

export interface ZoneQuery {
    readonly name: string;
    readonly type: string;
    /** "<name>. <ttl> IN <type> <rdata>" lines, sorted. */
    readonly expected: readonly string[];
}

const absolute = (name: string | number | undefined) => `${String(name)}.`;

function rdata(record: JsonRecord): string {
    const d = record.data;
    switch (record.type) {
        case "A":
        case "AAAA":
            return String(d.ip);
        case "NS":
        case "CNAME":
            return absolute(d.dname);
        case "MX":
            return `${d.preference} ${absolute(d.exchange)}`;
        case "SRV":
            return `${d.priority} ${d.weight} ${d.port} ${absolute(d.target)}`;
        case "TXT":
            return String(d.txt);
        case "SOA":
            return `${absolute(d.mname)} ${absolute(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
        default:
            throw new Error(`no presentation format for ${record.type} here; add it`);
    }
}

/** One query per name and type of the zone, with every record it must return. */
export function zoneQueries(zoneJson: string): ZoneQuery[] {
    const [zone] = JSON.parse(zoneJson) as { name: string; records: JsonRecord[] }[];
    if (zone === undefined) throw new Error("the zone file holds no zone");
    const byQuery = new Map<string, { name: string; type: string; lines: string[] }>();
    for (const record of zone.records) {
        const key = `${record.name} ${record.type}`;
        const entry = byQuery.get(key) ?? { name: record.name, type: record.type, lines: [] };
        entry.lines.push(`${absolute(record.name)} ${record.ttl} IN ${record.type} ${rdata(record)}`);
        byQuery.set(key, entry);
    }
    return [...byQuery.values()].map((entry) => ({ name: entry.name, type: entry.type, expected: entry.lines.sort() }));
}

/** The dig command for one query, asked of `server` without recursion over UDP or TCP. */
export function digCommand(server: string, query: Pick<ZoneQuery, "name" | "type">, transport: "udp" | "tcp"): string {
    return `dig +norecurse +noall +answer +time=2 +tries=2 ${transport === "tcp" ? "+tcp" : "+notcp"} @${server} ${query.name} ${query.type}`;
}

/** dig's answer section as "<name> <ttl> <class> <type> <rdata>" lines with single spaces, sorted. */
export function answerLines(digOutput: string): string[] {
    return digOutput
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith(";"))
        .map((line) => {
            const [name, ttl, klass, type, ...rest] = line.split(/\s+/);
            return `${name} ${ttl} ${klass} ${type} ${rest.join(" ")}`;
        })
        .sort();
}
