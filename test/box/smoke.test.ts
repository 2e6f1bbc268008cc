// The box harness itself (npm run test:box): a Debian 12 box booted with systemd-nspawn from the
// cached root, provisioned by cloud-init from a NoCloud seed, reached over SSH through its relay
// socket, with apt through the relay, a box service forwarded to the host's 127.0.0.1, a host
// service (a stand-in for the datacenter mirror) given to the box; and two boxes side by side.
// Needs root. A cold root build (test/box/root.sh) takes a few minutes; later runs use the cache.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { Box, ensureRoot, generateKey, reapStaleBoxes, type BoxImage, type StopReport } from "./box";

const log = (line: string) => console.log(`      ${line}`);

function httpGet(port: number, urlPath = "/"): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const request = http.get({ host: "127.0.0.1", port, path: urlPath, timeout: 10_000 }, (response) => {
            let body = "";
            response.setEncoding("utf8");
            response.on("data", (chunk: string) => (body += chunk));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
            response.on("error", reject);
        });
        request.on("timeout", () => request.destroy(new Error("timeout")));
        request.on("error", reject);
    });
}

/** Retries until the service answers 200: a unit is active before its port is open. */
async function httpGetWhenUp(port: number, urlPath = "/", timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
        try {
            const response = await httpGet(port, urlPath);
            if (response.status === 200) return response.body;
            last = `HTTP ${response.status}`;
        } catch (error) {
            last = (error as Error).message;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`127.0.0.1:${port}${urlPath} did not answer 200 within ${timeoutMs} ms (${last})`);
}

function refuses(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.once("connect", () => {
            socket.destroy();
            resolve(false);
        });
        socket.once("error", () => resolve(true));
    });
}

function processes(): Array<{ pid: number; cmdline: string; cgroup: string }> {
    const out: Array<{ pid: number; cmdline: string; cgroup: string }> = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            // A zombie has ended; only its parent (whoever inherited it) can reap it.
            if (/^State:\s+Z/m.test(fs.readFileSync(`/proc/${entry}/status`, "utf8"))) continue;
            out.push({
                pid: Number(entry),
                cmdline: fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " "),
                cgroup: fs.readFileSync(`/proc/${entry}/cgroup`, "utf8"),
            });
        } catch {
            /* exited meanwhile */
        }
    }
    return out;
}

/** Nothing of the box is left on the host: processes, sockets, cgroups, nspawn runtime files, root. */
async function assertGone(box: Box, report: StopReport, pids: readonly number[], hostPorts: readonly number[]): Promise<void> {
    assert.deepEqual(report.leftovers, [], `leftovers of ${box.name}`);
    for (const pid of pids) assert.ok(!fs.existsSync(`/proc/${pid}`), `pid ${pid} of ${box.name} still runs`);
    const stray = processes().filter(
        (p) => p.cgroup.split("\n").some((line) => line.endsWith(`/${box.name}`) || line.includes(`/${box.name}/`)) || p.cmdline.includes(box.dir),
    );
    assert.deepEqual(stray, [], `processes of ${box.name} left`);
    for (const dir of box.cgroups) assert.ok(!fs.existsSync(dir), `cgroup ${dir} left`);
    assert.ok(!fs.existsSync(box.dir), `${box.dir} (root, relay sockets) left`);
    const mounts = fs.readFileSync("/proc/self/mounts", "utf8").split("\n").filter((line) => line.includes(box.dir) || line.includes(box.name));
    assert.deepEqual(mounts, [], `mounts of ${box.name} left`);
    for (const sub of fs.existsSync("/run/systemd/nspawn") ? fs.readdirSync("/run/systemd/nspawn") : []) {
        assert.ok(!fs.existsSync(path.join("/run/systemd/nspawn", sub, box.name)), `/run/systemd/nspawn/${sub}/${box.name} left`);
    }
    for (const port of hostPorts) assert.ok(await refuses(port), `127.0.0.1:${port} still accepts connections`);
}

