import { strict as assert } from "assert";
import { generateZone, validateZone, type Zone, type ZoneInput } from "../../../dns/zone";
import { plannedStack, withTwoInfraVms } from "../../helpers";

const production = () => plannedStack("production");

const baseInput = (): ZoneInput => ({
    domain: "erp.uno",
    ttl: 300,
    hosts: [
        { name: "infra1", address: "10.0.0.5", role: "infra" },
        { name: "k8s-control1", address: "10.0.0.11", role: "controlPlane" },
        { name: "k8s-worker1", address: "10.0.0.21", role: "workers" },
    ],
    nameServers: [{ name: "infra1", address: "10.0.0.5" }],
    apiAddress: "10.0.0.10",
    ingressAddress: "10.0.0.30",
    extraRecords: [],
});

describe("zone", () => {
    const zone = production().dns.zone;
    const records = (type: string, name?: string) => zone.records.filter((r) => r.type === type && (name === undefined || r.name === name));

    it("starts with the SOA and carries the data keys synrc/ns parses, per record type", () => {
        assert.equal(zone.records[0]?.type, "SOA");
        const keys: Record<string, string[]> = {
            SOA: ["expire", "minimum", "mname", "refresh", "retry", "rname", "serial"],
            NS: ["dname"],
            A: ["ip"],
            CNAME: ["dname"],
            SRV: ["port", "priority", "target", "weight"],
        };
        for (const record of zone.records) {
            assert.deepEqual(Object.keys(record.data).sort(), keys[record.type], `${record.name} ${record.type}`);
            assert.ok(Number.isInteger(record.ttl));
        }
    });

    it("has an A record for every VM, the name servers, the API and the ingress names", () => {
        for (const vm of production().proxmox.vms) {
            assert.deepEqual(records("A", vm.fqdn).map((r) => r.data.ip), [vm.address]);
        }
        assert.deepEqual(records("NS").map((r) => r.data.dname), ["ns1.erp.uno", "ns2.erp.uno"]);
        assert.deepEqual(records("A", "ns1.erp.uno").map((r) => r.data.ip), ["10.0.0.5"]);
        assert.deepEqual(records("A", "ns2.erp.uno").map((r) => r.data.ip), ["10.0.0.6"]);
        assert.deepEqual(records("A", "api.erp.uno").map((r) => r.data.ip), ["10.0.0.10"]);
        assert.deepEqual(records("A", "argocd.erp.uno").map((r) => r.data.ip), ["10.0.0.30"]);
        // Both infra VMs serve them: an address each, so that either one down leaves the other.
        for (const service of ["registry", "charts", "files"]) {
            assert.deepEqual(records("A", `${service}.erp.uno`).map((r) => r.data.ip).sort(), ["10.0.0.5", "10.0.0.6"]);
            assert.deepEqual(records("CNAME", `${service}.erp.uno`), []);
        }
        assert.deepEqual(records("SRV", "_etcd-server-ssl._tcp.erp.uno").map((r) => r.data.target).sort(), ["k8s-control1.erp.uno", "k8s-control2.erp.uno", "k8s-control3.erp.uno"]);
    });

    it("has no name with both a CNAME and other records, and no record outside the zone", () => {
        const cnames = new Set(records("CNAME").map((r) => r.name));
        for (const record of zone.records.filter((r) => r.type !== "CNAME")) {
            assert.ok(!cnames.has(record.name), `${record.name} has a CNAME and a ${record.type}`);
        }
        for (const record of zone.records) {
            assert.ok(record.name === "erp.uno" || record.name.endsWith(".erp.uno"), record.name);
        }
    });

    it("keeps the serial over two runs and bumps it when a VM is added", () => {
        assert.deepEqual(generateZone(baseInput()), generateZone(baseInput()));
        const before = generateZone(baseInput()).records[0]?.data.serial;
        const grown = baseInput();
        const after = generateZone({ ...grown, hosts: [...grown.hosts, { name: "k8s-worker2", address: "10.0.0.22", role: "workers" }] }).records[0]?.data.serial;
        assert.notEqual(after, before);
        assert.ok(Number(after) > 0 && Number(after) < 2 ** 31);
        // A change that touches no record (the hosts listed in another order) keeps the serial.
        const reordered = baseInput();
        assert.equal(generateZone({ ...reordered, hosts: [...reordered.hosts].reverse() }).records[0]?.data.serial, before);
    });

    it("refuses to emit a record synrc/ns would drop", () => {
        const bad = (mutate: (zone: { name: string; records: any[] }) => void): string[] => {
            const copy = structuredClone(generateZone(baseInput())) as { name: string; records: any[] };
            mutate(copy);
            return validateZone(copy as Zone);
        };
        assert.match(bad((z) => z.records.push({ name: "mail.example.com", type: "A", ttl: 300, data: { ip: "10.0.0.9" } })).join(), /outside the zone erp\.uno/);
        assert.match(bad((z) => z.records.push({ name: "bad_label.erp.uno", type: "A", ttl: 300, data: { ip: "10.0.0.9" } })).join(), /not a valid DNS name/);
        assert.match(bad((z) => z.records.push({ name: "x.erp.uno", type: "A", ttl: 300, data: { ip: "10.0.0.300" } })).join(), /not an IPv4 address/);
        assert.match(bad((z) => z.records.push({ name: "t.erp.uno", type: "TXT", ttl: 300, data: { txt: "unquoted" } })).join(), /txt must be one or more quoted strings/);
        assert.match(bad((z) => z.records.push({ name: "api.erp.uno", type: "CNAME", ttl: 300, data: { dname: "k8s-control1.erp.uno" } })).join(), /api\.erp\.uno has a CNAME and other records/);
        assert.match(bad((z) => z.records.push({ name: "s.erp.uno", type: "SRV", ttl: 300, data: { priority: 0, weight: 0, port: 70000, target: "a.erp.uno" } })).join(), /port must be 0-65535/);
        assert.match(bad((z) => z.records.push({ name: "m.erp.uno", type: "MX", ttl: 300, data: { exchange: "a.erp.uno" } })).join(), /synrc\/ns expects preference, exchange/);
        assert.deepEqual(bad(() => undefined), []);
    });

    it("lists both name servers when there are two infra VMs", () => {
        const config = plannedStack("production", withTwoInfraVms);
        const ns = config.dns.zone.records.filter((r) => r.type === "NS").map((r) => r.data.dname);
        assert.deepEqual(ns, ["ns1.erp.uno", "ns2.erp.uno"]);
    });
});
