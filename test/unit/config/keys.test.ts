// Every configuration key is described, documented in the README, and does something: changing it
// changes a generated file or a resource input (or, for the few keys that only draw the line of
// what is accepted, changes the verdict on a config).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError } from "../../../config";
import { configKeys } from "../../../config/keys";
import { BEGIN, END, README, withGeneratedTable } from "../../../scripts/docs";
import type { StackRun } from "../../../render/engine";
import { plannedStack, runStackFile } from "../../helpers";

type Doc = Record<string, any>;
type Edit = (doc: Doc) => void;

interface KeyEdit {
    /** The committed stack the edit starts from; dev (the cheapest run) when absent. */
    readonly stack?: string;
    /** Applied to both runs, when the key only matters in a setting the stack does not have. */
    readonly base?: Edit;
    /** Changes the key to another valid value (and, where a value must stay consistent, its partner). */
    readonly edit: Edit;
    /** The stack name the edited config runs under, when the edit changes which stack it fits. */
    readonly as?: string;
}

const at = (doc: Doc, key: string) => doc[`erpdc:${key}`];
const set = (key: string, value: unknown): Edit => (doc) => {
    const [top, ...rest] = key.split(".") as [string, ...string[]];
    if (rest.length === 0) {
        doc[`erpdc:${top}`] = structuredClone(value);
        return;
    }
    doc[`erpdc:${top}`] ??= {};
    let node = doc[`erpdc:${top}`];
    for (const part of rest.slice(0, -1)) node = node[part] ??= {};
    node[rest[rest.length - 1] as string] = structuredClone(value);
};
const hex = (length: number, digit = "a") => digit.repeat(length);
/** An (empty) bundle of the dev stack, for bundle.dir. */
const DEV_BUNDLE = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-keys-bundle-"));
fs.writeFileSync(path.join(DEV_BUNDLE, "manifest.json"), JSON.stringify({ stack: "dev", items: [] }));
after(() => fs.rmSync(DEV_BUNDLE, { recursive: true, force: true }));
const oneRecord: Edit = set("dns.extraRecords", [{ name: "mail", type: "A", data: { ip: "10.0.10.40" } }]);
const record = (patch: Record<string, unknown>): Edit => (doc) => Object.assign(at(doc, "dns").extraRecords[0], patch);

/** A Proxmox host other than the one the role's first VM lands on in staging (two hosts). */
function otherStagingHost(role: "infra" | "controlPlane" | "workers"): string[] {
    const plan = plannedStack("staging").proxmox;
    const first = plan.vms.find((vm) => vm.role === role)?.host;
    return plan.hosts.map((host) => host.name).filter((name) => name !== first);
}

