// The first pulumi up's order and phases (render/bringUp.ts): every command after what it waits
// for, the phases in the order a fresh contour needs them, and the README's guide
// generated from them.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { writeManifest } from "../../../bundle/manifest";
import { commandOrder, firstUpGuide, phaseOf, PHASES } from "../../../render/bringUp";
import type { RecordedResource } from "../../../render/engine";
import { README, withGeneratedFirstUp } from "../../../scripts/docs";
import { dependsOn, runStackFile } from "../../helpers";

describe("the first pulumi up, phase by phase", function () {
    this.timeout(60_000);
    let resources: readonly RecordedResource[];
    let work: string;

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-bring-up-"));
        writeManifest(work, { stack: "production", items: [] });
        resources = (await runStackFile("production", { edit: (d) => (d["erpdc:bundle"] = { dir: work }) })).resources;
    });
    after(() => fs.rmSync(work, { recursive: true, force: true }));

    it("orders every command after each command it waits for", () => {
        const order = commandOrder(resources).map((r) => r.name);
        assert.equal(order.length, resources.filter((r) => r.type.startsWith("command:")).length);
        const late: string[] = [];
        order.forEach((name, i) => order.slice(i + 1).forEach((later) => dependsOn(resources, name, later) && late.push(`${name} before ${later}`)));
        assert.deepEqual(late, []);
    });

    it("goes from bare hosts to a synced ArgoCD: VMs, infra services, the bundle, then what needs it", () => {
        assert.deepEqual(
            firstUpGuide(resources).map((row) => row.phase.id),
            ["proxmox", "infra", "bundle", "publish", "nodes", "kubespray", "apps"],
        );
        // Every command belongs to a phase, and each phase is one table's row.
        assert.deepEqual(commandOrder(resources).filter((r) => phaseOf(r) === undefined).map((r) => r.name), []);
        assert.equal(new Set(PHASES.map((p) => p.id)).size, PHASES.length);
    });

    it("puts bundle-load, Kubespray and the ArgoCD wait on the longest chain", () => {
        const onChain = firstUpGuide(resources).flatMap((row) => row.onChain);
        for (const name of ["bundle-load", "kubespray", "erp-uno-synced"]) assert.ok(onChain.includes(name), `${name} is not on the longest chain: ${onChain.join(" -> ")}`);
    });

    it("is the README's guide (npm run docs)", async () => {
        const readme = fs.readFileSync(README, "utf8");
        assert.equal(await withGeneratedFirstUp(readme), readme, "the README's first pulumi up is out of date: run `npm run docs`");
    });
});
