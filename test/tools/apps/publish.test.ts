// The program's own chart-publishing command (apps/files/publish-chart.sh, as the mock-engine run
// of the production stack registers it), run for real against two stand-ins for the two infra VMs on
// 127.0.0.1, each with its registry, chart repository and sshd.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { loadChart } from "../../../apps/catalog";
import { SECRET_MARK } from "../../../render/engine";
import { ROOT } from "../../../render/stackConfig";
import { baselineRun, find } from "../../helpers";
import { LoopbackInfra, PULL_PASSWORD, PULL_USER } from "../loopbackInfra";
import { freePort, helmBinary, run } from "../support";

const SCRIPT = path.join(ROOT, "apps", "files", "publish-chart.sh");

describe("chart publishing to two infra VMs on 127.0.0.1", function () {
    this.timeout(180000);
    let infras: LoopbackInfra[];
    let script: string;
    let recorded: Record<string, string>;
    const chart = loadChart();
    const names = ["infra1", "infra2"];

    before(async () => {
        const publish = find((await baselineRun("production")).resources, "publish-erp-uno");
        script = String(publish.inputs.create);
        recorded = publish.inputs.environment as Record<string, string>;
        infras = [await LoopbackInfra.prepare(), await LoopbackInfra.prepare()];
        for (const infra of infras) {
            await infra.start();
            await infra.startSsh();
            fs.writeFileSync(path.join(infra.chartsRoot, "index.yaml"), YAML.stringify({ apiVersion: "v1", entries: {} }));
        }
    });

    after(async () => {
        for (const infra of infras ?? []) await infra.stop();
    });

    /** The recorded command, with each infra VM's SSH and registry at its loopback stand-in (both accept the same admin key). */
    const environment = (override: (host: Record<string, unknown>, index: number) => Record<string, unknown> = (host) => host): NodeJS.ProcessEnv => {
        const hosts = (JSON.parse(recorded.INFRA_HOSTS as string) as Record<string, unknown>[]).map((host, index) => {
            const infra = infras[index] as LoopbackInfra;
            return override(
                { ...host, address: "127.0.0.1", sshPort: infra.ports.ssh, registry: `127.0.0.1:${infra.ports.upstream}`, chartsRoot: infra.chartsRoot, hostKey: fs.readFileSync(path.join(infra.work, "ssh", "host_key.pub"), "utf8") },
                index,
            );
        });
        return {
            ...process.env,
            PATH: `${path.dirname(helmBinary())}:${process.env.PATH ?? ""}`,
            ...recorded,
            INFRA_HOSTS: JSON.stringify(hosts),
            ADMIN_USER: "root",
            SSH_KEY: fs.readFileSync((infras[0] as LoopbackInfra).sshKey, "utf8"),
        };
    };
    const publish = (env: NodeJS.ProcessEnv = environment()) => run("/bin/bash", ["-c", script], { cwd: ROOT, env });
    const published = (infra: LoopbackInfra) => path.join(infra.chartsRoot, `erp-uno-${chart.version}.tgz`);

    /** What a reader gets from one infra VM through its nginx (the pull account, TLS with the CA): the chart's bytes. */
    const pullFrom = (infra: LoopbackInfra): string => {
        const pulled = fs.mkdtempSync(path.join(infra.work, "pulled-"));
        const helmEnv = { ...process.env, HELM_CONFIG_HOME: path.join(pulled, "config"), HELM_CACHE_HOME: path.join(pulled, "cache"), HELM_REGISTRY_CONFIG: path.join(pulled, "registry.json") };
        const registry = `127.0.0.1:${infra.ports.registry}`;
        run(helmBinary(), ["registry", "login", registry, "--username", PULL_USER, "--password-stdin", "--ca-file", infra.ca.caCert], { env: helmEnv, input: PULL_PASSWORD });
        run(helmBinary(), ["pull", `oci://${registry}/charts/erp-uno`, "--version", chart.version, "--ca-file", infra.ca.caCert, "-d", pulled], { env: helmEnv });
        return sha256(path.join(pulled, `erp-uno-${chart.version}.tgz`));
    };

    before(() => {
        // Each stand-in lets root in with its own key; the program has one admin key for every VM.
        const [first, second] = infras as [LoopbackInfra, LoopbackInfra];
        fs.copyFileSync(`${first.sshKey}.pub`, path.join(second.work, "ssh", "authorized_keys"));
    });

    it("is valid bash (the command's interpreter), and the program runs exactly the committed script", () => {
        run("bash", ["-n", SCRIPT]);
        assert.equal(script, fs.readFileSync(SCRIPT, "utf8"));
    });

    it("registers the command with the chart's version and content hash, every infra VM with its pinned host key, and the key only as a secret", () => {
        assert.equal(recorded.CHART_VERSION, chart.version);
        assert.equal(recorded.CHART_SHA256, chart.contentSha256);
        assert.equal(recorded.SSH_KEY, SECRET_MARK);
        const hosts = JSON.parse(recorded.INFRA_HOSTS as string) as { name: string; address: string; sshPort: number; registry: string; chartsRoot: string; hostKey: string }[];
        assert.deepEqual(hosts.map(({ name, address, sshPort, registry, chartsRoot }) => ({ name, address, sshPort, registry, chartsRoot })), [
            { name: "infra1", address: "10.0.0.5", sshPort: 22, registry: "127.0.0.1:5000", chartsRoot: "/srv/charts" },
            { name: "infra2", address: "10.0.0.6", sshPort: 22, registry: "127.0.0.1:5000", chartsRoot: "/srv/charts" },
        ]);
        for (const host of hosts) assert.match(host.hostKey, /^ssh-ed25519 /);
        assert.notEqual(hosts[0]?.hostKey, hosts[1]?.hostKey);
    });

    it("fails naming the infra VM it cannot reach, after publishing on the other", async () => {
        const closed = await freePort();
        const down = environment((host, index) => (index === 1 ? { ...host, sshPort: closed } : host));
        assert.throws(() => publish(down), /erp-uno [\d.]+ is not published on infra2: the next pulumi up publishes it again/);
        const [first, second] = infras as [LoopbackInfra, LoopbackInfra];
        assert.ok(fs.existsSync(published(first)), "infra1 did not get the chart");
        assert.ok(!fs.existsSync(published(second)), "infra2 was unreachable, yet has the chart");
    });

    it("catches up on the next run: the VM that missed it gets it, the other is left alone, and both serve the same bytes", () => {
        const output = publish();
        assert.match(output, /infra1: erp-uno [\d.]+ is already in the registry with this content/);
        assert.match(output, /infra2: pushed erp-uno [\d.]+ to the registry/);
        assert.match(output, new RegExp(`published erp-uno ${chart.version.replace(/\./g, "\\.")} on every infra VM`));
        for (const infra of infras) {
            const index = YAML.parse(fs.readFileSync(path.join(infra.chartsRoot, "index.yaml"), "utf8"));
            assert.deepEqual(index.entries["erp-uno"].map((entry: { version: string }) => entry.version), [chart.version]);
            assert.equal(pullFrom(infra), sha256(published(infra)), "the registry and the classic repository differ");
        }
        assert.equal(sha256(published(infras[0] as LoopbackInfra)), sha256(published(infras[1] as LoopbackInfra)));
    });

    it("leaves the same content alone on every VM on a second run", () => {
        const output = publish();
        for (const name of names) assert.match(output, new RegExp(`${name}: erp-uno [\\d.]+ is already in the registry with this content`));
    });

    it("refuses other content under a version that is already published", () => {
        const copy = fs.mkdtempSync(path.join((infras[0] as LoopbackInfra).work, "changed-chart-"));
        fs.cpSync(path.join(ROOT, "apps", "charts", "erp-uno"), copy, { recursive: true });
        fs.appendFileSync(path.join(copy, "values.yaml"), "\n# a change without a new version\n");
        assert.throws(() => publish({ ...environment(), CHART_DIR: copy }), /infra1: erp-uno [\d.]+ is already published with other content; a version is immutable/);
    });

    it("writes to an infra VM only when it shows the host key the program pinned", () => {
        const other = path.join(fs.mkdtempSync(path.join((infras[0] as LoopbackInfra).work, "other-key-")), "key");
        run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
        const index = path.join((infras[1] as LoopbackInfra).chartsRoot, "index.yaml");
        const before = fs.statSync(index).mtimeMs;
        const wrongKey = environment((host, i) => (i === 1 ? { ...host, hostKey: fs.readFileSync(`${other}.pub`, "utf8") } : host));
        assert.throws(() => publish(wrongKey), /Host key verification failed[\s\S]*not published on infra2/);
        assert.equal(fs.statSync(index).mtimeMs, before, "nothing was copied to a host with another key");
    });
});

function sha256(file: string): string {
    return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}
