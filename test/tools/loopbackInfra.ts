// The infra VM's registry, chart repository and files area on 127.0.0.1: Debian's docker-registry
// and nginx running the generated configuration, with certificates from a real CA made here.
// Optionally an sshd on 127.0.0.1 for the commands that copy files to the infra VM over SSH.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { htpasswdLine, nginxSites, registryConfig, type Site } from "../../infraServices/services";
import { freePort, makeCa, Processes, run, sshdConfig, waitForPort, type TestCa } from "./support";

/** The push account and the nodes' pull-only account, as the program names them by default. */
export const USER = "erpdc";
export const PASSWORD = "e2e-only-password-7Qm2";
export const PULL_USER = "erpdc-pull";
export const PULL_PASSWORD = "e2e-only-pull-password-4Kx9";

export class LoopbackInfra {
    readonly processes = new Processes();
    readonly work: string;
    readonly ca: TestCa;
    readonly ports = { upstream: 0, registry: 0, charts: 0, files: 0, ssh: 0 };
    readonly nginxConf: string;
    /** The classic chart repository's directory (what CHARTS_ROOT is on the VM). */
    readonly chartsRoot: string;
    /** A private key root may log in with over SSH on ports.ssh (after startSsh). */
    readonly sshKey: string;

    private constructor(work: string) {
        this.work = work;
        // nginx workers drop privileges: the served tree must be readable by others (keys stay 0600).
        fs.chmodSync(work, 0o755);
        this.ca = makeCa(work, ["registry.erp.uno", "charts.erp.uno", "files.erp.uno"]);
        this.nginxConf = path.join(work, "nginx.conf");
        this.chartsRoot = path.join(work, "charts");
        this.sshKey = path.join(work, "ssh", "id");
    }

    /** Writes the generated configuration for fresh ports; nothing runs yet. */
    static async prepare(): Promise<LoopbackInfra> {
        const infra = new LoopbackInfra(fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-e2e-")));
        for (const key of Object.keys(infra.ports) as (keyof LoopbackInfra["ports"])[]) infra.ports[key] = await freePort();
        infra.writeConfiguration();
        return infra;
    }

    private writeConfiguration(): void {
        const { work, ca, ports } = this;
        for (const dir of ["registry", "charts", "files", "nginx-temp"]) fs.mkdirSync(path.join(work, dir), { mode: 0o755 });
        fs.writeFileSync(path.join(work, "htpasswd"), htpasswdLine(USER, PASSWORD) + htpasswdLine(PULL_USER, PULL_PASSWORD), { mode: 0o644 });
        fs.writeFileSync(path.join(work, "registry.yml"), registryConfig({ rootDirectory: path.join(work, "registry"), listen: `127.0.0.1:${ports.upstream}` }));
        const site = (name: string, port: number): Site => ({
            serverName: `${name}.erp.uno`,
            listenPort: port,
            certificate: ca.serverCert,
            certificateKey: ca.serverKey,
        });
        fs.writeFileSync(
            path.join(work, "erpdc.conf"),
            nginxSites({
                registry: {
                    ...site("registry", ports.registry),
                    upstream: `127.0.0.1:${ports.upstream}`,
                    htpasswd: path.join(work, "htpasswd"),
                    realm: "ERP/1 e2e registry",
                    pushUser: USER,
                },
                charts: { ...site("charts", ports.charts), root: this.chartsRoot },
                files: { ...site("files", ports.files), root: path.join(work, "files") },
            }),
        );
        const temp = path.join(work, "nginx-temp");
        fs.writeFileSync(
            this.nginxConf,
            [
                ...(process.getuid?.() === 0 ? ["user nobody nogroup;"] : []),
                "daemon off;",
                "worker_processes 1;",
                `pid ${path.join(work, "nginx.pid")};`,
                `error_log ${path.join(work, "nginx-error.log")} info;`,
                "events { worker_connections 64; }",
                "http {",
                "  access_log off;",
                // As Ubuntu's /etc/nginx/mime.types has them (the program's site relies on the distribution's nginx.conf).
                "  types { text/html html; text/yaml yaml; application/gzip tgz; text/plain txt; }",
                ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `  ${kind}_temp_path ${temp}/${kind};`),
                `  include ${path.join(work, "erpdc.conf")};`,
                "}",
                "",
            ].join("\n"),
        );
    }

    /** Starts the registry and nginx, and waits until they listen. */
    async start(): Promise<void> {
        const { work, ports } = this;
        this.processes.start("docker-registry", ["serve", path.join(work, "registry.yml")], path.join(work, "registry.log"));
        await waitForPort(ports.upstream);
        this.processes.start("nginx", ["-c", this.nginxConf, "-e", path.join(work, "nginx-error.log")], path.join(work, "nginx.log"));
        await waitForPort(ports.registry);
        await waitForPort(ports.charts);
    }

    /** An sshd on 127.0.0.1:ports.ssh that lets root in with `sshKey` only (root runs the tests). */
    async startSsh(): Promise<void> {
        const dir = path.join(this.work, "ssh");
        fs.mkdirSync(dir, { mode: 0o700 });
        run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_key")]);
        run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", this.sshKey]);
        fs.copyFileSync(`${this.sshKey}.pub`, path.join(dir, "authorized_keys"));
        fs.writeFileSync(
            path.join(dir, "sshd_config"),
            sshdConfig({ listen: `127.0.0.1:${this.ports.ssh}`, hostKey: path.join(dir, "host_key"), authorizedKeys: path.join(dir, "authorized_keys"), pidFile: path.join(dir, "sshd.pid") }),
        );
        // sshd checks its privilege-separation directory before it starts.
        fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
        this.processes.start("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(dir, "sshd_config")], path.join(dir, "sshd.log"));
        await waitForPort(this.ports.ssh);
    }

    async stop(): Promise<void> {
        await this.processes.stopAll();
        fs.rmSync(this.work, { recursive: true, force: true });
    }
}
