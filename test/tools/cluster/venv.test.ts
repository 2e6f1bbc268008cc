// The Kubespray runner's own venv step (cluster/files/kubespray_run.py install_venv) against a
// package index on 127.0.0.1: a wheel built here, served as a PEP 503 simple index over plain http
// and over https with a test CA, as the contour's index would be.
import { strict as assert } from "assert";
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../../../render/stackConfig";
import { freePort, makeCa, run, waitForPort, type TestCa } from "../support";

/** Debian's Python: it has venv, setuptools and wheel from Debian's packages (.ci/run installs them). */
const PYTHON = "/usr/bin/python3";
const RUNNER_DIR = path.join(ROOT, "cluster", "files");

describe("the Kubespray runner's venv from the contour's package index", function () {
    this.timeout(180000);
    let work: string;
    let ca: TestCa;
    const servers: ChildProcess[] = [];
    const ports = { http: 0, https: 0 };

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-venv-"));
        // A package of our own, built into a wheel with setuptools.
        const project = path.join(work, "project");
        fs.mkdirSync(path.join(project, "erpdc_probe"), { recursive: true });
        fs.writeFileSync(path.join(project, "erpdc_probe", "__init__.py"), 'PROBE = "from the contour"\n');
        fs.writeFileSync(path.join(project, "setup.py"), 'from setuptools import setup\nsetup(name="erpdc-probe", version="1.0.0", packages=["erpdc_probe"])\n');
        run(PYTHON, ["setup.py", "-q", "bdist_wheel", "-d", path.join(work, "index", "erpdc-probe")], { cwd: project });
        const wheel = fs.readdirSync(path.join(work, "index", "erpdc-probe")).find((file) => file.endsWith(".whl")) as string;
        assert.ok(wheel, "no wheel was built");
        // PEP 503: /simple/<project>/ lists the files; /simple/ the projects.
        fs.writeFileSync(path.join(work, "index", "index.html"), '<html><body><a href="erpdc-probe/">erpdc-probe</a></body></html>\n');
        fs.writeFileSync(path.join(work, "index", "erpdc-probe", "index.html"), `<html><body><a href="${wheel}">${wheel}</a></body></html>\n`);

        ca = makeCa(work, ["pypi.erp.uno"]);
        ports.http = await freePort();
        ports.https = await freePort();
        const serve = (port: number, tls: boolean) => {
            const script = [
                "import functools, http.server, ssl, sys",
                `handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=${JSON.stringify(path.join(work, "index"))})`,
                `server = http.server.ThreadingHTTPServer(("127.0.0.1", ${port}), handler)`,
                ...(tls
                    ? [
                          "context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)",
                          `context.load_cert_chain(${JSON.stringify(ca.serverCert)}, ${JSON.stringify(ca.serverKey)})`,
                          "server.socket = context.wrap_socket(server.socket, server_side=True)",
                      ]
                    : []),
                "server.serve_forever()",
            ].join("\n");
            const child = spawn(PYTHON, ["-c", script], { stdio: "ignore" });
            servers.push(child);
        };
        serve(ports.http, false);
        serve(ports.https, true);
        await waitForPort(ports.http);
        await waitForPort(ports.https);
    });

    after(() => {
        for (const server of servers) if (server.exitCode === null) server.kill("SIGTERM");
        fs.rmSync(work, { recursive: true, force: true });
    });

    const installVenv = (venv: string, indexUrl: string, caBundle: string) =>
        run(PYTHON, [
            "-c",
            `import sys; sys.path.insert(0, ${JSON.stringify(RUNNER_DIR)}); import kubespray_run; ` +
                `kubespray_run.install_venv(${JSON.stringify(venv)}, ${JSON.stringify(indexUrl)}, ["erpdc-probe==1.0.0"], ${JSON.stringify(caBundle)})`,
        ], { env: { PYTHONDONTWRITEBYTECODE: "1" } });
    const imports = (venv: string) => run(path.join(venv, "bin", "python"), ["-c", "import erpdc_probe; print(erpdc_probe.PROBE)"]).trim();

    it("installs from a plain-http index, telling pip to trust that host (which pip otherwise ignores)", () => {
        const venv = path.join(work, "venv-http");
        const output = installVenv(venv, `http://127.0.0.1:${ports.http}/`, "/nonexistent");
        assert.match(output, /is plain http; pip is told to trust 127\.0\.0\.1/);
        assert.equal(imports(venv), "from the contour");
        assert.ok(fs.existsSync(path.join(venv, ".erpdc-complete")));
    });

    it("installs from an https index whose certificate the given CA bundle vouches for", () => {
        const venv = path.join(work, "venv-https");
        installVenv(venv, `https://127.0.0.1:${ports.https}/`, ca.caCert);
        assert.equal(imports(venv), "from the contour");
    });

    it("fails against the https index without the CA, and leaves no venv that counts as done", () => {
        const venv = path.join(work, "venv-untrusted");
        assert.throws(() => installVenv(venv, `https://127.0.0.1:${ports.https}/`, "/nonexistent"), /exited 1/);
        assert.ok(!fs.existsSync(path.join(venv, ".erpdc-complete")));
    });
});
