// The program's own chart-publishing command (apps/files/publish-chart.sh, as the mock-engine run
// of the production stack registers it), run for real against the registry, the chart repository
// and an sshd on 127.0.0.1.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { loadChart } from "../../../apps/catalog";
import { SECRET_MARK } from "../../../render/engine";
import { ROOT } from "../../../render/stackConfig";
import { baselineRun, find } from "../../helpers";
import { LoopbackInfra, PASSWORD, USER } from "../loopbackInfra";
import { helmBinary, run } from "../support";

const SCRIPT = path.join(ROOT, "apps", "files", "publish-chart.sh");

describe("chart publishing against the infra services on 127.0.0.1", function () {
    this.timeout(180000);
    let infra: LoopbackInfra;
    let script: string;
    let recorded: Record<string, string>;
    let env: NodeJS.ProcessEnv;
    const chart = loadChart();

    before(async () => {
        const publish = find((await baselineRun("production")).resources, "publish-erp-uno");
        script = String(publish.inputs.create);
        recorded = publish.inputs.environment as Record<string, string>;
        infra = await LoopbackInfra.prepare();
        await infra.start();
        await infra.startSsh();
        // The recorded command, pointed at the loopback services instead of the contour's names.
        env = {
            ...process.env,
            PATH: `${path.dirname(helmBinary())}:${process.env.PATH ?? ""}`,
            ...recorded,
            REGISTRY: `127.0.0.1:${infra.ports.registry}`,
            REGISTRY_USER: USER,
            REGISTRY_PASSWORD: PASSWORD,
            CA_PEM: fs.readFileSync(infra.ca.caCert, "utf8"),
            CHARTS_URL: `https://127.0.0.1:${infra.ports.charts}`,
            CHARTS_ROOT: infra.chartsRoot,
            INFRA_HOST: "127.0.0.1",
            INFRA_SSH_PORT: String(infra.ports.ssh),
            INFRA_HOST_KEY: fs.readFileSync(path.join(infra.work, "ssh", "host_key.pub"), "utf8").trim(),
            ADMIN_USER: "root",
            SSH_KEY: fs.readFileSync(infra.sshKey, "utf8"),
        };
        fs.writeFileSync(path.join(infra.chartsRoot, "index.yaml"), YAML.stringify({ apiVersion: "v1", entries: {} }));
    });

    after(async () => {
        await infra?.stop();
    });

    const publish = () => run("/bin/bash", ["-c", script], { cwd: ROOT, env });

    it("is valid bash (the command's interpreter), and the program runs exactly the committed script", () => {
        run("bash", ["-n", SCRIPT]);
        assert.equal(script, fs.readFileSync(SCRIPT, "utf8"));
    });

    it("registers the command with the chart's version and content hash, and the password and key only as secrets", () => {
        assert.equal(recorded.CHART_VERSION, chart.version);
        assert.equal(recorded.CHART_SHA256, chart.contentSha256);
        assert.equal(recorded.REGISTRY_PASSWORD, SECRET_MARK);
        assert.equal(recorded.SSH_KEY, SECRET_MARK);
        assert.equal(recorded.CHARTS_ROOT, "/srv/charts");
    });

    it("pushes the chart over OCI and into the classic repository, where helm finds the same bytes", () => {
        assert.match(publish(), new RegExp(`published erp-uno ${chart.version.replace(/\./g, "\\.")}`));
        const published = path.join(infra.chartsRoot, `erp-uno-${chart.version}.tgz`);
        assert.ok(fs.existsSync(published));
        const index = YAML.parse(fs.readFileSync(path.join(infra.chartsRoot, "index.yaml"), "utf8"));
        assert.deepEqual(index.entries["erp-uno"].map((entry: { version: string }) => entry.version), [chart.version]);

        const pulled = fs.mkdtempSync(path.join(infra.work, "pulled-"));
        const helmEnv = { ...env, HELM_CONFIG_HOME: path.join(pulled, "config"), HELM_CACHE_HOME: path.join(pulled, "cache"), HELM_REGISTRY_CONFIG: path.join(pulled, "registry.json") };
        run(helmBinary(), ["registry", "login", env.REGISTRY as string, "--username", USER, "--password-stdin", "--ca-file", infra.ca.caCert], { env: helmEnv, input: PASSWORD });
        run(helmBinary(), ["pull", `oci://${env.REGISTRY}/charts/erp-uno`, "--version", chart.version, "--ca-file", infra.ca.caCert, "-d", pulled], { env: helmEnv });
        assert.equal(sha256(path.join(pulled, `erp-uno-${chart.version}.tgz`)), sha256(published));
    });

    it("leaves the same content alone on a second run", () => {
        assert.match(publish(), /already in the registry with this content/);
    });

    it("refuses other content under a version that is already published", () => {
        const copy = fs.mkdtempSync(path.join(infra.work, "changed-chart-"));
        fs.cpSync(path.join(ROOT, "apps", "charts", "erp-uno"), copy, { recursive: true });
        fs.appendFileSync(path.join(copy, "values.yaml"), "\n# a change without a new version\n");
        assert.throws(
            () => run("/bin/bash", ["-c", script], { cwd: ROOT, env: { ...env, CHART_DIR: copy } }),
            /already published with other content; a version is immutable/,
        );
    });

    it("copies to the chart host only when it shows the host key the program pinned", () => {
        const other = path.join(fs.mkdtempSync(path.join(infra.work, "other-key-")), "key");
        run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
        const index = path.join(infra.chartsRoot, "index.yaml");
        const before = fs.statSync(index).mtimeMs;
        assert.throws(
            () => run("/bin/bash", ["-c", script], { cwd: ROOT, env: { ...env, INFRA_HOST_KEY: fs.readFileSync(`${other}.pub`, "utf8").trim() } }),
            /Host key verification failed/,
        );
        assert.equal(fs.statSync(index).mtimeMs, before, "nothing was copied to a host with another key");
    });
});

function sha256(file: string): string {
    return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}
