import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderStack, writeRender } from "../../../render/render";
import { fromConfigMap, PLACEHOLDERS } from "../../../render/stackConfig";
import { plannedStack } from "../../helpers";

describe("offline render", () => {
    const config = plannedStack("production").proxmox;
    let out: string;
    let files: ReadonlyMap<string, string>;

    before(async () => {
        out = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-render-"));
        const result = await renderStack("production");
        files = result.files;
        fs.mkdirSync(path.join(out, "stale"));
        fs.writeFileSync(path.join(out, "stale", "left-over"), "x");
        writeRender(result, out);
    });
    after(() => fs.rmSync(out, { recursive: true, force: true }));

    it("writes plan.json, topology.md and the cloud-init pair of every VM, and nothing stale", () => {
        const written = listFiles(out);
        const expected = [
            "plan.json",
            "topology.md",
            ...config.vms.flatMap((vm) => [`cloud-init/${vm.name}/meta-data`, `cloud-init/${vm.name}/network-config`, `cloud-init/${vm.name}/user-data`]),
            "dns/erp.uno.zone.json",
            "dns/synrc-ns.service",
            ...config.vms.filter((vm) => vm.role === "infra").flatMap((vm) => [`dns/${vm.name}/sys.config`, `dns/${vm.name}/vm.args`]),
            "infra-host/nginx/erpdc.conf",
            "infra-host/registry/config.yml",
            "kubespray/inventory/hosts.yaml",
            "kubespray/inventory/group_vars/all/offline.yml",
            "kubespray/inventory/group_vars/k8s_cluster/addons.yml",
            "kubespray/inventory/group_vars/k8s_cluster/k8s-cluster.yml",
            "kubespray/manifest.json",
            "apps/erp-uno-values.yaml",
            "apps/erp-uno.rendered.yaml",
        ].sort();
        assert.deepEqual(written, expected);
    });

    it("describes every resource in plan.json with its type, parent, inputs and dependencies", () => {
        const plan = JSON.parse(fs.readFileSync(path.join(out, "plan.json"), "utf8"));
        const clone = plan.resources.find((r: any) => r.name === "k8s-control1");
        assert.equal(clone.type, "proxmoxve:index/vmLegacy:VmLegacy");
        assert.equal(clone.parent, "erpdc:infra:ProxmoxLayer::proxmox");
        assert.equal(clone.protect, true);
        assert.ok(clone.dependsOn.includes(`proxmoxve:index/vmLegacy:VmLegacy::template-${config.vms.find((vm) => vm.name === "k8s-control1")?.host}`));
        assert.equal(clone.inputs.initialization.userDataFileId, "local:snippets/erp-production-k8s-control1-user-data.yaml");
        assert.equal(plan.outputs.sshPrivateKey, "[secret]");
    });

    it("puts no secret into any written file", () => {
        for (const [file, content] of files) {
            assert.ok(!content.includes("PRIVATE KEY"), file);
            assert.ok(!content.includes(PLACEHOLDERS["proxmoxve:apiToken"] as string), file);
        }
    });

    it("renders the same bytes twice", async () => {
        const again = await renderStack("production");
        assert.deepEqual([...again.files], [...files]);
    });

    it("reads encrypted stack values as secret placeholders", () => {
        const offline = fromConfigMap({
            "proxmoxve:apiToken": { secure: "v1:abc" },
            "erpdc:registry": { user: "admin", password: { secure: "v1:def" } },
            "erpdc:domain": "erp.uno",
        });
        assert.deepEqual(offline.secretKeys.sort(), ["erpdc:registry", "proxmoxve:apiToken"]);
        assert.equal(offline.config["proxmoxve:apiToken"], PLACEHOLDERS["proxmoxve:apiToken"]);
        assert.deepEqual(JSON.parse(offline.config["erpdc:registry"] as string), { user: "admin", password: "offline-render-placeholder" });
        assert.equal(offline.config["erpdc:domain"], "erp.uno");
    });
});

function listFiles(root: string, prefix = ""): string[] {
    return fs
        .readdirSync(path.join(root, prefix), { withFileTypes: true })
        .flatMap((entry) => (entry.isDirectory() ? listFiles(root, path.posix.join(prefix, entry.name)) : [path.posix.join(prefix, entry.name)]))
        .sort();
}
