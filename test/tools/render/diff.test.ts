// `npm run render -- production --diff <ref>` on two commits that differ by one added worker.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { ROOT } from "../../../render/stackConfig";

describe("artifact diff between two commits", function () {
    this.timeout(180000);
    let clone: string;
    before(() => {
        clone = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-diff-")), "repo");
        execFileSync("git", ["clone", "--quiet", ROOT, clone]);
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"), "dir");
        const file = path.join(clone, "Pulumi.production.yaml");
        const document = YAML.parseDocument(fs.readFileSync(file, "utf8"));
        document.setIn(["config", "erpdc:vms", "workers", "count"], 4);
        (document.getIn(["config", "erpdc:vms", "workers", "addresses"]) as YAML.YAMLSeq).add("10.0.0.24");
        fs.writeFileSync(file, document.toString());
        execFileSync("git", ["-c", "user.name=erpdc test", "-c", "user.email=test@erp.uno", "commit", "--quiet", "-am", "Add a fourth worker"], { cwd: clone });
    });
    after(() => fs.rmSync(path.dirname(clone), { recursive: true, force: true }));

    it("shows the zone, inventory and topology changing, the new worker's cloud-init added, and nothing else", () => {
        const output = execFileSync(process.execPath, [require.resolve("ts-node/dist/bin"), "render/cli.ts", "production", "--diff", "HEAD~1"], {
            cwd: clone,
            encoding: "utf8",
            // The render's warnings (stderr) are the stack's, not this test's.
            stdio: ["ignore", "pipe", "pipe"],
        });
        const summary = output.slice(output.indexOf("Artifacts of production changed since HEAD~1"));
        const changes = [...summary.matchAll(/^ {2}(added|changed|removed) +(\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
        assert.deepEqual(changes, [
            "added cloud-init/k8s-worker4/meta-data",
            "added cloud-init/k8s-worker4/network-config",
            "added cloud-init/k8s-worker4/user-data",
            "changed dns/erp.uno.zone.json",
            "changed kubespray/inventory/hosts.yaml",
            "changed kubespray/manifest.json",
            // plan.json lists every resource, so the new VM, its snippets and its readiness check appear there.
            "changed plan.json",
            "changed topology.md",
        ]);
        assert.match(output, /\+\s+"name": "k8s-worker4\.erp\.uno",/);
        assert.match(output, /\+\s+k8s-worker4:/);
        assert.equal(execFileSync("git", ["worktree", "list"], { cwd: clone, encoding: "utf8" }).trim().split("\n").length, 1);
    });
});
