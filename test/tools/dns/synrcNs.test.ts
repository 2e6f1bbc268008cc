// The real synrc/ns, built by the project's recipe, serving each stack's generated zone with the
// program's own sys.config, vm.args and launcher, in a network namespace of the test's own where
// the infra VM's address is on the loopback. dig asks every record over UDP and TCP.
import { strict as assert } from "assert";
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildRelease, type BuiltRelease } from "../../../dns/release/recipe";
import { NS_TARBALL } from "../../../dns/release";
import { renderStack } from "../../../render/render";
import { ROOT } from "../../../render/stackConfig";
import { answerLines, digCommand, zoneQueries } from "../../dnsAnswers";
import { rawProjectConfig, STACKS } from "../../helpers";
import { run } from "../support";

const SOURCES = path.join(ROOT, "..", "shared", "third_party", "synrc-ns");
const NETNS = `erpdc-ns-${process.pid}`;
/** Another address on the same network: where a probe of the Erlang distribution comes from. */
const PROBE_ADDRESS = "10.0.0.99";

/**
 * What Ubuntu 24.04 gives a binary (the VMs' OS; packages.ubuntu.com, noble): libc6 2.39,
 * libstdc++6 of GCC 14 (symbol versions up to GLIBCXX_3.4.33), libssl3t64 3.0.13 (libcrypto.so.3),
 * libtinfo6, zlib1g, libgcc-s1 and libsystemd0 (which Debian's epmd links): all in the cloud image's base system.
 */
