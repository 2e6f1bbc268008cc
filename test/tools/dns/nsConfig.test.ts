// Real consumers of the DNS layer's files: Erlang reads the generated sys.config, and the shell
// parses the install script.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
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

    it("the synrc/ns scripts are valid POSIX shell", () => {
        const scripts = fs.readdirSync(path.join(ROOT, "dns", "files")).filter((file) => file.endsWith(".sh"));
        assert.deepEqual(scripts.sort(), ["install-synrc-ns.sh", "sha256sums-entry.sh", "synrc-ns-apply.sh", "synrc-ns-run.sh"]);
        for (const script of scripts) run("sh", ["-n", path.join(ROOT, "dns", "files", script)]);
    });

    describe("reads SHA256SUMS as sha256sum writes it", () => {
        const entry = (name: string, sums: string) => {
            const file = path.join(work, "SHA256SUMS");
            fs.writeFileSync(file, sums);
            return spawnSync("sh", [path.join(ROOT, "dns", "files", "sha256sums-entry.sh"), name, file], { encoding: "utf8" });
        };
        let text: string;
        let binary: string;
        let digest: string;
        before(() => {
            const dir = path.join(work, "release");
            fs.mkdirSync(dir, { recursive: true });
            fs.writeFileSync(path.join(dir, "erldns-3.0.0.tar.gz"), "a release\n");
            fs.writeFileSync(path.join(dir, "erldns-3.0.0.tar.gz.asc"), "a signature\n");
            fs.writeFileSync(path.join(dir, "old-erldns-3.0.0.tar.gz"), "another release\n");
            // coreutils' own two formats: text mode ("hash  name") and binary mode ("hash *name").
            text = run("sha256sum", ["erldns-3.0.0.tar.gz.asc", "old-erldns-3.0.0.tar.gz", "erldns-3.0.0.tar.gz"], { cwd: dir });
            binary = run("sha256sum", ["--binary", "erldns-3.0.0.tar.gz.asc", "old-erldns-3.0.0.tar.gz", "erldns-3.0.0.tar.gz"], { cwd: dir });
            digest = run("sha256sum", ["erldns-3.0.0.tar.gz"], { cwd: dir }).split(" ")[0] as string;
        });
        it("in text mode, the exact name among names that share a part of it", () => {
            const result = entry("erldns-3.0.0.tar.gz", text);
            assert.equal(result.status, 0, result.stderr);
            assert.equal(result.stdout.trim(), digest);
        });
        it("in binary mode", () => {
            assert.match(binary, / \*erldns-3\.0\.0\.tar\.gz$/m);
            const result = entry("erldns-3.0.0.tar.gz", binary);
            assert.equal(result.status, 0, result.stderr);
            assert.equal(result.stdout.trim(), digest);
        });
        it("refuses a file with no entry, two entries, or a malformed one", () => {
            assert.match(entry("erldns-3.0.1.tar.gz", text).stderr, /has 0 entries for erldns-3\.0\.1\.tar\.gz, not one/);
            assert.match(entry("erldns-3.0.0.tar.gz", text + binary).stderr, /has 2 entries/);
            assert.match(entry("erldns-3.0.0.tar.gz", "XYZ  erldns-3.0.0.tar.gz\n").stderr, /not 64 hexadecimal digits/);
            assert.match(entry("erldns-3.0.0.tar.gz", `${"a".repeat(63)}  erldns-3.0.0.tar.gz\n`).stderr, /not 64 hexadecimal digits/);
        });
    });
});
