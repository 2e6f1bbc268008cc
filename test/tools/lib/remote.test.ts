// The remote-file bundle for real: the provisioning script keeps stdin for the installer, and the
// installer writes files the way the VMs will.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { provisionScript } from "../../../lib/remote";
import { ROOT } from "../../../render/stackConfig";
import { run } from "../support";

describe("remote files bundle", () => {
    let work: string;
    before(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-bundle-"))));
    after(() => fs.rmSync(work, { recursive: true, force: true }));

    it("a provisioning script keeps the bundle on stdin for the installer, whatever runs before it", () => {
        const user = os.userInfo().username;
        const group = run("id", ["-gn"]).trim();
        const target = path.join(work, "provisioned", "file.txt");
        // `cat` would swallow all of stdin if the script let it; sudo is the VM's, not needed here.
        const script = provisionScript({ before: "cat > /dev/null", after: `test -s ${target}` }).replace(/\bsudo /g, "");
        const bundle = { files: [{ path: target, content: "delivered\n", owner: user, group }] };
        run("bash", ["-c", script], { input: JSON.stringify(bundle) });
        assert.equal(fs.readFileSync(target, "utf8"), "delivered\n");
    });

    it("the bundle installer writes files atomically with their mode, and keeps files marked keep", () => {
        const user = os.userInfo().username;
        const group = run("id", ["-gn"]).trim();
        const kept = path.join(work, "bundle", "kept.yaml");
        fs.mkdirSync(path.dirname(kept), { recursive: true });
        fs.writeFileSync(kept, "published: true\n");
        const bundle = {
            files: [
                { path: path.join(work, "bundle", "etc", "secret.key"), content: "key\n", mode: "0600", owner: user, group },
                { path: kept, content: "apiVersion: v1\n", keep: true, owner: user, group },
            ],
        };
        run("python3", [path.join(ROOT, "lib", "files", "install-files.py")], { input: JSON.stringify(bundle) });
        const written = path.join(work, "bundle", "etc", "secret.key");
        assert.equal(fs.readFileSync(written, "utf8"), "key\n");
        assert.equal(fs.statSync(written).mode & 0o777, 0o600);
        assert.equal(fs.readFileSync(kept, "utf8"), "published: true\n");
        assert.deepEqual(fs.readdirSync(path.join(work, "bundle", "etc")), ["secret.key"]);
    });
});