const NOBLE = { glibc: [2, 39], glibcxx: [3, 4, 33], libraries: ["libc.so.6", "libcrypto.so.3", "libgcc_s.so.1", "libm.so.6", "libstdc++.so.6", "libsystemd.so.0", "libtinfo.so.6", "libz.so.1", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1", "ld-linux-x86-64.so.2"] };

const inNetns = (script: string) => spawnSync("ip", ["netns", "exec", NETNS, "sh", "-c", script], { encoding: "utf8" });
const newer = (a: readonly number[], b: readonly number[]) => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
    return false;
};

describe("synrc/ns built by the project's recipe and run with the program's configuration", function () {
    this.timeout(10 * 60_000);
    let work: string;
    let release: BuiltRelease;
    let installed: string;
    let server: ChildProcess | undefined;

    before(() => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-synrc-ns-"));
        release = buildRelease(ROOT, { sources: SOURCES });
        // Unpacked as the VM's install script does: the release, and its priv/zones leading to the zones.
        installed = path.join(work, "opt", "current");
        fs.mkdirSync(installed, { recursive: true });
        run("tar", ["-xzf", release.tarball, "-C", installed]);
        fs.mkdirSync(path.join(work, "zones"));
        for (const lib of fs.readdirSync(path.join(installed, "lib")).filter((name) => name.startsWith("ns-"))) {
            fs.symlinkSync(path.join(work, "zones"), path.join(installed, "lib", lib, "priv", "zones"));
        }
        run("ip", ["netns", "add", NETNS]);
        run("ip", ["-n", NETNS, "link", "set", "lo", "up"]);
    });

    afterEach(async () => stopServer());

    after(() => {
        // epmd daemonizes: whatever still runs in the namespace goes with it.
        const pids = spawnSync("ip", ["netns", "pids", NETNS], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
        for (const pid of pids) spawnSync("kill", ["-9", pid]);
        spawnSync("ip", ["netns", "del", NETNS]);
        fs.rmSync(work, { recursive: true, force: true });
    });

    async function stopServer(): Promise<void> {
        const child = server;
        server = undefined;
        if (child?.pid === undefined || child.exitCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        process.kill(-child.pid, "SIGTERM");
        await exited;
        spawnSync("sh", ["-c", `for pid in $(ip netns pids ${NETNS}); do kill -9 $pid; done`]);
    }

    /** Starts the release with the program's launcher, as the unit does, on `address` in the namespace. */
    async function startServer(files: { sysConfig: string; vmArgs: string; zoneFile: string; zone: string; address: string }): Promise<string> {
        fs.writeFileSync(path.join(work, "sys.config"), files.sysConfig);
        fs.writeFileSync(path.join(work, "vm.args"), files.vmArgs);
        fs.writeFileSync(path.join(work, "zones", files.zoneFile), files.zone);
        fs.writeFileSync(
            path.join(work, "synrc-ns.env"),
            `NS_HOME='${path.join(work, "opt")}'\nNS_CONFIG='${path.join(work, "sys.config")}'\nNS_VM_ARGS='${path.join(work, "vm.args")}'\n`,
        );
        inNetns(`ip addr add ${files.address}/32 dev lo 2>/dev/null; true`);
        let log = "";
        server = spawn("ip", ["netns", "exec", NETNS, "sh", path.join(ROOT, "dns", "files", "synrc-ns-run.sh")], {
            cwd: work,
            env: { PATH: process.env.PATH, HOME: work, NS_ENV: path.join(work, "synrc-ns.env") },
            detached: true,
            stdio: ["ignore", "pipe", "pipe"],
        });
        server.stdout?.on("data", (chunk) => (log += chunk));
        server.stderr?.on("data", (chunk) => (log += chunk));
        const domain = files.zoneFile.replace(/\.zone\.json$/, "");
        for (let i = 0; i < 150; i++) {
            if (server.exitCode !== null) throw new Error(`synrc/ns exited (${server.exitCode}):\n${log}`);
            if (/\sIN\s+SOA\s/.test(inNetns(digCommand(files.address, { name: domain, type: "SOA" }, "udp")).stdout)) return log;
            await new Promise((resolve) => setTimeout(resolve, 200));
        }
        throw new Error(`synrc/ns did not answer SOA at ${files.address} within 30 s:\n${log}`);
    }

    it("the recipe checks every archive against SOURCES.tsv and builds nothing from a changed one", () => {
        const copy = path.join(work, "sources");
        fs.cpSync(SOURCES, copy, { recursive: true });
        const archive = fs.readdirSync(copy).find((name) => name.startsWith("jsx-") && name.endsWith(".tar.gz")) as string;
        fs.appendFileSync(path.join(copy, archive), "x");
        const result = spawnSync("bash", [path.join(ROOT, "dns", "release", "build-synrc-ns.sh"), "--sources", copy, "--out", path.join(work, "tampered")], { encoding: "utf8" });
        assert.equal(result.status, 1, result.stderr);
        assert.match(result.stderr, new RegExp(`${archive}: FAILED`));
        assert.match(result.stderr, /does not match SOURCES\.tsv/);
        assert.equal(fs.existsSync(path.join(work, "tampered")), false);
    });

    it("builds the same bytes in another output folder, and those are what every stack pins", () => {
        const again = buildRelease(ROOT, { sources: SOURCES, out: path.join(work, "again") });
        assert.notEqual(again.dir, release.dir);
        assert.equal(again.sha256, release.sha256);
        for (const stack of STACKS) {
            const artifact = rawProjectConfig(stack).dns.nsArtifact as { url: string; sha256?: string };
            assert.equal(path.posix.basename(new URL(artifact.url).pathname), NS_TARBALL, stack);
            assert.equal(artifact.sha256, release.sha256, `${stack} pins another synrc/ns release than npm run synrc-ns builds: publish the new one and pin ${release.sha256}`);
        }
    });

    it("carries its own ERTS, which needs nothing newer than Ubuntu 24.04 has", () => {
        const [ertsVersion] = fs.readFileSync(path.join(installed, "releases", "start_erl.data"), "utf8").trim().split(/\s+/);
        assert.ok(fs.existsSync(path.join(installed, `erts-${ertsVersion}`, "bin", "beam.smp")), "no ERTS in the release");
        const elfs: string[] = [];
        const walk = (dir: string) => {
            for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
                const file = path.join(dir, entry.name);
                if (entry.isDirectory()) walk(file);
                else if (entry.isFile() && fs.readFileSync(file).subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) elfs.push(file);
            }
        };
        walk(installed);
        assert.ok(elfs.length >= 10, `only ${elfs.length} ELF files`);
        const needed = new Set<string>();
        let glibc = [0];
        let glibcxx = [0];
        for (const elf of elfs) {
            const dynamic = run("readelf", ["--dynamic", "--version-info", "--wide", elf]);
            for (const match of dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)) needed.add(match[1] as string);
            for (const match of dynamic.matchAll(/Name: GLIBC_([0-9.]+)/g)) {
                const version = (match[1] as string).split(".").map(Number);
                if (newer(version, glibc)) glibc = version;
            }
            for (const match of dynamic.matchAll(/Name: GLIBCXX_([0-9.]+)/g)) {
                const version = (match[1] as string).split(".").map(Number);
                if (newer(version, glibcxx)) glibcxx = version;
            }
        }
        assert.deepEqual([...needed].filter((library) => !NOBLE.libraries.includes(library)), [], "libraries Ubuntu 24.04's base system lacks");
        assert.equal(newer(glibc, NOBLE.glibc), false, `needs GLIBC_${glibc.join(".")}`);
        assert.equal(newer(glibcxx, NOBLE.glibcxx), false, `needs GLIBCXX_${glibcxx.join(".")}`);
        assert.ok(glibc[0] === 2 && (glibc[1] ?? 0) > 2, "no glibc symbol versions read: the check would pass on anything");
    });

    for (const stack of STACKS) {
        it(`serves every record of ${stack}'s zone exactly, over UDP and TCP, from each infra VM's configuration`, async () => {
            const files = (await renderStack(stack)).files;
            const zoneEntry = [...files].find(([file]) => /^dns\/[^/]+\.zone\.json$/.test(file));
            assert.ok(zoneEntry, "no zone rendered");
            const [zonePath, zone] = zoneEntry;
            const queries = zoneQueries(zone);
            const vms = [...files.keys()].filter((file) => /^dns\/[^/]+\/sys\.config$/.test(file)).map((file) => file.split("/")[1] as string);
            assert.ok(vms.length >= 1);
            for (const vm of vms) {
                const sysConfig = files.get(`dns/${vm}/sys.config`) as string;
                const address = /\{address, "([0-9.]+)"\}/.exec(sysConfig)?.[1] as string;
                await startServer({ sysConfig, vmArgs: files.get(`dns/${vm}/vm.args`) as string, zoneFile: path.basename(zonePath), zone, address });
                const wrong: string[] = [];
                for (const query of queries) {
                    for (const transport of ["udp", "tcp"] as const) {
                        const answer = answerLines(inNetns(digCommand(address, query, transport)).stdout);
                        if (JSON.stringify(answer) !== JSON.stringify(query.expected)) wrong.push(`${query.name} ${query.type} over ${transport}: ${JSON.stringify(answer)}, not ${JSON.stringify(query.expected)}`);
                    }
                }
                assert.deepEqual(wrong, [], `${vm}: ${queries.length} queries`);
                // A name the zone lacks: NXDOMAIN.
                assert.match(inNetns(`dig +norecurse @${address} missing.${path.basename(zonePath, ".zone.json")} A`).stdout, /status: NXDOMAIN/);
                // No recursion: a name outside the zone gets no answer (the contour has no internet).
                assert.match(inNetns(`dig +norecurse @${address} example.com A`).stdout, /ANSWER: 0,/);
                await stopServer();
            }
        });
    }

    /** Another Erlang node, on another address of the network, tries to reach the server's node with relx's default cookie. */
    function probeDistribution(target: string): string {
        inNetns(`ip addr add ${PROBE_ADDRESS}/32 dev lo 2>/dev/null; true`);
        const probe = inNetns(
            `HOME=${work} erl -noshell -name probe@${PROBE_ADDRESS} -setcookie erldns -eval ` +
                `'io:format("~s~n", [net_adm:ping(list_to_atom("${target}"))]), halt().'`,
        );
        return probe.stdout.trim().split("\n").pop() ?? "";
    }

    const listeners = () =>
        inNetns("ss -H -lntup")
            .stdout.split("\n")
            .filter(Boolean)
            .map((line) => line.split(/\s+/))
            .map((fields) => `${fields[0]} ${fields[4]}`)
            .sort();

    it("listens on DNS at its address and nothing else: no epmd, no distribution, no multicast discovery", async () => {
        const files = (await renderStack("production")).files;
        const sysConfig = files.get("dns/infra1/sys.config") as string;
        const address = /\{address, "([0-9.]+)"\}/.exec(sysConfig)?.[1] as string;
        const zone = files.get("dns/erp.uno.zone.json") as string;
        await startServer({ sysConfig, vmArgs: files.get("dns/infra1/vm.args") as string, zoneFile: "erp.uno.zone.json", zone, address });
        assert.deepEqual(listeners(), [`tcp ${address}:53`, `udp ${address}:53`, `udp ${address}:53`]);
        assert.equal(probeDistribution(`erldns@${address}`), "pang");
    });

    it("the probe reaches a server started the old way (relx's vm.args: a named node with cookie erldns), so the check can fail", async () => {
        const files = (await renderStack("production")).files;
        const sysConfig = files.get("dns/infra1/sys.config") as string;
        const address = /\{address, "([0-9.]+)"\}/.exec(sysConfig)?.[1] as string;
        const oldVmArgs = fs.readFileSync(path.join(installed, "releases", "3.0.0", "vm.args"), "utf8").replace(/^-sname erldns$/m, `-name erldns@${address}`);
        assert.match(oldVmArgs, /^-setcookie erldns$/m);
        await startServer({ sysConfig, vmArgs: oldVmArgs, zoneFile: "erp.uno.zone.json", zone: files.get("dns/erp.uno.zone.json") as string, address });
        assert.ok(listeners().some((line) => /:4369$/.test(line)), `epmd not listening: ${listeners().join(", ")}`);
        assert.equal(probeDistribution(`erldns@${address}`), "pong");
    });
});
