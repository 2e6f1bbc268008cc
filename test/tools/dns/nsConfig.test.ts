// Real consumers of the DNS layer's files: Erlang reads the generated sys.config, the shell parses
// the install script, and the bundle installer writes files the way the VMs will.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { provisionScript } from "../../../lib/remote";
import { renderStack } from "../../../render/render";
import { ROOT } from "../../../render/stackConfig";
import { STACKS } from "../../helpers";
import { run } from "../support";

describe("DNS layer files accepted by their real consumers", () => {
    let work: string;
    before(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-dns-"))));
    after(() => fs.rmSync(work, { recursive: true, force: true }));

    for (const stack of STACKS) {
        it(`Erlang reads every ${stack} sys.config, with the listen address and the zone path`, async () => {
            const files = [...(await renderStack(stack)).files].filter(([file]) => file.endsWith("/sys.config"));
            assert.ok(files.length >= 1);
            for (const [file, content] of files) {
                const target = path.join(work, stack, file);
                fs.mkdirSync(path.dirname(target), { recursive: true });
                fs.writeFileSync(target, content);
                const printed = run("erl", [
                    "-noshell",
                    "-eval",
                    `case file:consult("${target}") of {ok, [Terms]} -> Ns = proplists:get_value(ns, Terms), ` +
                        `io:format("~p~n~p~n", [proplists:get_value(servers, Ns), proplists:get_value(zones, Ns)]), halt(0); ` +
                        `Error -> io:format("~p~n", [Error]), halt(1) end.`,
                ]);
                assert.match(printed, /\{address,"\d+\.\d+\.\d+\.\d+"\}/, file);
                assert.match(printed, /\{port,53\}/, file);
                assert.match(printed, /"\/zones\/[a-z.]+\.zone\.json"/, file);
            }
        });
    }

    it("Erlang rejects a broken sys.config (the check can fail)", () => {
        const target = path.join(work, "broken.config");
        fs.writeFileSync(target, "[{ns, [{servers, [}].\n");
        assert.throws(() => run("erl", ["-noshell", "-eval", `case file:consult("${target}") of {ok, _} -> halt(0); _ -> halt(1) end.`]));
    });

    it("the synrc/ns install script is valid POSIX shell", () => {
        run("sh", ["-n", path.join(ROOT, "dns", "files", "install-synrc-ns.sh")]);
    });

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
        run("python3", [path.join(ROOT, "infra", "files", "install-files.py")], { input: JSON.stringify(bundle) });
        const written = path.join(work, "bundle", "etc", "secret.key");
        assert.equal(fs.readFileSync(written, "utf8"), "key\n");
        assert.equal(fs.statSync(written).mode & 0o777, 0o600);
        assert.equal(fs.readFileSync(kept, "utf8"), "published: true\n");
        assert.deepEqual(fs.readdirSync(path.join(work, "bundle", "etc")), ["secret.key"]);
    });
});
