// Real consumers of the DNS layer's files: Erlang reads the generated sys.config, and the shell
// parses the install script.
import { strict as assert } from "assert";
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

    it("the synrc/ns install script is valid POSIX shell", () => {
        run("sh", ["-n", path.join(ROOT, "dns", "files", "install-synrc-ns.sh")]);
    });
});
