import { strict as assert } from "assert";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
    controlPlaneAntiAffinity,
    DEFAULT_CONFIG,
    internalSourcesOnly,
    keyMaterialOnlyInSecretCarriers,
    noLatestCalendarVersions,
    policies,
    productionVmsProtected,
    vmDisksOnThinDatastores,
    vmRoleTags,
} from "../../../policy/policies";
import type { RecordedResource } from "../../../render/engine";
import { baselineRun, runStackFile } from "../../helpers";

const VM = "proxmoxve:index/vmLegacy:VmLegacy";

interface Fake {
    type: string;
    name?: string;
    props: Record<string, any>;
    protect?: boolean;
}

function violations(policy: ResourceValidationPolicy, resource: Fake): string[] {
    const found: string[] = [];
    const args = {
        type: resource.type,
        name: resource.name ?? "r",
        urn: `urn:pulumi:s::p::${resource.type}::${resource.name ?? "r"}`,
        props: resource.props,
        opts: { protect: resource.protect ?? false, ignoreChanges: [], aliases: [], customTimeouts: {}, additionalSecretOutputs: [] },
        stackTags: new Map(),
        isType: () => false,
        getConfig: () => DEFAULT_CONFIG,
        notApplicable: () => undefined,
    };
    (policy.validateResource as (a: unknown, r: (m: string) => void) => void)(args, (message) => found.push(message));
    return found;
}

function stackViolations(policy: StackValidationPolicy, resources: Fake[]): string[] {
    const found: string[] = [];
    const args = {
        resources: resources.map((r) => ({ type: r.type, name: r.name ?? "r", props: r.props, opts: { protect: r.protect ?? false } })),
        getConfig: () => DEFAULT_CONFIG,
    };
    (policy.validateStack as (a: unknown, r: (m: string) => void) => void)(args, (message) => found.push(message));
    return found;
}

const vm = (props: Record<string, any>, extra: Partial<Fake> = {}): Fake => ({
    type: VM,
    name: "k8s-worker1",
    props: { tags: ["k8s-worker", "env-production"], protection: true, disks: [{ interface: "scsi0", datastoreId: "local-zfs" }], nodeName: "pve1", ...props },
    protect: true,
    ...extra,
});

