// The root plan against operators' mistakes: every mistake is refused before any resource is
// registered, with the key and the value as written and the fix, and with nothing that only
// follows from it; every sound edit is accepted.
import { strict as assert } from "assert";
import { ConfigError, show } from "../../config";
import { runStack, type RecordedResource } from "../../render/engine";
import { fromConfigMap } from "../../render/stackConfig";
import { plannedStack, stackDocument, STACKS, VALID_TOKEN } from "../helpers";
import { INVALID, MISSING, type InvalidCase } from "./planCases";

/** The message names the key with its value as written ("<key> is <value>") or as missing. */
function expectKeyAndValue(message: string, testCase: InvalidCase): void {
    if (!("value" in testCase)) {
        assert.ok(message.includes(testCase.key), `the message does not name ${testCase.key}:\n${message}`);
    } else if (testCase.value === MISSING) {
        assert.ok(message.includes(`${testCase.key} is missing`), `the message does not say ${testCase.key} is missing:\n${message}`);
    } else {
        const phrase = `${testCase.key} is ${show(testCase.value)}`;
        assert.ok(message.includes(phrase), `the message does not say "${phrase}":\n${message}`);
    }
}

describe("invalid stack configuration", () => {
    it(`has over 200 mistakes in its table (has ${INVALID.length})`, () => {
        assert.ok(INVALID.length > 200);
    });

    for (const testCase of INVALID) {
        it(`rejects ${testCase.name}: ${testCase.key}, before any resource exists`, async () => {
            const stack = testCase.stack ?? "production";
            const document = stackDocument(stack);
            testCase.edit(document);
            const offline = fromConfigMap(document);
            const recorded: RecordedResource[] = [];
            await assert.rejects(runStack({ stack: testCase.as ?? stack, config: offline.config, secretKeys: offline.secretKeys }, recorded), (error: unknown) => {
                assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
                expectKeyAndValue(error.message, testCase);
                assert.match(error.message, testCase.expect);
                // The cases' secrets: a plain "hunter2", or a `secure:` value the offline run reads as its placeholder.
                for (const secret of ["hunter2", "offline-render-placeholder"]) assert.ok(!error.message.includes(secret), error.message);
                // One mistake, one problem: nothing that only follows from it.
                assert.equal(error.problems.length, testCase.problems ?? 1, error.message);
                return true;
            });
            assert.deepEqual(recorded.map((resource) => resource.name), []);
        });
    }

    it("rejects a malformed API token without ever printing it", async () => {
        const document = stackDocument("production");
        const token = "root@pam!tok=not-a-uuid-SECRETVALUE";
        document["proxmoxve:apiToken"] = token;
        const offline = fromConfigMap(document);
        await assert.rejects(runStack({ stack: "production", config: offline.config }), (error: unknown) => {
            assert.ok(error instanceof ConfigError);
            assert.match(error.message, /proxmoxve:apiToken is malformed \(value not shown\): expected USER@REALM!TOKENID=UUID/);
            assert.ok(!error.message.includes("SECRETVALUE"));
            return true;
        });
    });

    it("asks for the API token when it is not set, with the command that sets it", async () => {
        const offline = fromConfigMap(stackDocument("production"));
        delete offline.config["proxmoxve:apiToken"];
        const recorded: RecordedResource[] = [];
        await assert.rejects(runStack({ stack: "production", config: offline.config }, recorded), /proxmoxve:apiToken is missing: .*pulumi config set --secret proxmoxve:apiToken/);
        assert.equal(recorded.length, 0);
    });
});

describe("problems reported at once", () => {
    const problemsOf = (stack: string, edit: (raw: Record<string, any>) => void): readonly string[] => {
        try {
            plannedStack(stack, edit);
        } catch (error) {
            if (error instanceof ConfigError) return error.problems;
            throw error;
        }
        return [];
    };

    it("gives three independent mistakes in three layers in one run, and nothing else", () => {
        const found = problemsOf("production", (raw) => {
            raw.vms.adminUser = "root";
            raw.kubernetes.kubeVersion = "1.29.3";
            raw.apps.imageVersion = "latest";
        });
        assert.equal(found.length, 3, found.join("\n"));
        assert.match(found.join("\n"), /vms\.adminUser is "root"/);
        assert.match(found.join("\n"), /kubernetes\.kubeVersion is "1\.29\.3"/);
        assert.match(found.join("\n"), /apps\.imageVersion is "latest"/);
    });

    it("reports mistakes in one layer together", () => {
        const found = problemsOf("production", (raw) => {
            raw.vms.adminUser = "root";
            raw.proxmox.datastores.disks.type = "dir";
            raw.network.gateway = "192.168.1.1";
        });
        assert.equal(found.length, 3, found.join("\n"));
    });

    it("reports a shape mistake together with the plan's", () => {
        const found = problemsOf("production", (raw) => {
            raw.vms.workers.cores = "eight";
            raw.apps.imageVersion = "latest";
        });
        assert.deepEqual(found.map((text) => text.split(" is ")[0]), ["vms.workers.cores", "apps.imageVersion"]);
    });

    it("does not cascade a bad node network into capacity, MetalLB or address errors", () => {
        const found = problemsOf("production", (raw) => (raw.network.cidr = "10.0.0.5/24"));
        assert.deepEqual(found.map((text) => text.split(":")[0]), ['network.cidr is "10.0.0.5/24"']);
    });

    it("does not cascade a bad domain into contour or zone errors", () => {
        const found = problemsOf("production", (raw) => (raw.domain = "ERP_UNO"));
        assert.deepEqual(found.map((text) => text.split(":")[0]), ['domain is "ERP_UNO"']);
    });

    for (const key of ["proxmox", "image", "network", "vms", "mirrors", "pki", "dns", "registry", "kubernetes", "apps", "internalDomains", "protectVms"]) {
        it(`turns a wrong shape of ${key} into a message, never a crash`, () => {
            for (const wrong of [42, null]) {
                const found = problemsOf("production", (raw) => (raw[key] = wrong));
                assert.ok(found.some((text) => text.startsWith(`${key} is ${String(wrong)}: expected`)), found.join("\n"));
            }
        });
    }
});

