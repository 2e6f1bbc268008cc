// The root file installer against a service user who owns the folder it writes into and races it:
// the user swaps every temporary file the installer makes for a link to a root-only file. Run as
// root (the installer's real user); the racer drops to nobody.
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../../../render/stackConfig";

const INSTALLER = path.join(ROOT, "lib", "files", "install-files.py");
const NOBODY = 65534;

// Polls the folder and replaces each temporary file with a link to the target, as fast as it can.
const RACER = `
import os, sys, time
folder, target = sys.argv[1], sys.argv[2]
os.setgroups([]); os.setgid(${NOBODY}); os.setuid(${NOBODY})
end = time.time() + 120
while time.time() < end:
    for name in os.listdir(folder):
        if name.startswith(".erpdc-"):
            try:
                os.rename(os.path.join(folder, name), os.path.join(folder, "taken-" + name))
                os.symlink(target, os.path.join(folder, name))
            except OSError:
                pass
`;

describe("the file installer in a folder another user owns", function () {
    this.timeout(300000);
    let work: string;
    beforeEach(() => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-race-"));
        fs.chmodSync(work, 0o755);
    });
    afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

    it("never changes the owner or mode of a file a link points to, in 100 races", async () => {
        assert.equal(process.getuid?.(), 0, "the installer runs as root, and so does this test");
        const shared = path.join(work, "shared");
        fs.mkdirSync(shared);
        fs.chownSync(shared, NOBODY, NOBODY);
        const target = path.join(work, "root-only");
        fs.writeFileSync(target, "root's\n", { mode: 0o600 });
        const racer = spawn("python3", ["-c", RACER, shared, target], { stdio: "ignore" });
        let installed = 0;
        try {
            await new Promise((resolve) => setTimeout(resolve, 300));
            for (let round = 0; round < 100; round += 1) {
                const bundle = { files: [{ path: path.join(shared, "config.yml"), content: `round ${round}\n`, mode: "0644", owner: "nobody", group: "nogroup" }] };
                const run = spawnSync("python3", [INSTALLER], { input: JSON.stringify(bundle), encoding: "utf8" });
                if (run.status === 0) installed += 1;
                else assert.match(run.stderr, /was replaced; not installed|is not a folder/, run.stderr);
                const stat = fs.lstatSync(target);
                assert.deepEqual([stat.uid, stat.gid, stat.mode & 0o777], [0, 0, 0o600], `round ${round}: the root-only file was given away`);
                assert.equal(fs.readFileSync(target, "utf8"), "root's\n", `round ${round}: the root-only file was written`);
            }
        } finally {
            racer.kill();
        }
        // The race is real: some rounds lose their temporary file to the racer.
        assert.ok(installed < 100 || fs.readdirSync(shared).some((name) => name.startsWith("taken-")), "the racer never reached a temporary file");
    });

    it("refuses a folder on the way that is a link, and writes nothing through it", () => {
        const elsewhere = path.join(work, "elsewhere");
        fs.mkdirSync(elsewhere);
        fs.symlinkSync(elsewhere, path.join(work, "linked"));
        const bundle = { files: [{ path: path.join(work, "linked", "config.yml"), content: "x\n" }] };
        const run = spawnSync("python3", [INSTALLER], { input: JSON.stringify(bundle), encoding: "utf8" });
        assert.notEqual(run.status, 0);
        assert.match(run.stderr, /linked is not a folder \(or is a link\)/);
        assert.deepEqual(fs.readdirSync(elsewhere), []);
    });

    it("replaces a link at the file's own name instead of writing through it", () => {
        const target = path.join(work, "root-only");
        fs.writeFileSync(target, "root's\n", { mode: 0o600 });
        fs.symlinkSync(target, path.join(work, "config.yml"));
        const bundle = { files: [{ path: path.join(work, "config.yml"), content: "new\n", mode: "0644" }] };
        const run = spawnSync("python3", [INSTALLER], { input: JSON.stringify(bundle), encoding: "utf8" });
        assert.equal(run.status, 0, run.stderr);
        assert.ok(fs.lstatSync(path.join(work, "config.yml")).isFile());
        assert.equal(fs.readFileSync(target, "utf8"), "root's\n");
        assert.equal(fs.statSync(target).mode & 0o777, 0o600);
    });
});
