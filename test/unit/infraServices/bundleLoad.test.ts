// pulumi up loads the contour bundle the stack names (bundle.dir): one local command after every
// infra VM's registry and nginx, before everything that needs what the bundle holds, re-run when
// the bundle's manifest changes, with the admin key only on its secret standard input.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError } from "../../../config";
import { SECRET_MARK } from "../../../render/engine";
import { dependsOn, find, plannedStack, runStackFile } from "../../helpers";

describe("the contour bundle loaded by pulumi up (bundle.dir)", () => {
    let work: string;
    const bundleOf = (stack: string, name = stack) => {
        const dir = path.join(work, name);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ stack, items: [] }));
        return dir;
    };
    before(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-bundle-load-"))));
    after(() => fs.rmSync(work, { recursive: true, force: true }));

    it("loads every infra VM once its services run, before Kubespray, chart publishing and ArgoCD", async () => {
        const dir = bundleOf("production");
        const { resources } = await runStackFile("production", { edit: (d) => (d["erpdc:bundle"] = { dir }) });
        const load = find(resources, "bundle-load");
        assert.equal(load.type, "command:local:Command");
        for (const vm of ["infra1", "infra2"]) for (const service of ["registry", "nginx"]) assert.ok(dependsOn(resources, "bundle-load", `${vm}-${service}`), `${vm}-${service}`);
        for (const consumer of ["kubespray", "publish-erp-uno", "argocd"]) assert.ok(dependsOn(resources, consumer, "bundle-load"), consumer);
        assert.equal(load.inputs.create, `node scripts/run-compiled.js bundle/loadCli 'production' '${dir}' --outputs -`);
        // The admin key reaches it on standard input only, as a secret.
        assert.equal(load.inputs.stdin, SECRET_MARK);
        assert.doesNotMatch(JSON.stringify(load.inputs.create), /PRIVATE KEY/);
        // Re-run when the manifest changes: its digest is the trigger.
        const digest = createHash("sha256").update(fs.readFileSync(path.join(dir, "manifest.json"))).digest("hex");
        assert.deepEqual(load.inputs.triggers, [digest]);
    });

    it("changes the trigger exactly when the manifest changes", () => {
        const dir = bundleOf("staging");
        const trigger = () => plannedStack("staging", (raw) => (raw.bundle = { dir })).infraServices.bundle?.manifestSha256;
        const first = trigger();
        assert.equal(trigger(), first);
        fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ stack: "staging", items: [], }, null, 1));
        assert.notEqual(trigger(), first);
    });

    it("builds no loader without bundle.dir (bundle:load by hand, as before)", async () => {
        const { resources } = await runStackFile("dev");
        assert.equal(resources.some((r) => r.name === "bundle-load"), false);
    });

    it("refuses a folder that holds no bundle, and a bundle of another stack, naming bundle.dir", () => {
        const refused = (dir: string) => {
            try {
                plannedStack("production", (raw) => (raw.bundle = { dir }));
            } catch (error) {
                assert.ok(error instanceof ConfigError);
                return error.problems;
            }
            assert.fail("accepted");
        };
        const missing = path.join(work, "nowhere");
        assert.deepEqual(refused(missing).length, 1);
        assert.match(refused(missing)[0] as string, new RegExp(`^bundle\\.dir is "${missing}": .*manifest\\.json does not exist: is .* a bundle\\?; give the folder npm run bundle filled`));
        const other = bundleOf("staging", "staging-for-production");
        assert.match(refused(other)[0] as string, /^bundle\.dir is ".*": holds a bundle of staging, not of this stack \(production\); fill one with npm run bundle -- production --out <dir>$/);
    });
});
