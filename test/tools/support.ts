// Helpers of the real-tool suite: run a tool, find helm, make a real CA with openssl, free ports,
// and processes that are always stopped by PID.
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

/** Runs a tool and returns what it printed, stdout then stderr (helm reports digests on stderr). */
export function run(tool: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): string {
    try {
        const result = spawnSync(tool, args, {
            encoding: "utf8",
            ...(options.input === undefined ? {} : { input: options.input }),
            ...(options.cwd ? { cwd: options.cwd } : {}),
            env: { ...process.env, ...options.env },
        });
        if (result.error) throw result.error;
        if (result.status !== 0) throw Object.assign(new Error("failed"), { status: result.status, stdout: result.stdout, stderr: result.stderr });
        return `${result.stdout}${result.stderr}`;
    } catch (error) {
        const failure = error as { code?: string; status?: number; stdout?: string; stderr?: string };
        if (failure.code === "ENOENT") {
            throw new Error(`${tool} is not installed (.ci/run installs the real tools this suite needs)`);
        }
        throw Object.assign(new Error(`${tool} ${args.join(" ")} exited ${failure.status}:\n${failure.stdout ?? ""}${failure.stderr ?? ""}`), {
            status: failure.status,
            output: `${failure.stdout ?? ""}${failure.stderr ?? ""}`,
        });
    }
}

export { helmBinary, packagedBinary } from "../../render/helm";

export interface TestCa {
    readonly caCert: string;
    readonly serverCert: string;
    readonly serverKey: string;
}

/** A real CA and a server certificate for `names` and 127.0.0.1, made by openssl in `dir`. */
export function makeCa(dir: string, names: readonly string[]): TestCa {
    const file = (name: string) => path.join(dir, name);
    run("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", file("ca.key"), "-out", file("ca.crt"), "-days", "2", "-subj", "/CN=erpdc test root CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run("openssl", [
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", `/CN=${names[0]}`,
    ]);
    fs.writeFileSync(
        file("server.ext"),
        `subjectAltName=${[...names.map((n) => `DNS:${n}`), "IP:127.0.0.1"].join(",")}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`,
    );
    run("openssl", [
        "x509", "-req", "-in", file("server.csr"), "-CA", file("ca.crt"), "-CAkey", file("ca.key"), "-CAcreateserial",
        "-days", "1", "-out", file("server.crt"), "-extfile", file("server.ext"),
    ]);
    return { caCert: file("ca.crt"), serverCert: file("server.crt"), serverKey: file("server.key") };
}

export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

export async function waitForPort(port: number, timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const open = await new Promise<boolean>((resolve) => {
            const socket = net.connect(port, "127.0.0.1");
            socket.once("connect", () => (socket.destroy(), resolve(true)));
            socket.once("error", () => resolve(false));
        });
        if (open) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** Processes started by a test, stopped by PID in `stopAll` (bounded wait, then SIGKILL). */
export class Processes {
    private readonly children: ChildProcess[] = [];

    start(command: string, args: readonly string[], logFile: string): ChildProcess {
        const log = fs.openSync(logFile, "a");
        const child = spawn(command, args, { stdio: ["ignore", log, log] });
        fs.closeSync(log);
        this.children.push(child);
        return child;
    }

    async stopAll(): Promise<void> {
        await Promise.all(
            this.children.map(async (child) => {
                if (child.pid === undefined || child.exitCode !== null) return;
                const exited = new Promise((resolve) => child.once("exit", resolve));
                process.kill(child.pid, "SIGTERM");
                const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, "SIGKILL"), 5000);
                await exited;
                clearTimeout(timer);
            }),
        );
    }
}

/**
 * The sshd_config of a test's own sshd: keys only, root by key, no PAM (it runs as root without a
 * login session), listening only where it is told (`address:port`).
 */
export function sshdConfig(options: { readonly listen: string; readonly hostKey: string; readonly authorizedKeys: string; readonly pidFile: string }): string {
    return [
        `ListenAddress ${options.listen}`,
        `HostKey ${options.hostKey}`,
        `AuthorizedKeysFile ${options.authorizedKeys}`,
        `PidFile ${options.pidFile}`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "Subsystem sftp internal-sftp",
        "",
    ].join("\n");
}