describe("box harness", function () {
    this.timeout(20 * 60_000);

    let image: BoxImage;
    let tmp: string;
    let key: { privateKey: string; publicKey: string };

    before(async function () {
        this.timeout(40 * 60_000);
        image = await ensureRoot({ log });
        log(`root ready in ${(image.tookMs / 1000).toFixed(1)} s: ${image.tarball}`);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-box-test-"));
        key = generateKey(tmp);
    });

    after(() => {
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    describe("a box provisioned by cloud-init from a NoCloud seed", () => {
        const name = `erpdc-box-${crypto.randomBytes(4).toString("hex")}`;
        const instanceId = `i-${crypto.randomBytes(6).toString("hex")}`;
        let box: Box | undefined;
        let mirror: http.Server | undefined;
        let pids: number[] = [];
        const hostPorts: number[] = [];

        const need = (): Box => {
            if (!box) throw new Error("the box did not start");
            return box;
        };

        after(async () => {
            await box?.stop();
            await new Promise<void>((resolve) => (mirror ? mirror.close(() => resolve()) : resolve()));
        });

        it("boots and finishes cloud-init (status: done)", async () => {
            // A stand-in for the datacenter mirror: a host HTTP server on a Unix socket.
            const mirrorSocket = path.join(tmp, "mirror.sock");
            mirror = http.createServer((request, response) => {
                response.writeHead(request.url === "/dists/release.txt" ? 200 : 404, { "content-type": "text/plain" });
                response.end(request.url === "/dists/release.txt" ? "erpdc mirror release 1\n" : "not found\n");
            });
            await new Promise<void>((resolve) => mirror?.listen(mirrorSocket, resolve));

            const userData = [
                "#cloud-config",
                "users:",
                "  - name: erpdc",
                "    groups: [sudo]",
                "    shell: /bin/bash",
                "    sudo: ALL=(ALL) NOPASSWD:ALL",
                "    lock_passwd: true",
                "    ssh_authorized_keys:",
                `      - ${key.publicKey}`,
                "ssh_pwauth: false",
                "write_files:",
                "  - path: /etc/erpdc-box-smoke",
                "    content: written by cloud-init",
                "",
            ].join("\n");
            const started = Date.now();
            box = await Box.start({
                image,
                name,
                log,
                seed: { userData, metaData: `instance-id: ${instanceId}\nlocal-hostname: ${name}\n` },
                sshUser: "erpdc",
                sshKey: key.privateKey,
                hosts: { "mirror.erpdc.test": "127.0.0.1" },
                inbound: { 8081: { unix: mirrorSocket } },
            });
            pids = box.pids;
            await box.waitForLogin();
            const status = await box.waitForCloudInit();
            log(`cloud-init done ${((Date.now() - started) / 1000).toFixed(1)} s after start (unpack ${box.timings.unpackMs} ms, boot to SSH ${box.timings.bootToSshMs} ms)`);
            assert.match(status, /^status: done$/m);
            const result = JSON.parse((await box.ssh("cat /run/cloud-init/result.json")).stdout) as { v1: { datasource: string; errors: unknown[] } };
            assert.deepEqual(result.v1.errors, [], `cloud-init errors:\n${status}`);
            assert.match(result.v1.datasource, /NoCloud/);

            const facts = await box.ssh("id -un; id -nG; cat /var/lib/cloud/data/instance-id; cat /etc/erpdc-box-smoke; echo; hostname; sudo -n id -u");
            const [user, groups, instance, written, hostname, rootUid] = facts.stdout.trim().split("\n");
            assert.equal(user, "erpdc");
            assert.match(groups ?? "", /\bsudo\b/);
            assert.equal(instance, instanceId);
            assert.equal(written, "written by cloud-init");
            assert.equal(hostname, name);
            assert.equal(rootUid, "0");
            const state = await box.ssh("systemctl is-system-running --wait; systemctl --failed --no-legend --plain", { allowFailure: true });
            assert.equal(state.stdout.trim(), "running", `the box is degraded:\n${state.stdout}`);
        });

        it("runs a command over SSH with stdin and environment", async () => {
            const input = crypto.randomBytes(64 * 1024).toString("base64");
            const result = await need().ssh('sha256sum | cut -d" " -f1; printf "%s\\n" "$GREETING"', {
                stdin: input,
                env: { GREETING: `it's "quoted" $HOME` },
            });
            const [digest, greeting] = result.stdout.split("\n");
            assert.equal(digest, crypto.createHash("sha256").update(input).digest("hex"));
            assert.equal(greeting, `it's "quoted" $HOME`);
            const failed = await need().ssh("exit 3", { allowFailure: true });
            assert.equal(failed.code, 3);
            const asRoot = await need().ssh("id -u; cat", { sudo: true, stdin: "via sudo" });
            assert.equal(asRoot.stdout, "0\nvia sudo");
        });

        it("installs a package through the apt relay", async () => {
            const started = Date.now();
            await need().ssh("apt-get update -q && apt-get install -y -q --no-install-recommends nginx-light", {
                sudo: true,
                env: { DEBIAN_FRONTEND: "noninteractive" },
                timeoutMs: 10 * 60_000,
            });
            log(`apt-get update + install nginx-light: ${((Date.now() - started) / 1000).toFixed(1)} s`);
            const page = await need().ssh("systemctl is-active nginx; curl -fsS --retry 10 --retry-connrefused --retry-delay 1 http://127.0.0.1/");
            assert.match(page.stdout, /^active$/m);
            assert.match(page.stdout, /Welcome to nginx/);
        });

        it("forwards box services to the host's 127.0.0.1", async () => {
            const b = need();
            const marker = crypto.randomBytes(8).toString("hex");
            await b.ssh(
                "mkdir -p /srv/www && printf '%s\\n' \"$MARKER\" > /srv/www/marker.txt && " +
                    "systemd-run --unit=smoke-http --property=WorkingDirectory=/srv/www /usr/bin/python3 -m http.server 8080 --bind 127.0.0.1",
                { sudo: true, env: { MARKER: marker } },
            );
            const port = await b.forward(8080);
            hostPorts.push(port);
            assert.equal(await httpGetWhenUp(port, "/marker.txt"), `${marker}\n`);
            // nginx (installed through apt) on port 80, and SSH itself (22, the relay Pulumi would use).
            const nginx = await b.forward(80);
            hostPorts.push(nginx);
            assert.match(await httpGetWhenUp(nginx, "/"), /Welcome to nginx/);
            const sshPort = await b.forward(22);
            hostPorts.push(sshPort);
            const banner = await new Promise<string>((resolve, reject) => {
                const socket = net.connect(sshPort, "127.0.0.1");
                socket.once("data", (data) => {
                    socket.destroy();
                    resolve(data.toString("latin1"));
                });
                socket.once("error", reject);
            });
            assert.match(banner, /^SSH-2\.0-OpenSSH/);
            assert.equal(new Set(hostPorts).size, 3);
            pids = b.pids;
        });

        it("reaches a host service (the datacenter mirror) by name from the box", async () => {
            const result = await need().ssh("getent hosts mirror.erpdc.test; curl -fsS http://mirror.erpdc.test:8081/dists/release.txt");
            assert.match(result.stdout, /^127\.0\.0\.1\s+mirror\.erpdc\.test$/m);
            assert.match(result.stdout, /erpdc mirror release 1/);
        });

        it("stops and leaves no process, socket or cgroup behind", async () => {
            const b = need();
            assert.ok(b.cgroupPids().length > 0, "the box runs in its own cgroup");
            const report = await b.stop();
            log(`stopped in ${b.timings.stopMs} ms (clean: ${report.clean})`);
            assert.ok(report.clean, "the box shut down on SIGTERM");
            await assertGone(b, report, pids, hostPorts);
        });
    });

    describe("a test process that dies without stop()", () => {
        it("leaves a box that the next start reaps by PID", async () => {
            const child = spawnSync(process.execPath, ["-r", "ts-node/register", path.join(__dirname, "crash-fixture.ts")], {
                cwd: path.join(__dirname, "..", ".."),
                encoding: "utf8",
                timeout: 5 * 60_000,
            });
            assert.equal(child.signal, "SIGKILL", `the fixture should die by SIGKILL:\n${child.stdout}${child.stderr}`);
            const made = JSON.parse(child.stdout.trim()) as { name: string; dir: string; cgroups: string[]; pids: number[]; port: number };
            assert.ok(made.pids.some((pid) => fs.existsSync(`/proc/${pid}`)), "the box outlived its process");
            assert.ok(fs.existsSync(made.dir));
            const reapedNames = reapStaleBoxes(os.tmpdir(), log);
            assert.ok(reapedNames.includes(made.name), `reaped ${reapedNames.join(", ")}`);
            const stub = { name: made.name, dir: made.dir, cgroups: made.cgroups } as unknown as Box;
            await new Promise((resolve) => setTimeout(resolve, 200)); // let the killed PIDs be reaped by their new parent
            const zombie = (pid: number) => /^State:\s+Z/m.test(fs.existsSync(`/proc/${pid}/status`) ? fs.readFileSync(`/proc/${pid}/status`, "utf8") : "State: Z");
            assert.ok(made.pids.every(zombie), "the box's processes are dead");
            await assertGone(stub, { clean: false, leftovers: [] }, [], [made.port]);
        });
    });

    describe("two boxes at once", () => {
        const boxes: Box[] = [];
        const forwarded: number[][] = [];

        after(async () => {
            await Promise.all(boxes.map((box) => box.stop()));
        });

        it("boot side by side without clashing", async () => {
            const started = Date.now();
            const results = await Promise.allSettled(
                [0, 1].map(() => Box.start({ image, log, admin: { user: "admin", publicKey: key.publicKey }, sshKey: key.privateKey })),
            );
            for (const result of results) if (result.status === "fulfilled") boxes.push(result.value);
            for (const result of results) if (result.status === "rejected") throw result.reason;
            log(`two boxes answer SSH ${((Date.now() - started) / 1000).toFixed(1)} s after start`);
            const [one, two] = boxes as [Box, Box];
            assert.notEqual(one.name, two.name);
            assert.notEqual(one.relayDir, two.relayDir);
            assert.notDeepEqual(one.cgroups, two.cgroups);

            // The same port in each box: their networks are their own.
            const ports: number[] = [];
            for (const box of boxes) {
                await box.ssh(
                    "mkdir -p /srv/www && hostname > /srv/www/name.txt && " +
                        "systemd-run --unit=smoke-http --property=WorkingDirectory=/srv/www /usr/bin/python3 -m http.server 8080 --bind 127.0.0.1",
                    { sudo: true },
                );
                ports.push(await box.forward(8080));
            }
            forwarded.push(...ports.map((port) => [port]));
            assert.notEqual(ports[0], ports[1]);
            assert.equal(await httpGetWhenUp(ports[0] ?? 0, "/name.txt"), `${one.name}\n`);
            assert.equal(await httpGetWhenUp(ports[1] ?? 0, "/name.txt"), `${two.name}\n`);

            // Separate file systems and hosts.
            await one.ssh("touch /tmp/only-in-one");
            assert.equal((await two.ssh("test -e /tmp/only-in-one", { allowFailure: true })).code, 1);
            assert.equal((await one.ssh("hostname")).stdout.trim(), one.name);
            assert.equal((await two.ssh("hostname")).stdout.trim(), two.name);
            // Root without SSH, and a second admin user added at run time.
            assert.equal((await one.exec("cat /etc/hostname")).stdout.trim(), one.name);
            const other = generateKey(tmp, "id_other");
            await two.addAdminUser("ops", other.publicKey);
            assert.equal((await two.ssh("sudo -n id -u", { user: "ops", key: other.privateKey })).stdout.trim(), "0");
        });

        it("stop both and leave nothing behind", async () => {
            assert.equal(boxes.length, 2, "both boxes started");
            const pids = boxes.map((box) => box.pids);
            const reports = await Promise.all(boxes.map((box) => box.stop()));
            for (const [index, box] of boxes.entries()) await assertGone(box, reports[index] ?? { clean: false, leftovers: ["no report"] }, pids[index] ?? [], forwarded[index] ?? []);
            assert.ok(reports.every((report) => report.clean));
        });
    });
});
