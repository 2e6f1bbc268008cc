// `npm run render` runs the program as compiled JavaScript (scripts/run-compiled.js): it must write
// exactly what the TypeScript sources render, rebuild when a source changes and only then, and
// print a configuration problem in full.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderStack } from "../../../render/render";
import { ROOT } from "../../../render/stackConfig";

describe("npm run render as compiled JavaScript", function () {
    this.timeout(300000);
    let clone: string;
    const launcher = () => path.join(clone, "scripts", "run-compiled.js");
    const stamp = () => (JSON.parse(fs.readFileSync(path.join(clone, "bin", ".built"), "utf8")) as { started: string }).started;
    const render = (...args: string[]) => spawnSync(process.execPath, [launcher(), "render/cli", ...args], { cwd: clone, encoding: "utf8" });

    before(() => {
        // A clone of the committed tree with the working tree's changes: bin/ and out/ stay its own.
        clone = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-compiled-")), "repo");
        fs.cpSync(ROOT, clone, { recursive: true, filter: (source) => !/\/(node_modules|bin|out|\.git)$/.test(source) });
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"), "dir");
    });
    after(() => fs.rmSync(path.dirname(clone), { recursive: true, force: true }));

    it("builds bin/ and renders production with exactly the files the TypeScript sources render", async () => {
        const result = render("production");
        assert.equal(result.status, 0, result.stderr);
        assert.ok(fs.existsSync(path.join(clone, "bin", "index.js")));
        const expected = (await renderStack("production")).files;
        const written = path.join(clone, "out", "production");
        for (const [file, content] of expected) {
            assert.equal(fs.readFileSync(path.join(written, file), "utf8"), content, file);
        }
        const count = (dir: string): number => fs.readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? count(path.join(dir, e.name)) : 1), 0);
        assert.equal(count(written), expected.size);
    });

    it("rebuilds when a source is newer than the build, and not otherwise", () => {
        const built = stamp();
        assert.equal(render("production").status, 0);
        assert.equal(stamp(), built, "nothing changed, yet it rebuilt");
        // Saved after the build started (not in the future: that would stay newer than every build).
        const now = new Date();
        fs.utimesSync(path.join(clone, "dns", "zone.ts"), now, now);
        assert.equal(render("production").status, 0);
        const rebuilt = stamp();
        assert.ok(rebuilt > built, "a changed source was not rebuilt");
        // A source removed: rebuilt, and its compiled file goes too (tsc would leave it behind).
        fs.writeFileSync(path.join(clone, "lib", "scratch.ts"), "export const scratch = 1;\n");
        fs.writeFileSync(path.join(clone, "bin", "lib", "scratch.js"), "exports.scratch = 1;\n");
        fs.rmSync(path.join(clone, "lib", "scratch.ts"));
        assert.equal(render("production").status, 0);
        assert.equal(stamp(), rebuilt, "only a source set different from the last build's rebuilds");
        fs.writeFileSync(path.join(clone, "lib", "scratch.ts"), "export const scratch = 1;\n");
        assert.equal(render("production").status, 0);
        assert.ok(stamp() > rebuilt, "an added source was not built");
        fs.rmSync(path.join(clone, "lib", "scratch.ts"));
        assert.equal(render("production").status, 0);
        assert.equal(fs.existsSync(path.join(clone, "bin", "lib", "scratch.js")), false, "the removed source's compiled file stayed");
    });

    it("prints a configuration problem in full, naming the key and the fix", () => {
        const file = path.join(clone, "Pulumi.production.yaml");
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("kubeVersion: 1.32.5", "kubeVersion: latest"));
        const result = render("production");
        assert.equal(result.status, 1);
        assert.match(result.stderr, /kubernetes\.kubeVersion is "latest": use a Kubernetes patch version such as 1\.32\.5/);
    });
});