describe("valid edits", () => {
    type Raw = Record<string, any>;
    const VALID: [string, string, (raw: Raw) => void][] = [
        ["a fourth worker", "production", (r) => Object.assign(r.vms.workers, { count: 4, addresses: [...r.vms.workers.addresses, "10.0.0.24"] })],
        ["one worker fewer", "production", (r) => Object.assign(r.vms.workers, { count: 2, addresses: r.vms.workers.addresses.slice(0, 2) })],
        ["workers named in a map", "production", (r) => (r.vms.workers.addresses = { "k8s-worker1": "10.0.0.21", "k8s-worker2": "10.0.0.22", "k8s-worker3": "10.0.0.23" })],
        ["the middle worker removed from a map", "production", (r) => Object.assign(r.vms.workers, { count: 2, addresses: { "k8s-worker1": "10.0.0.21", "k8s-worker3": "10.0.0.23" } })],
        ["a fourth Proxmox host", "production", (r) => r.proxmox.hosts.push({ name: "pve4", address: "10.0.1.14", cores: 32, memoryGiB: 256 })],
        ["two infra VMs", "production", (r) => Object.assign(r.vms.infra, { count: 2, addresses: ["10.0.0.5", "10.0.0.6"] })],
        ["three infra VMs", "production", (r) => Object.assign(r.vms.infra, { count: 3, addresses: ["10.0.0.5", "10.0.0.6", "10.0.0.7"] })],
        ["explicit resolvers", "production", (r) => (r.network.dnsServers = ["10.0.0.5"])],
        ["a DKIM record of two strings", "production", (r) => (r.dns.extraRecords = [{ name: "sel._domainkey", type: "TXT", data: { txt: '"v=DKIM1; k=rsa; " "p=MIIBIjANBgkq"' } }])],
        ["an SRV record for a generated name", "production", (r) => (r.dns.extraRecords = [{ name: "_sip._tcp", type: "SRV", data: { priority: 10, weight: 5, port: 5060, target: "infra1.erp.uno" } }])],
        ["an MX record with its A record", "production", (r) => (r.dns.extraRecords = [{ name: "mail", type: "A", data: { ip: "10.0.0.40" } }, { name: "@", type: "MX", data: { preference: 10, exchange: "mail.erp.uno" } }])],
        ["a CNAME to a generated name", "production", (r) => (r.dns.extraRecords = [{ name: "www", type: "CNAME", data: { dname: "portal.erp.uno" } }])],
        ["a CNAME to an internal domain", "dev", (r) => (r.dns.extraRecords = [{ name: "wiki", type: "CNAME", data: { dname: "wiki.erp.uno" } }])],
        ["an RSA CA with 4096-bit keys", "production", (r) => (r.pki = { algorithm: "RSA", rsaBits: 4096 })],
        ["a P384 CA", "production", (r) => (r.pki = { ecdsaCurve: "P384" })],
        ["the host CPU type", "production", (r) => (r.vms.cpuType = "host")],
        ["a custom CPU model", "production", (r) => (r.vms.cpuType = "custom-erp-epyc")],
        ["the image on shared NFS", "production", (r) => (r.proxmox.datastores.images = { id: "nfs-images", type: "nfs", shared: true })],
        ["snippets on CephFS", "production", (r) => (r.proxmox.datastores.snippets = { id: "cephfs", type: "cephfs", shared: true })],
        ["VM disks on Ceph RBD", "production", (r) => (r.proxmox.datastores.disks = { id: "ceph-vm", type: "rbd" })],
        ["a mirror under an internal domain", "production", (r) => ((r.internalDomains = ["corp.example"]), (r.mirrors.apt = "http://mirror.corp.example/ubuntu"))],
        ["five control-plane nodes, preferred apart", "production", (r) => ((r.proxmox.controlPlaneAntiAffinity = "preferred"), Object.assign(r.vms.controlPlane, { count: 5, addresses: ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14", "10.0.0.15"] }))],
        ["Kubespray v2.27.0 with Kubernetes 1.31.4", "production", (r) => Object.assign(r.kubernetes, { kubesprayVersion: "v2.27.0", kubeVersion: "1.31.4", kubespraySource: { url: "http://10.0.0.2/files/kubespray/kubespray-2.27.0.tar.gz", sha256: "b5a5d50b3b23551ffc3eb9c18102c7948d32e87efe313161f09ce20c4435e442" } })],
        ["Kubespray v2.26.0 with Kubernetes 1.30.4", "production", (r) => Object.assign(r.kubernetes, { kubesprayVersion: "v2.26.0", kubeVersion: "1.30.4", ansibleCoreVersion: "2.16.9", kubespraySource: { url: "http://10.0.0.2/files/kubespray/kubespray-2.26.0.tar.gz", sha256: "0616d9067be4ff6729df640a1b42c85c40a18e3f71c91001672c88213417345e" } })],
        ["the largest service network", "production", (r) => (r.kubernetes.serviceCidr = "172.16.0.0/12")],
        ["a /16 pod network", "production", (r) => (r.kubernetes.podCidr = "10.244.0.0/16")],
        // Six nodes of two /26 blocks each: a /22 (16 blocks) is enough, though it holds only four /24s.
        ["a /22 pod network for six nodes", "production", (r) => (r.kubernetes.podCidr = "10.244.0.0/22")],
        ["another cluster domain", "production", (r) => (r.kubernetes.clusterDomain = "cluster.internal")],
        ["a MetalLB pool of one address", "production", (r) => (r.kubernetes.metallbPool = "10.0.0.30-10.0.0.30")],
        ["the light profile in production", "production", (r) => (r.apps.profile = "light")],
        ["erp-uno from internal Git at a release tag", "production", (r) => Object.assign(r.apps, { gitRepoUrl: "https://git.erp.uno/erp/erp-uno.git", gitRevision: "v2026.11.1" })],
        ["erp-uno from internal Git at a commit", "production", (r) => Object.assign(r.apps, { gitRepoUrl: "https://git.erp.uno/erp/erp-uno.git", gitRevision: "0123456789abcdef0123456789abcdef01234567" })],
        ["a template disk as large as the smallest role's", "production", (r) => (r.vms.template.diskGiB = 40)],
        ["VLAN 4094 and jumbo frames", "production", (r) => Object.assign(r.proxmox.network, { vlan: 4094, mtu: 9000 })],
        ["NTP servers by name", "production", (r) => (r.network.ntpServers = ["ntp1.erp.uno", "ntp2.erp.uno"])],
        ["protected VMs in staging", "staging", (r) => (r.protectVms = true)],
        ["a worker pinned to one host", "staging", (r) => (r.vms.workers.hosts = ["pve-stg1"])],
        ["server certificates as long as the CA", "production", (r) => (r.pki = { caValidityDays: 397, serverValidityDays: 397 })],
        ["a later Redis patch", "production", (r) => (r.apps.argocd.redisImageTag = "7.2.12-alpine")],
        ["a later ArgoCD patch", "production", (r) => (r.apps.argocd.imageTag = "v3.1.9")],
        ["ArgoCD 2.13 on Kubernetes 1.30, which it is tested on", "production", (r) => ((r.kubernetes.kubeVersion = "1.30.13"), Object.assign(r.apps.argocd, { chartVersion: "7.7.11", imageTag: "v2.13.2", redisImageTag: "7.4.1-alpine" }))],
        ["a mirror on the node network away from every VM", "production", (r) => (r.mirrors.apt = "http://10.0.0.3/ubuntu")],
    ];
    for (const [name, stack, edit] of VALID) {
        it(`accepts ${name} (${stack})`, () => {
            assert.doesNotThrow(() => plannedStack(stack, edit), (error: unknown) => String(error));
        });
    }

    it("accepts an endpoint without the trailing slash", async () => {
        const document = stackDocument("production");
        document["proxmoxve:endpoint"] = "https://10.0.1.11:8006";
        const offline = fromConfigMap(document);
        const run = await runStack({ stack: "production", config: offline.config, secretKeys: offline.secretKeys });
        assert.ok(run.resources.length > 50);
    });

    it("accepts a stack whose name starts with its environment (production-eu)", async () => {
        const offline = fromConfigMap(stackDocument("production"));
        const run = await runStack({ stack: "production-eu", config: offline.config, secretKeys: offline.secretKeys });
        assert.ok(run.resources.length > 50);
    });

    for (const stack of STACKS) {
        it(`plans the committed ${stack} stack without a warning`, () => {
            const plan = plannedStack(stack);
            assert.equal(plan.environment, stack);
            assert.deepEqual(plan.warnings, []);
        });
    }

    it("only warns about a public mirror outside production", () => {
        const plan = plannedStack("dev", (raw) => (raw.mirrors.apt = "http://archive.ubuntu.com/ubuntu"));
        assert.equal(plan.warnings.filter((w) => /mirrors\.apt .* outside the closed contour/.test(w)).length, 1);
    });

    it("keeps the token out of the plan", () => {
        assert.ok(!JSON.stringify(plannedStack("production")).includes(VALID_TOKEN));
    });
});