describe("policy pack", () => {
    it("vm-disks-on-thin-datastores", () => {
        assert.deepEqual(violations(vmDisksOnThinDatastores, vm({})), []);
        assert.match(violations(vmDisksOnThinDatastores, vm({ disks: [{ interface: "scsi0", datastoreId: "local" }] })).join(), /"local", which is not a thin datastore/);
    });

    it("vm-role-tags", () => {
        assert.deepEqual(violations(vmRoleTags, vm({})), []);
        assert.deepEqual(violations(vmRoleTags, vm({ template: true, tags: ["template"] })), []);
        assert.match(violations(vmRoleTags, vm({ tags: ["env-dev"] })).join(), /no role tag/);
        assert.match(violations(vmRoleTags, vm({ tags: ["infra"] })).join(), /no env-<name> tag/);
    });

    it("production-vms-protected", () => {
        assert.deepEqual(violations(productionVmsProtected, vm({})), []);
        assert.deepEqual(violations(productionVmsProtected, vm({ tags: ["infra", "env-dev"], protection: false }, { protect: false })), []);
        assert.match(violations(productionVmsProtected, vm({}, { protect: false })).join(), /without protect/);
        assert.match(violations(productionVmsProtected, vm({ protection: false })).join(), /without the Proxmox protection flag/);
    });

    it("control-plane-anti-affinity", () => {
        const cp = (name: string, host: string) => vm({ tags: ["k8s-control-plane", "env-production"], nodeName: host }, { name });
        assert.deepEqual(stackViolations(controlPlaneAntiAffinity, [cp("c1", "pve1"), cp("c2", "pve2"), cp("c3", "pve3")]), []);
        const worker = vm({ nodeName: "pve2" }, { name: "w1" });
        assert.match(stackViolations(controlPlaneAntiAffinity, [cp("c1", "pve1"), cp("c2", "pve1"), cp("c3", "pve3"), worker]).join(), /c1@pve1, c2@pve1, c3@pve3 share hosts while 3 hosts exist/);
        // Two hosts only: two control-plane nodes sharing one is the best there is.
        assert.deepEqual(stackViolations(controlPlaneAntiAffinity, [cp("c1", "pve1"), cp("c2", "pve1"), cp("c3", "pve3")]), []);
    });

    it("internal-sources-only", () => {
        const file = (url: string): Fake => ({ type: "proxmoxve:download/fileLegacy:FileLegacy", props: { url } });
        assert.deepEqual(violations(internalSourcesOnly, file("http://10.0.0.2/files/noble.img")), []);
        assert.deepEqual(violations(internalSourcesOnly, { type: "kubernetes:apps/v1:Deployment", props: { spec: { image: "registry.erp.uno/erpuno/x:2026.11.1" } } }), []);
        assert.match(violations(internalSourcesOnly, file("https://cloud-images.ubuntu.com/noble.img")).join(), /points at cloud-images\.ubuntu\.com/);
        assert.match(violations(internalSourcesOnly, { type: "kubernetes:apps/v1:Deployment", props: { spec: { image: "nginx:1.27" } } }).join(), /points at docker\.io/);
        // An apt deb822 source's URIs field lists several URLs on one line: each is judged.
        const sources = { type: "proxmoxve:storage/file:File", props: { sourceRaw: { data: "apt:\n  sources_list: |\n    URIs: http://10.0.0.2/ubuntu https://archive.ubuntu.com/ubuntu\n" } } };
        assert.match(violations(internalSourcesOnly, sources).join(), /points at archive\.ubuntu\.com/);
    });

    it("no-latest-calendar-versions", () => {
        const pod = (image: string): Fake => ({ type: "kubernetes:core/v1:Pod", props: { spec: { containers: [{ image }] } } });
        assert.deepEqual(violations(noLatestCalendarVersions, pod("registry.erp.uno/erpuno/crm-documents:2026.11.1")), []);
        assert.match(violations(noLatestCalendarVersions, pod("registry.erp.uno/erpuno/crm-documents:latest")).join(), /no pinned tag/);
        assert.match(violations(noLatestCalendarVersions, pod("registry.erp.uno/erpuno/crm-documents:v1.2")).join(), /not a calendar version/);
        const app = (targetRevision: string): Fake => ({ type: "kubernetes:argoproj.io/v1alpha1:Application", props: { kind: "Application", spec: { source: { chart: "erp-uno", targetRevision } } } });
        assert.deepEqual(violations(noLatestCalendarVersions, app("2026.11.1")), []);
        assert.match(violations(noLatestCalendarVersions, app("1.0.0-rc1")).join(), /not a calendar version/);
    });

    it("key-material-only-in-secret-carriers", () => {
        const key = ["-----BEGIN", "OPENSSH", "PRIVATE", "KEY-----"].join(" ");
        assert.deepEqual(violations(keyMaterialOnlyInSecretCarriers, { type: "kubernetes:core/v1:Secret", props: { stringData: { key } } }), []);
        assert.match(violations(keyMaterialOnlyInSecretCarriers, { type: VM, props: { description: `oops ${key}` } }).join(), /holds key material/);
        assert.match(violations(keyMaterialOnlyInSecretCarriers, { type: "kubernetes:core/v1:ConfigMap", props: { data: { h: `$2b$10$${"a".repeat(53)}` } } }).join(), /password hash/);
    });

    it("finds nothing to object to in the production stack the program builds", async () => {
        const run = await baselineRun("production");
        const asFake = (r: RecordedResource): Fake => ({ type: r.type, name: r.name, props: r.inputs, protect: r.protect });
        const found: string[] = [];
        for (const policy of policies) {
            if ("validateResource" in policy && policy.validateResource) {
                for (const resource of run.resources) found.push(...violations(policy as ResourceValidationPolicy, asFake(resource)));
            } else {
                found.push(...stackViolations(policy as StackValidationPolicy, run.resources.map(asFake)));
            }
        }
        assert.deepEqual(found, []);
    });

    it("objects once the stack the program builds is changed for the worse", async () => {
        const asFake = (r: RecordedResource): Fake => ({ type: r.type, name: r.name, props: r.inputs, protect: r.protect });
        const bad = await runStackFile("production", { edit: (d) => (d["erpdc:proxmox"].datastores.disks.id = "local") });
        const thin = bad.resources.flatMap((r) => violations(vmDisksOnThinDatastores, asFake(r)));
        assert.ok(thin.length >= 7, thin.join("\n"));
    });
});
