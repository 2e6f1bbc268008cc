// End to end on 127.0.0.1: Debian's docker-registry and nginx run the generated configuration with
// certificates from a real CA made here, and helm v4 pushes and pulls charts through them.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { LoopbackInfra, PASSWORD, PULL_PASSWORD, PULL_USER, USER } from "../loopbackInfra";
import { helmBinary, run } from "../support";

const CHART_VERSION = "2026.11.21";

describe("infra host end to end on 127.0.0.1", function () {
    this.timeout(180000);
    let infra: LoopbackInfra;
    let work: string;
    let ca: LoopbackInfra["ca"];
    let ports: LoopbackInfra["ports"];
    let nginxConf: string;
    let helm: string;
    let helmEnv: NodeJS.ProcessEnv;

    before(async () => {
        infra = await LoopbackInfra.prepare();
        ({ work, ca, ports, nginxConf } = infra);
        helm = helmBinary();
        helmEnv = {
            HELM_CONFIG_HOME: path.join(work, "helm", "config"),
            HELM_CACHE_HOME: path.join(work, "helm", "cache"),
            HELM_DATA_HOME: path.join(work, "helm", "data"),
            HELM_REGISTRY_CONFIG: path.join(work, "helm", "registry.json"),
        };
    });

    after(async () => {
        await infra.stop();
    });

    it("the generated nginx configuration passes `nginx -t` with the generated certificates", () => {
        const output = run("nginx", ["-t", "-c", nginxConf, "-e", path.join(work, "nginx-error.log")]);
        assert.match(output, /syntax is ok/);
        assert.match(output, /test is successful/);
    });

    it("starts the registry and nginx with that configuration", async () => {
        await infra.start();
    });

    const status = (url: string, ...extra: string[]) =>
        run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca.caCert, ...extra, url]).trim();

    it("answers /v2/ with 401 without credentials and 200 with either account, over TLS the local CA vouches for", () => {
        const url = `https://127.0.0.1:${ports.registry}/v2/`;
        assert.equal(status(url), "401");
        assert.equal(status(url, "-u", `${USER}:wrong-password`), "401");
        assert.equal(status(url, "-u", `${USER}:${PASSWORD}`), "200");
        assert.equal(status(url, "-u", `${PULL_USER}:${PULL_PASSWORD}`), "200");
    });

    it("lets the pull account read but never write, and asks an anonymous writer for credentials", () => {
        const upload = `https://127.0.0.1:${ports.registry}/v2/erpuno/probe/blobs/uploads/`;
        assert.equal(status(upload, "-X", "POST", "-u", `${PULL_USER}:${PULL_PASSWORD}`), "403");
        assert.equal(status(upload, "-X", "POST"), "401");
        assert.equal(status(upload, "-X", "POST", "-u", `${USER}:${PASSWORD}`), "202");
    });

    it("refuses TLS to a client that does not trust the local CA", () => {
        assert.throws(
            () => run("curl", ["-sS", "-o", "/dev/null", `https://127.0.0.1:${ports.registry}/v2/`]),
            (error: { status?: number }) => error.status === 60,
        );
    });

    /** A TLS handshake with openssl (the system's OpenSSL 3): whether it completed, and what was negotiated. */
    const handshake = (port: number, ...options: string[]) => {
        const result = spawnSync("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-CAfile", ca.caCert, "-verify_return_error", ...options], { input: "", encoding: "utf8", timeout: 20_000 });
        return { ok: result.status === 0 && /^\s*Verify return code: 0 \(ok\)/m.test(result.stdout), protocol: /^\s*Protocol\s*:\s*(\S+)/m.exec(result.stdout)?.[1] ?? /New, (TLSv[\d.]+),/.exec(result.stdout)?.[1] };
    };

    it("speaks TLS as Mozilla's intermediate profile: 1.2 with AEAD suites and 1.3; no 1.1, no CBC or SHA-1 suite", () => {
        for (const port of [ports.registry, ports.charts, ports.files]) {
            assert.equal(handshake(port, "-tls1_3").ok, true, `TLS 1.3 on ${port}`);
            assert.equal(handshake(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256").ok, true, `TLS 1.2 AEAD on ${port}`);
            // The suites the previous configuration still accepted (OpenSSL's defaults).
            for (const cipher of ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA256"]) {
                assert.equal(handshake(port, "-tls1_2", "-cipher", cipher).ok, false, `${cipher} on ${port}`);
            }
            assert.equal(handshake(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0").ok, false, `TLS 1.1 on ${port}`);
        }
    });

    it("sends HSTS on every answer, errors and the registry's included, and no version in the Server header", () => {
        const headers = (url: string, ...extra: string[]) => run("curl", ["-s", "-o", "/dev/null", "-D", "-", "--cacert", ca.caCert, ...extra, url]);
        for (const url of [`https://127.0.0.1:${ports.registry}/v2/`, `https://127.0.0.1:${ports.registry}/nothing`, `https://127.0.0.1:${ports.charts}/index.yaml`, `https://127.0.0.1:${ports.charts}/missing.tgz`, `https://127.0.0.1:${ports.files}/`]) {
            const answer = headers(url);
            assert.match(answer, /^strict-transport-security: max-age=63072000\r?$/im, `${url}:\n${answer}`);
            assert.match(answer, /^server: nginx\r?$/im, `${url}:\n${answer}`);
        }
    });

    let chartPackage: string;
    it("pushes a chart to the registry as OCI with helm and pulls it back with the same digest", () => {
        run(helm, ["create", "erp-e2e"], { cwd: work, env: helmEnv });
        const chartYaml = path.join(work, "erp-e2e", "Chart.yaml");
        fs.writeFileSync(chartYaml, fs.readFileSync(chartYaml, "utf8").replace(/^version: .*$/m, `version: ${CHART_VERSION}`));
        const packaged = run(helm, ["package", path.join(work, "erp-e2e"), "-d", work], { env: helmEnv });
        chartPackage = path.join(work, `erp-e2e-${CHART_VERSION}.tgz`);
        assert.ok(fs.existsSync(chartPackage), packaged);

        const registry = `127.0.0.1:${ports.registry}`;
        run(helm, ["registry", "login", registry, "--username", USER, "--password-stdin", "--ca-file", ca.caCert], { env: helmEnv, input: PASSWORD });
        const pushed = run(helm, ["push", chartPackage, `oci://${registry}/charts`, "--ca-file", ca.caCert], { env: helmEnv });
        const pushDigest = /Digest: (sha256:[0-9a-f]{64})/.exec(pushed)?.[1];
        assert.ok(pushDigest, pushed);

        const pulledDir = fs.mkdtempSync(path.join(work, "pulled-oci-"));
        const pulled = run(
            helm,
            ["pull", `oci://${registry}/charts/erp-e2e`, "--version", CHART_VERSION, "--ca-file", ca.caCert, "-d", pulledDir],
            { env: helmEnv },
        );
        assert.equal(/Digest: (sha256:[0-9a-f]{64})/.exec(pulled)?.[1], pushDigest, pulled);
        assert.equal(sha256(path.join(pulledDir, path.basename(chartPackage))), sha256(chartPackage));
    });

    it("serves a classic Helm repository that helm adds with the CA and pulls from", () => {
        fs.copyFileSync(chartPackage, path.join(work, "charts", path.basename(chartPackage)));
        const url = `https://127.0.0.1:${ports.charts}`;
        run(helm, ["repo", "index", path.join(work, "charts"), "--url", url], { env: helmEnv });
        for (const file of fs.readdirSync(path.join(work, "charts"))) fs.chmodSync(path.join(work, "charts", file), 0o644);

        run(helm, ["repo", "add", "erp", url, "--ca-file", ca.caCert], { env: helmEnv });
        const pulledDir = fs.mkdtempSync(path.join(work, "pulled-classic-"));
        run(helm, ["pull", "erp/erp-e2e", "--version", CHART_VERSION, "-d", pulledDir], { env: helmEnv });
        assert.equal(sha256(path.join(pulledDir, path.basename(chartPackage))), sha256(chartPackage));
    });

    it("makes helm without the CA fail TLS against the chart repository", () => {
        assert.throws(
            () => run(helm, ["repo", "add", "untrusted", `https://127.0.0.1:${ports.charts}`], { env: helmEnv }),
            /certificate|x509|tls/i,
        );
    });
});

function sha256(file: string): string {
    return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}