const ROLE_EDITS = (role: "infra" | "controlPlane" | "workers", prefix: string): Record<string, KeyEdit> => {
    const key = `vms.${role}`;
    const addresses = { infra: ["10.0.0.5", "10.0.0.7"], controlPlane: ["10.0.0.11", "10.0.0.12", "10.0.0.14"], workers: ["10.0.0.21", "10.0.0.22", "10.0.0.24"] }[role];
    return {
        [`${key}.count`]:
            role === "controlPlane"
                ? { stack: "production", base: set("proxmox.controlPlaneAntiAffinity", "preferred"), edit: (d) => Object.assign(at(d, "vms").controlPlane, { count: 5, addresses: ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14", "10.0.0.15"] }) }
                : role === "infra"
                  ? { stack: "production", edit: (d) => Object.assign(at(d, "vms").infra, { count: 3, addresses: ["10.0.0.5", "10.0.0.6", "10.0.0.7"] }) }
                  : { stack: "production", edit: (d) => Object.assign(at(d, "vms").workers, { count: 4, addresses: ["10.0.0.21", "10.0.0.22", "10.0.0.23", "10.0.0.24"] }) },
        [`${key}.namePrefix`]: { stack: "production", edit: (d) => (at(d, "vms")[role].namePrefix = prefix) },
        [`${key}.vmIdStart`]: { stack: "production", edit: (d) => (at(d, "vms")[role].vmIdStart += 1000) },
        [`${key}.cores`]: { stack: "production", edit: (d) => (at(d, "vms")[role].cores += 2) },
        [`${key}.memoryMiB`]: { stack: "production", edit: (d) => (at(d, "vms")[role].memoryMiB += 1024) },
        [`${key}.diskGiB`]: { stack: "production", edit: (d) => (at(d, "vms")[role].diskGiB += 10) },
        [`${key}.dataDiskGiB`]: { stack: "production", edit: (d) => (at(d, "vms")[role].dataDiskGiB = (at(d, "vms")[role].dataDiskGiB ?? 50) + 100) },
        [`${key}.addresses`]: { stack: "production", edit: (d) => (at(d, "vms")[role].addresses = addresses) },
        [`${key}.hosts`]: { stack: "staging", edit: (d) => (at(d, "vms")[role].hosts = otherStagingHost(role)) },
    };
};

const EDITS: Record<string, KeyEdit> = {
    // A stack's environment follows its name, so the edited config runs as a dev stack.
    environment: { stack: "staging", edit: set("environment", "dev"), as: "dev-copy" },
    domain: { edit: set("domain", "erp.internal") },
    protectVms: { edit: set("protectVms", true) },
    "proxmox.hosts[].name": { stack: "production", edit: (d) => (at(d, "proxmox").hosts[2].name = "pve4") },
    "proxmox.hosts[].address": { edit: (d) => (at(d, "proxmox").hosts[0].address = "10.0.1.19") },
    "proxmox.hosts[].cores": { edit: (d) => (at(d, "proxmox").hosts[0].cores += 8) },
    "proxmox.hosts[].memoryGiB": { edit: (d) => (at(d, "proxmox").hosts[0].memoryGiB += 64) },
    // HA works only where the disks and snippets are on shared storage, so the base stack has them there.
    "proxmox.haMode": {
        stack: "production",
        base: (d) => Object.assign(at(d, "proxmox").datastores, { disks: { id: "ceph-vm", type: "rbd" }, snippets: { id: "cephfs", type: "cephfs", shared: true } }),
        edit: set("proxmox.haMode", "rules"),
    },
    "proxmox.memoryReserveGiB": { edit: set("proxmox.memoryReserveGiB", 6) },
    "proxmox.cpuOvercommit": { edit: set("proxmox.cpuOvercommit", 3) },
    "proxmox.datastores.disks.id": { edit: (d) => (at(d, "proxmox").datastores.disks.id = "tank") },
    "proxmox.datastores.disks.type": { stack: "production", edit: (d) => (at(d, "proxmox").datastores.disks = { id: "ceph-vm", type: "rbd" }) },
    "proxmox.datastores.images.id": { edit: (d) => (at(d, "proxmox").datastores.images.id = "isos") },
    "proxmox.datastores.images.type": { edit: (d) => (at(d, "proxmox").datastores.images.type = "btrfs") },
    "proxmox.datastores.images.shared": { stack: "production", edit: (d) => (at(d, "proxmox").datastores.images.shared = true) },
    "proxmox.datastores.snippets.id": { edit: (d) => (at(d, "proxmox").datastores.snippets.id = "cephfs") },
    "proxmox.datastores.snippets.type": { edit: (d) => (at(d, "proxmox").datastores.snippets = { id: "cephfs", type: "cephfs", shared: true }) },
    "proxmox.datastores.snippets.shared": { stack: "production", edit: (d) => (at(d, "proxmox").datastores.snippets.shared = true) },
    "proxmox.network.bridge": { edit: set("proxmox.network.bridge", "vmbr1") },
    "proxmox.network.vlan": { edit: set("proxmox.network.vlan", 20) },
    "proxmox.network.mtu": { edit: set("proxmox.network.mtu", 9000) },
    "proxmox.ssh.username": { edit: set("proxmox.ssh.username", "pulumi") },
    "proxmox.clones.retries": { edit: set("proxmox.clones.retries", 5) },
    "proxmox.clones.parallelPerHost": { stack: "production", edit: set("proxmox.clones.parallelPerHost", 1) },
    "image.url": { edit: (d) => (at(d, "image").url = at(d, "image").url.replace("2026-07-26", "2026-08-01")) },
    // The checksum follows the algorithm's length, so both change together.
    "image.checksumAlgorithm": { edit: (d) => Object.assign(at(d, "image"), { checksumAlgorithm: "sha512", checksum: hex(128) }) },
    "image.checksum": { edit: set("image.checksum", hex(64)) },
    "network.cidr": { edit: set("network.cidr", "10.0.10.0/23") },
    "network.gateway": { edit: set("network.gateway", "10.0.10.254") },
    "network.apiAddress": { edit: set("network.apiAddress", "10.0.10.9") },
    "network.ingressAddress": { edit: set("network.ingressAddress", "10.0.10.31") },
    "network.dnsServers": { edit: set("network.dnsServers", ["10.0.10.5", "10.0.10.1"]) },
    "network.ntpServers": { edit: set("network.ntpServers", ["10.0.10.3"]) },
    "vms.adminUser": { edit: set("vms.adminUser", "operator") },
    "vms.cpuType": { edit: set("vms.cpuType", "host") },
    "vms.template.name": { edit: set("vms.template.name", "noble-cloud") },
    "vms.template.vmIdStart": { edit: set("vms.template.vmIdStart", 8000) },
    "vms.template.diskGiB": { edit: set("vms.template.diskGiB", 8) },
    "vms.decommission": { stack: "production", edit: set("vms.decommission", ["k8s-worker3"]) },
    ...ROLE_EDITS("infra", "svc"),
    ...ROLE_EDITS("controlPlane", "k8s-cp"),
    ...ROLE_EDITS("workers", "k8s-node"),
    "mirrors.apt": { edit: set("mirrors.apt", "http://10.0.0.3/ubuntu") },
    "pki.algorithm": { edit: set("pki.algorithm", "RSA") },
    "pki.ecdsaCurve": { edit: set("pki.ecdsaCurve", "P384") },
    "pki.rsaBits": { base: set("pki.algorithm", "RSA"), edit: set("pki.rsaBits", 4096) },
    "pki.caValidityDays": { edit: set("pki.caValidityDays", 1825) },
    "pki.serverValidityDays": { edit: set("pki.serverValidityDays", 90) },
    "pki.organization": { edit: set("pki.organization", "ERP/1 Contour") },
    "dns.ttl": { edit: set("dns.ttl", 600) },
    "dns.memoryMaxMiB": { edit: set("dns.memoryMaxMiB", 512) },
    "dns.nsArtifact.url": { edit: (d) => (at(d, "dns").nsArtifact.url = at(d, "dns").nsArtifact.url.replace("3.0.0", "3.0.1")) },
    "dns.nsArtifact.sha256": { edit: (d) => (at(d, "dns").nsArtifact.sha256 = hex(64, "b")) },
    "dns.extraRecords[].name": { base: oneRecord, edit: record({ name: "smtp" }) },
    // A record's data follows its type, so both change together.
    "dns.extraRecords[].type": { base: oneRecord, edit: record({ type: "TXT", data: { txt: '"v=spf1 -all"' } }) },
    "dns.extraRecords[].ttl": { base: oneRecord, edit: record({ ttl: 60 }) },
    "dns.extraRecords[].data": { base: oneRecord, edit: record({ data: { ip: "10.0.10.41" } }) },
    "registry.username": { edit: set("registry.username", "pusher") },
    "registry.pullUsername": { edit: set("registry.pullUsername", "nodes") },
        // The tarball's URL names the release, so both change together.
    "kubernetes.kubesprayVersion": {
        base: set("kubernetes.kubeVersion", "1.31.4"),
        edit: (d) => Object.assign(at(d, "kubernetes"), { kubesprayVersion: "v2.27.0", kubespraySource: { url: "http://10.0.0.2/files/kubespray/kubespray-2.27.0.tar.gz", sha256: "b5a5d50b3b23551ffc3eb9c18102c7948d32e87efe313161f09ce20c4435e442" } }),
    },
    "kubernetes.kubeVersion": { edit: set("kubernetes.kubeVersion", "1.32.4") },
    "kubernetes.ansibleCoreVersion": { edit: set("kubernetes.ansibleCoreVersion", "2.16.15") },
    "kubernetes.podCidr": { edit: set("kubernetes.podCidr", "10.244.0.0/16") },
    "kubernetes.serviceCidr": { edit: set("kubernetes.serviceCidr", "10.96.0.0/16") },
    "kubernetes.clusterDomain": { edit: set("kubernetes.clusterDomain", "cluster.internal") },
    "kubernetes.metallbPool": { edit: (d) => (at(d, "kubernetes").metallbPool = at(d, "kubernetes").metallbPool.replace(/\.\d+$/, ".45")) },
    "kubernetes.certManager": { edit: set("kubernetes.certManager", true) },
    "kubernetes.runner": { edit: set("kubernetes.runner", "local") },
    "kubernetes.kubespraySource.url": { edit: (d) => (at(d, "kubernetes").kubespraySource.url = at(d, "kubernetes").kubespraySource.url.replace("/kubespray/", "/kubespray/v/")) },
    "kubernetes.kubespraySource.sha256": { edit: (d) => (at(d, "kubernetes").kubespraySource.sha256 = hex(64, "c")) },
    "kubernetes.pythonIndexUrl": { edit: set("kubernetes.pythonIndexUrl", "http://10.0.0.3/pypi/simple/") },
    "apps.profile": { stack: "production", edit: set("apps.profile", "light") },
    "apps.imageVersion": { edit: set("apps.imageVersion", "2026.12.1") },
    "apps.gitRepoUrl": { edit: (d) => Object.assign(at(d, "apps"), { gitRepoUrl: "https://git.dev.erp.uno/erp/erp-uno.git", gitRevision: "2026.11.1" }) },
    "apps.gitRevision": {
        base: (d) => Object.assign(at(d, "apps"), { gitRepoUrl: "https://git.dev.erp.uno/erp/erp-uno.git", gitRevision: "2026.11.1" }),
        edit: (d) => (at(d, "apps").gitRevision = "0123456789abcdef0123456789abcdef01234567"),
    },
    // A chart version names its images: the other row of apps/argocd.ts, on a Kubernetes both rows are tested on.
    "apps.argocd.chartVersion": {
        base: set("kubernetes.kubeVersion", "1.30.13"),
        edit: (d) => Object.assign(at(d, "apps").argocd, { chartVersion: "7.7.11", imageTag: "v2.13.2", redisImageTag: "7.4.1-alpine" }),
    },
    "apps.argocd.imageTag": { edit: set("apps.argocd.imageTag", "v3.1.9") },
    "apps.argocd.redisImageTag": { edit: set("apps.argocd.redisImageTag", "7.2.12-alpine") },
    "bundle.dir": { edit: set("bundle.dir", DEV_BUNDLE) },
};

/**
 * Keys that build nothing themselves but draw the line of what is accepted: each changes the
 * verdict on a config (refused with one value, accepted with the other).
 */
const CHECK_ONLY: Record<string, { readonly stack: string; readonly config: Edit; readonly accepting: Edit }> = {
    internalDomains: {
        stack: "production",
        config: (d) => (at(d, "mirrors").apt = "http://mirror.corp.example/ubuntu"),
        accepting: set("internalDomains", ["corp.example"]),
    },
    "proxmox.controlPlaneAntiAffinity": {
        stack: "staging",
        config: (d) => Object.assign(at(d, "vms").controlPlane, { count: 3, addresses: ["10.0.20.11", "10.0.20.12", "10.0.20.13"] }),
        accepting: set("proxmox.controlPlaneAntiAffinity", "preferred"),
    },
};

/** Everything a run produces that a user or the engine sees. */
async function fingerprint(run: StackRun): Promise<string> {
    const resources = run.resources.map(({ type, name, inputs, dependencies, protect, ignoreChanges, deleteBeforeReplace, secretDigest }) => ({
        type,
        name,
        inputs,
        dependencies,
        protect,
        ignoreChanges,
        deleteBeforeReplace,
        secretDigest,
    }));
    return JSON.stringify({ resources, artifacts: [...(await run.artifacts.collect())], outputs: run.outputs });
}

const leafKeys = () => configKeys().filter((entry) => !entry.container).map((entry) => entry.key);

describe("configuration keys", () => {
    it("describes every key in the schema", () => {
        for (const entry of configKeys()) assert.ok(entry.description.length > 10, `${entry.key} has no description`);
    });

    it("lists exactly the schema's keys in the README's configuration table (npm run docs)", () => {
        const readme = fs.readFileSync(README, "utf8");
        assert.equal(withGeneratedTable(readme), readme, "the README's table is out of date: run `npm run docs`");
        const section = readme.slice(readme.indexOf(BEGIN), readme.indexOf(END));
        const listed = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
        assert.deepEqual(listed, configKeys().map((entry) => entry.key));
    });

    it("has a change for every key, so that a new key cannot go unused", () => {
        assert.deepEqual([...leafKeys()].sort(), [...Object.keys(EDITS), ...Object.keys(CHECK_ONLY)].sort());
    });

    describe("changing a key changes what the program builds", () => {
        let stackTraceLimit: number;
        // The SDK captures a stack trace per output; these runs need none and are several times faster without.
        before(() => {
            stackTraceLimit = Error.stackTraceLimit;
            Error.stackTraceLimit = 0;
        });
        after(() => {
            Error.stackTraceLimit = stackTraceLimit;
        });

        // One baseline run per stack, and one for each key that needs a base setting; each in a hook
        // of its own, so that every hook and every test makes one program run.
        const groups = new Map<string, [string, KeyEdit][]>();
        for (const [key, change] of Object.entries(EDITS)) {
            const group = change.base ? `${change.stack ?? "dev"} with the base of ${key}` : (change.stack ?? "dev");
            groups.set(group, [...(groups.get(group) ?? []), [key, change]]);
        }
        for (const [group, changes] of groups) {
            describe(group, () => {
                const [, first] = changes[0] as [string, KeyEdit];
                const stack = first.stack ?? "dev";
                let baseline: string;
                before(async () => {
                    baseline = await fingerprint(await runStackFile(stack, first.base ? { edit: first.base } : {}));
                });
                for (const [key, change] of changes) {
                    it(key, async () => {
                        const edited = await runStackFile(stack, { edit: (doc) => (change.base?.(doc), change.edit(doc)), ...(change.as ? { as: change.as } : {}) });
                        assert.notEqual(await fingerprint(edited), baseline, `changing ${key} changed nothing the program builds`);
                    });
                }
            });
        }
    });

    describe("keys that only draw the line of what is accepted", () => {
        for (const [key, check] of Object.entries(CHECK_ONLY)) {
            it(key, () => {
                assert.throws(() => plannedStack(check.stack, (raw) => check.config(asDoc(raw))), ConfigError);
                assert.doesNotThrow(() => plannedStack(check.stack, (raw) => (check.config(asDoc(raw)), check.accepting(asDoc(raw)))));
            });
        }
    });
});

/** plannedStack edits raw keys without the erpdc: prefix; the edits here are written for stack documents. */
function asDoc(raw: Record<string, any>): Doc {
    return new Proxy(raw, {
        get: (target, property) => (typeof property === "string" && property.startsWith("erpdc:") ? target[property.slice(6)] : target[property as string]),
        set: (target, property, value) => {
            target[typeof property === "string" && property.startsWith("erpdc:") ? property.slice(6) : (property as string)] = value;
            return true;
        },
    });
}
