// A throwaway Debian 12 "box" that stands in for a VM in integration tests: a systemd-nspawn
// container booted from the root that test/box/root.sh builds and caches (see shared/box.md).
//
// - The box has a private network (its own loopback only). Everything crosses through Unix sockets
//   in a relay directory bind-mounted at /run/host-relay: SSH (ssh.sock), box ports the host wants
//   (out-PORT.sock, see forward()), and host services the box wants (in-PORT.sock and apt.sock,
//   reached in the box on 127.0.0.1:PORT).
// - Every box has its own name, cgroup directories, relay directory, root and host ports, and is
//   cleaned up by PID in stop(), or at the latest when the Node process exits.
// Needs root, and the host tools root.sh makes sure of (ssh, zstd, tar, systemd-nspawn, socat).
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

// ----------------------------------------------------------------------------------------------
// The cached root and the host tools

export interface BoxImage {
    /** The root tarball (zstd). */
    readonly tarball: string;
    /** systemd-nspawn: the host's, or the wrapper root.sh unpacked. */
    readonly nspawn: string;
    /** socat: the host's, or the wrapper root.sh unpacked. */
    readonly socat: string;
    /** The Debian mirror the root's sources.list names (plain http), e.g. http://deb.debian.org/debian */
    readonly mirror: string;
    /** How long root.sh took, in ms (a few ms when cached). */
    readonly tookMs: number;
}

export type Log = (line: string) => void;

export const ROOT_SCRIPT = path.join(__dirname, "root.sh");

let imageOnce: Promise<BoxImage> | undefined;

/** Runs root.sh once per process: builds (or finds) the cached root and the host tools. */
export function ensureRoot(options: { log?: Log; rebuild?: boolean } = {}): Promise<BoxImage> {
    if (!imageOnce || options.rebuild) {
        imageOnce = runRootScript(options.log ?? (() => undefined));
        imageOnce.catch(() => (imageOnce = undefined));
    }
    return imageOnce;
}

async function runRootScript(log: Log): Promise<BoxImage> {
    requireRoot();
    const started = Date.now();
    const result = await run("bash", [ROOT_SCRIPT], { allowFailure: true, onStderrLine: log, timeoutMs: 30 * 60_000 });
    if (result.code !== 0) {
        throw new Error(`${ROOT_SCRIPT} exited ${result.code}:\n${tail(result.stderr, 40)}`);
    }
    const values = new Map<string, string>();
    for (const line of result.stdout.split("\n")) {
        const at = line.indexOf("=");
        if (at > 0) values.set(line.slice(0, at), line.slice(at + 1));
    }
    const get = (key: string): string => {
        const value = values.get(key);
        if (!value) throw new Error(`${ROOT_SCRIPT} printed no ${key}=...:\n${result.stdout}`);
        return value;
    };
    return { tarball: get("tarball"), nspawn: get("nspawn"), socat: get("socat"), mirror: get("mirror"), tookMs: Date.now() - started };
}

// ----------------------------------------------------------------------------------------------
// Options and results

export interface FileSpec {
    readonly content: string | Buffer;
    /** Default 0644. */
    readonly mode?: number;
}

export interface NoCloudSeed {
    /** "#cloud-config\n..." */
    readonly userData: string;
    /** At least "instance-id: ...". */
    readonly metaData: string;
    readonly networkConfig?: string;
    readonly vendorData?: string;
}

/** Where a box port reaches on the host: a Unix socket path, or a TCP host and port. */
export type HostTarget = { readonly unix: string } | { readonly host: string; readonly port: number };

export interface BoxOptions {
    /** Unique per box; default erpdc-box-<random>. Used for the machine name, hostname and cgroup. */
    readonly name?: string;
    /** Default: the name. */
    readonly hostname?: string;
    /** Image from ensureRoot(); default: ensureRoot() is called. */
    readonly image?: BoxImage;
    /** Files written into the root before boot, by absolute path in the box. */
    readonly files?: Readonly<Record<string, string | Buffer | FileSpec>>;
    /** A NoCloud seed at /var/lib/cloud/seed/nocloud. Without one cloud-init is disabled. */
    readonly seed?: NoCloudSeed;
    /** Extra /etc/hosts lines: name -> address (e.g. the datacenter mirror's name -> 127.0.0.1). */
    readonly hosts?: Readonly<Record<string, string>>;
    /** For boxes without cloud-init: a sudo user (NOPASSWD) with this authorized key. */
    readonly admin?: { readonly user: string; readonly publicKey: string };
    /** Default user and private key file for ssh(). */
    readonly sshUser?: string;
    readonly sshKey?: string;
    /** The box's SSH host key ("ssh-ed25519 AAAA..."): ssh() then accepts no other. Without it, any key. */
    readonly sshHostKey?: string;
    /** apt in the box goes through 127.0.0.1:3142 to the image's mirror (default true). */
    readonly apt?: boolean;
    /** Box ports made reachable from the host (relay sockets set up before boot; forward() adds more later). */
    readonly expose?: readonly number[];
    /** Host services the box reaches on 127.0.0.1:PORT (e.g. the datacenter mirror on 80). */
    readonly inbound?: Readonly<Record<number, HostTarget>>;
    /** Host folders the box sees read-only: path in the box -> path on the host (systemd-nspawn --bind-ro). */
    readonly readOnlyBinds?: Readonly<Record<string, string>>;
    /** Where the box's directory goes; default $ERPDC_BOX_WORK or the OS temp dir. */
    readonly workDir?: string;
    /** Unpack the root into a tmpfs mounted on the box's root dir (default true; ERPDC_BOX_TMPFS=0 turns it off). */
    readonly tmpfs?: boolean;
    /** The tmpfs size cap (memory is used only as written); default "8g". */
    readonly tmpfsSize?: string;
    /** How long to wait for SSH to answer after boot; default 120 s. */
    readonly bootTimeoutMs?: number;
    readonly log?: Log;
    /**
     * Called with the host PID of the box's PID 1 as soon as it exists, before the box's services
     * start (e.g. to watch its network namespace from the first packet on).
     */
    readonly onLeader?: (leaderPid: number) => void | Promise<void>;
}

export interface RunResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export interface SshOptions {
    readonly user?: string;
    /** Private key file (mode 0600). */
    readonly key?: string;
    readonly stdin?: string | Buffer;
    /** Environment of the remote command (set with env(1), sshd's AcceptEnv is not needed). */
    readonly env?: Readonly<Record<string, string>>;
    /** Run the command with sudo -n. */
    readonly sudo?: boolean;
    /** Return a non-zero exit instead of throwing. */
    readonly allowFailure?: boolean;
    /** Default 10 minutes. */
    readonly timeoutMs?: number;
    /** The host key to insist on for this command (default: BoxOptions.sshHostKey). */
    readonly hostKey?: string;
}

export interface StopReport {
    /** The box shut down on SIGTERM (no SIGKILL was needed). */
    readonly clean: boolean;
    /** What could not be removed (empty when all is gone). */
    readonly leftovers: readonly string[];
}

export class BoxCommandError extends Error {
    constructor(
        message: string,
        readonly result: RunResult,
    ) {
        super(message);
    }
}

// ----------------------------------------------------------------------------------------------
// The box

const RELAY_IN_BOX = "/run/host-relay";
const APT_PORT = 3142;
const SOCKET_PROXYD = "/lib/systemd/systemd-socket-proxyd";
const CGROUP_ROOT = "/sys/fs/cgroup";
const NSPAWN_RUN = "/run/systemd/nspawn";

const STATE_FILE = "box-state.json";

const live = new Set<Box>();
const reaped = new Set<string>();
let exitHookInstalled = false;

interface BoxState {
    readonly name: string;
    readonly owner: { readonly pid: number; readonly start: string };
    readonly root: string;
    readonly relayDir: string;
    readonly cgroups: readonly string[];
    readonly nspawnPid?: number;
    readonly relayPids: readonly number[];
    /** Each relay's start time (/proc stat), so that a reaper never signals a PID reused since. */
    readonly relayStarts?: readonly string[];
}

interface Relay {
    readonly child: ChildProcess;
    readonly pid: number;
    readonly exited: Promise<void>;
    readonly description: string;
    readonly logFile: string;
}

export class Box {
    readonly name: string;
    readonly hostname: string;
    /** The box's own directory on the host: root/, relay/, console.log, logs/. */
    readonly dir: string;
    readonly root: string;
    readonly relayDir: string;
    readonly consoleLog: string;
    readonly cgroups: readonly string[];
    readonly timings: Record<string, number> = {};

    private readonly log: Log;
    private readonly relays: Relay[] = [];
    private readonly forwards = new Map<number, number>();
    private readonly outbound = new Set<number>();
    private nspawn: ChildProcess | undefined;
    private nspawnExited: Promise<void> | undefined;
    private leaderPid: number | undefined;
    private rootIdentity: { dev: bigint; ino: bigint } | undefined;
    private stopping: Promise<StopReport> | undefined;

    private constructor(
        readonly image: BoxImage,
        readonly options: BoxOptions,
    ) {
        this.name = options.name ?? `erpdc-box-${crypto.randomBytes(4).toString("hex")}`;
        if (!/^[a-z0-9][a-z0-9-]{0,50}$/.test(this.name)) throw new Error(`bad box name ${JSON.stringify(this.name)}`);
        this.hostname = options.hostname ?? this.name;
        this.log = options.log ?? (() => undefined);
        this.cgroups = cgroupDirs(this.name);
        for (const dir of this.cgroups) {
            if (fs.existsSync(dir)) throw new Error(`cgroup ${dir} exists already: is a box named ${this.name} running?`);
        }
        const base = options.workDir ?? process.env.ERPDC_BOX_WORK ?? os.tmpdir();
        fs.mkdirSync(base, { recursive: true });
        this.dir = fs.mkdtempSync(path.join(base, `${this.name}-`));
        this.root = path.join(this.dir, "root");
        this.relayDir = path.join(this.dir, "relay");
        this.consoleLog = path.join(this.dir, "console.log");
        if (Buffer.byteLength(path.join(this.relayDir, "out-65535.sock")) > 107 || /[,:!\s]/.test(this.dir)) {
            fs.rmSync(this.dir, { recursive: true, force: true });
            throw new Error(`work dir ${base} is too long for Unix socket paths or has characters socat reads as syntax`);
        }
        this.saveState();
    }

    /** What a later process needs to clean up after this one if it dies without stop() (reapStaleBoxes). */
    private saveState(): void {
        const state: BoxState = {
            name: this.name,
            owner: { pid: process.pid, start: processStartTime(process.pid) ?? "" },
            root: this.root,
            relayDir: this.relayDir,
            cgroups: [...this.cgroups],
            ...(this.nspawn?.pid === undefined ? {} : { nspawnPid: this.nspawn.pid }),
            relayPids: this.relays.map((relay) => relay.pid),
            relayStarts: this.relays.map((relay) => processStartTime(relay.pid) ?? ""),
        };
        fs.writeFileSync(path.join(this.dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    }

    /** Unpacks the root, writes the box's files and relay units, boots it and waits for SSH. */
    static async start(options: BoxOptions = {}): Promise<Box> {
        requireRoot();
        const image = options.image ?? (await ensureRoot({ ...(options.log ? { log: options.log } : {}) }));
        const base = options.workDir ?? process.env.ERPDC_BOX_WORK ?? os.tmpdir();
        if (!reaped.has(base)) {
            reaped.add(base);
            reapStaleBoxes(base, options.log);
        }
        const box = new Box(image, options);
        live.add(box);
        installExitHook();
        try {
            await box.boot();
            return box;
        } catch (error) {
            const consoleTail = box.consoleTail();
            await box.stop().catch(() => undefined);
            throw new Error(`box ${box.name} did not start: ${(error as Error).message}\n--- console ---\n${consoleTail}`);
        }
    }

    /** PIDs this box owns on the host: nspawn and the socat relays. */
    get pids(): number[] {
        return [...(this.nspawn?.pid ? [this.nspawn.pid] : []), ...this.relays.map((relay) => relay.pid)];
    }

    /** The last lines of the box's console. */
    consoleTail(lines = 60): string {
        try {
            return tail(fs.readFileSync(this.consoleLog, "utf8"), lines);
        } catch {
            return "";
        }
    }

    private async boot(): Promise<void> {
        let t = Date.now();
        fs.mkdirSync(this.root, { mode: 0o755 });
        fs.mkdirSync(this.relayDir, { mode: 0o700 });
        fs.mkdirSync(path.join(this.dir, "logs"));
        const tmpfs = this.options.tmpfs ?? process.env.ERPDC_BOX_TMPFS !== "0";
        if (tmpfs) {
            // The root in memory: unpacking onto the disk took 5-13 s here (all kernel time), 1 s on tmpfs.
            // A host mount below the box's directory: stop() and the reaper unmount it.
            const size = this.options.tmpfsSize ?? "8g";
            runSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=755`, `erpdc-box-${this.name}`, this.root]);
        }
        const stat = fs.statSync(this.root, { bigint: true });
        this.rootIdentity = { dev: stat.dev, ino: stat.ino };
        await run("bash", ["-c", 'zstd -dcq -- "$1" | tar --numeric-owner --xattrs -xpf - -C "$2"', "unpack", this.image.tarball, this.root]);
        this.timings.unpackMs = Date.now() - t;
        this.log(`${this.name}: root unpacked in ${this.timings.unpackMs} ms`);

        t = Date.now();
        this.configure();
        await this.startInbound();
        this.timings.configureMs = Date.now() - t;

        t = Date.now();
        this.startNspawn();
        if (this.options.onLeader) {
            const deadline = Date.now() + 10_000;
            for (;;) {
                try {
                    await this.options.onLeader(this.leader());
                    break;
                } catch (error) {
                    if (Date.now() > deadline || !this.running) throw error;
                    await sleep(20);
                }
            }
        }
        await this.waitForSsh(this.options.bootTimeoutMs ?? 120_000);
        this.timings.bootToSshMs = Date.now() - t;
        this.log(`${this.name}: SSH answers ${this.timings.bootToSshMs} ms after boot`);
    }

    /** Plain files in the root before boot. */
    private configure(): void {
        const options = this.options;
        this.writeFile("/etc/hostname", `${this.hostname}\n`);
        const hosts = [
            "127.0.0.1\tlocalhost",
            `127.0.1.1\t${this.hostname}`,
            "::1\tlocalhost ip6-localhost ip6-loopback",
            "ff02::1\tip6-allnodes",
            "ff02::2\tip6-allrouters",
            ...Object.entries(options.hosts ?? {}).map(([name, address]) => `${address}\t${name}`),
        ];
        this.writeFile("/etc/hosts", `${hosts.join("\n")}\n`);
        // The box has no DNS server: fail lookups at once instead of timing out.
        this.writeFile("/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
        // Own SSH host keys (cloud-init replaces them per instance).
        runSync("ssh-keygen", ["-q", "-A", "-f", this.root]);

        // SSH from the host: /run/host-relay/ssh.sock -> 127.0.0.1:22.
        this.writeRelayUnits("erpdc-relay-ssh", `${RELAY_IN_BOX}/ssh.sock`, "127.0.0.1:22", "host relay: SSH");
        for (const port of options.expose ?? []) this.writeOutboundUnits(port);
        if (options.apt ?? true) {
            this.writeRelayUnits("erpdc-relay-apt", `127.0.0.1:${APT_PORT}`, `${RELAY_IN_BOX}/apt.sock`, "host relay: apt mirror");
            this.writeFile("/etc/apt/apt.conf.d/01erpdc-box-relay", `Acquire::http::Proxy "http://127.0.0.1:${APT_PORT}/";\n`);
        }
        for (const [port, target] of Object.entries(options.inbound ?? {})) {
            const boxPort = Number(port);
            this.writeRelayUnits(`erpdc-relay-in-${boxPort}`, `127.0.0.1:${boxPort}`, `${RELAY_IN_BOX}/in-${boxPort}.sock`, `host relay: ${describe(target)}`);
        }

        if (options.seed) {
            const seed = "/var/lib/cloud/seed/nocloud";
            this.writeFile(`${seed}/user-data`, options.seed.userData, 0o600);
            this.writeFile(`${seed}/meta-data`, options.seed.metaData, 0o600);
            if (options.seed.networkConfig !== undefined) this.writeFile(`${seed}/network-config`, options.seed.networkConfig, 0o600);
            if (options.seed.vendorData !== undefined) this.writeFile(`${seed}/vendor-data`, options.seed.vendorData, 0o600);
        }
        for (const [file, spec] of Object.entries(options.files ?? {})) {
            if (typeof spec === "string" || Buffer.isBuffer(spec)) this.writeFile(file, spec);
            else this.writeFile(file, spec.content, spec.mode);
        }
        const seeded = fs.existsSync(this.inRoot("/var/lib/cloud/seed/nocloud/meta-data"));
        if (!seeded) this.writeFile("/etc/cloud/cloud-init.disabled", "box without a NoCloud seed (test/box/box.ts)\n");
        if (options.admin) addAdminUser(this.root, options.admin.user, options.admin.publicKey);
    }

    /** The host path of an absolute path in the box, resolving symlinks as the box would (never outside the root). */
    inRoot(boxPath: string): string {
        return resolveInRoot(this.root, boxPath);
    }

    /** Writes a file into the root (before boot, or while running: the root is the box's filesystem). */
    writeFile(boxPath: string, content: string | Buffer, mode = 0o644): void {
        const target = this.inRoot(boxPath);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.rmSync(target, { force: true });
        fs.writeFileSync(target, content, { mode });
        fs.chmodSync(target, mode);
    }

    private writeRelayUnits(unit: string, listen: string, target: string, description: string): void {
        const socket = [
            "[Unit]",
            `Description=${description}`,
            "",
            "[Socket]",
            `ListenStream=${listen}`,
            ...(listen.startsWith("/") ? ["SocketMode=0600"] : ["FreeBind=true"]),
            "",
            "[Install]",
            "WantedBy=sockets.target",
            "",
        ];
        const service = [
            "[Unit]",
            `Description=${description}`,
            `Requires=${unit}.socket`,
            `After=${unit}.socket`,
            "",
            "[Service]",
            `ExecStart=${SOCKET_PROXYD} ${target}`,
            "",
        ];
        this.writeFile(`/etc/systemd/system/${unit}.socket`, socket.join("\n"));
        this.writeFile(`/etc/systemd/system/${unit}.service`, service.join("\n"));
        const wants = this.inRoot("/etc/systemd/system/sockets.target.wants");
        fs.mkdirSync(wants, { recursive: true });
        fs.rmSync(path.join(wants, `${unit}.socket`), { force: true });
        fs.symlinkSync(`/etc/systemd/system/${unit}.socket`, path.join(wants, `${unit}.socket`));
    }

    /** The host-side Unix socket that reaches the box's port (ssh.sock for 22), for relays of the test's own. */
    relaySocket(port: number): string {
        return port === 22 ? path.join(this.relayDir, "ssh.sock") : path.join(this.relayDir, `out-${port}.sock`);
    }

    private writeOutboundUnits(port: number): void {
        checkPort(port);
        if (port === 22 || this.outbound.has(port)) return;
        this.writeRelayUnits(`erpdc-relay-out-${port}`, `${RELAY_IN_BOX}/out-${port}.sock`, `127.0.0.1:${port}`, `host relay: box port ${port}`);
        this.outbound.add(port);
    }

    /** Host-side relays for what the box reaches on its loopback (apt, inbound), started before boot. */
    private async startInbound(): Promise<void> {
        if (this.options.apt ?? true) {
            const mirror = new URL(this.image.mirror);
            if (mirror.protocol !== "http:") throw new Error(`the apt relay needs a plain http mirror, not ${this.image.mirror}`);
            await this.startInboundRelay(path.join(this.relayDir, "apt.sock"), { host: mirror.hostname, port: Number(mirror.port || 80) });
        }
        for (const [port, target] of Object.entries(this.options.inbound ?? {})) {
            await this.startInboundRelay(path.join(this.relayDir, `in-${Number(port)}.sock`), target);
        }
    }

    private async startInboundRelay(socket: string, target: HostTarget): Promise<void> {
        const to = "unix" in target ? `UNIX-CONNECT:${target.unix}` : `TCP:${target.host}:${target.port}`;
        const relay = this.startRelay([`UNIX-LISTEN:${socket},fork,mode=600,unlink-early`, to], `${path.basename(socket)} -> ${describe(target)}`);
        await waitFor(() => fs.existsSync(socket) || relayDied(relay), 10_000, `socat to listen on ${socket}`);
        if (relayDied(relay)) throw new Error(`socat for ${relay.description} exited: ${this.relayLog(relay)}`);
    }

    /** Gives the box a host service at 127.0.0.1:boxPort (while running). */
    async inbound(boxPort: number, target: HostTarget): Promise<void> {
        checkPort(boxPort);
        await this.startInboundRelay(path.join(this.relayDir, `in-${boxPort}.sock`), target);
        const unit = `erpdc-relay-in-${boxPort}`;
        this.writeRelayUnits(unit, `127.0.0.1:${boxPort}`, `${RELAY_IN_BOX}/in-${boxPort}.sock`, `host relay: ${describe(target)}`);
        await this.exec(`systemctl daemon-reload && systemctl start ${unit}.socket`);
    }

    private startRelay(args: string[], description: string): Relay {
        return this.startHostProcess(this.image.socat, ["-d", "-d", ...args], description);
    }

    /**
     * Runs a host program inside the box's network namespace only (nsenter -n: the host's files,
     * so a host Unix socket is at hand), owned by the box like its relays: stop() ends it. For
     * standing in another VM on the box's network, e.g. listening at that VM's address. Returns
     * once the program listens at `listens`.
     */
    async runInNetwork(
        command: string,
        args: readonly string[],
        description: string,
        listens: { readonly address: string; readonly port: number; readonly protocol: "tcp" | "udp" } | { readonly unix: string },
    ): Promise<void> {
        const relay = this.startHostProcess("nsenter", ["-t", String(this.leader()), "-n", command, ...args], description);
        const where = "unix" in listens ? listens.unix : `${listens.address}:${listens.port}/${listens.protocol}`;
        const listening = async () =>
            "unix" in listens ? fs.existsSync(listens.unix) : (await this.exec(`ss -H -n ${listens.protocol === "tcp" ? "-lt" : "-lu"} src ${listens.address} 'sport = :${listens.port}'`)).stdout.trim() !== "";
        const deadline = Date.now() + 10_000;
        while (!(await listening())) {
            if (relayDied(relay)) throw new Error(`${description} exited: ${this.relayLog(relay)}`);
            if (Date.now() > deadline) throw new Error(`${description} does not listen at ${where} after 10 s`);
            await sleep(100);
        }
    }

    private startHostProcess(command: string, args: readonly string[], description: string): Relay {
        const logFile = path.join(this.dir, "logs", `relay-${this.relays.length}.log`);
        const logFd = fs.openSync(logFile, "a");
        // Detached: its own process group, so stop() ends it and every child it forked at once.
        const child = spawn(command, [...args], { detached: true, stdio: ["ignore", "ignore", logFd] });
        fs.closeSync(logFd);
        child.unref();
        if (child.pid === undefined) throw new Error(`could not start ${command} for ${description}`);
        const exited = new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve();
            child.once("exit", () => resolve());
            child.once("error", () => resolve());
        });
        const relay: Relay = { child, pid: child.pid, exited, description, logFile };
        this.relays.push(relay);
        this.saveState();
        return relay;
    }

    private relayLog(relay: Relay): string {
        return tail(readOr(relay.logFile, ""), 10);
    }

    private startNspawn(): void {
        const args = [
            "-D", this.root,
            "-M", this.name,
            "--boot",
            "--register=no",
            "--keep-unit",
            "--private-network",
            "--resolv-conf=off",
            "--timezone=off",
            `--bind=${this.relayDir}:${RELAY_IN_BOX}`,
            ...Object.entries(this.options.readOnlyBinds ?? {}).map(([inBox, onHost]) => `--bind-ro=${onHost}:${inBox}`),
            "--console=read-only",
        ];
        // The shell moves itself into the box's own cgroup directories (or nspawn would write into the
        // host's root cgroups), then becomes nspawn; spawn(detached) runs it in a new session (setsid).
        const script = [
            "set -e",
            'for dir in "$@"; do mkdir -p "$dir"; echo $$ > "$dir/cgroup.procs"; done',
            `exec ${[this.image.nspawn, ...args].map(shellQuote).join(" ")}`,
        ].join("\n");
        const logFd = fs.openSync(this.consoleLog, "a");
        const child = spawn("bash", ["-c", script, "box-boot", ...this.cgroups], { detached: true, stdio: ["ignore", logFd, logFd] });
        fs.closeSync(logFd);
        child.unref();
        this.nspawn = child;
        this.nspawnExited = new Promise<void>((resolve) => {
            child.once("exit", () => resolve());
            child.once("error", () => resolve());
        });
        this.saveState();
        this.log(`${this.name}: systemd-nspawn pid ${child.pid}`);
    }

    /** True while systemd-nspawn runs. */
    get running(): boolean {
        return this.nspawn !== undefined && this.nspawn.exitCode === null && this.nspawn.signalCode === null;
    }

    private async waitForSsh(timeoutMs: number): Promise<void> {
        const socket = path.join(this.relayDir, "ssh.sock");
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
            if (!this.running) throw new Error(`systemd-nspawn exited (${this.nspawn?.exitCode ?? this.nspawn?.signalCode})`);
            if (fs.existsSync(socket) && (await sshBanner(socket))) return;
            await sleep(200);
        }
        throw new Error(`SSH did not answer within ${timeoutMs} ms`);
    }

    /**
     * ssh(1) arguments (before the remote command) that reach this box through its relay socket.
     * With a host key, only that key is accepted (a known_hosts of its own); without, any.
     */
    sshArgs(user: string, key: string, hostKey?: string): string[] {
        const proxy = `${shellQuote(this.image.socat)} - UNIX-CONNECT:${shellQuote(path.join(this.relayDir, "ssh.sock"))}`;
        let knownHosts = "/dev/null";
        if (hostKey !== undefined) {
            knownHosts = path.join(this.dir, `known_hosts-${crypto.createHash("sha256").update(hostKey).digest("hex").slice(0, 12)}`);
            fs.writeFileSync(knownHosts, `${this.name} ${hostKey.trim()}\n`);
        }
        return [
            "-F", "/dev/null",
            "-o", `ProxyCommand=${proxy}`,
            "-o", `StrictHostKeyChecking=${hostKey === undefined ? "no" : "yes"}`,
            "-o", `UserKnownHostsFile=${knownHosts}`,
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR",
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "IdentityAgent=none",
            "-o", "ConnectTimeout=30",
            "-o", "ServerAliveInterval=15",
            "-i", key,
            "-l", user,
            this.name,
        ];
    }

    /** Runs a command in the box over SSH as a user with a private key. */
    async ssh(command: string, options: SshOptions = {}): Promise<RunResult> {
        const user = options.user ?? this.options.sshUser ?? this.options.admin?.user;
        const key = options.key ?? this.options.sshKey;
        if (!user || !key) throw new Error("ssh() needs a user and a private key (options or BoxOptions.sshUser/sshKey)");
        const env = Object.entries(options.env ?? {});
        for (const [name] of env) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`bad environment variable name ${name}`);
        let remote = command;
        if (env.length > 0 || options.sudo) {
            remote = [
                ...(options.sudo ? ["sudo", "-n"] : []),
                ...(env.length > 0 ? ["env", ...env.map(([name, value]) => shellQuote(`${name}=${value}`))] : []),
                "/bin/sh", "-c", shellQuote(command),
            ].join(" ");
        }
        const result = await run("ssh", [...this.sshArgs(user, key, options.hostKey ?? this.options.sshHostKey), remote], {
            allowFailure: true,
            ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
            timeoutMs: options.timeoutMs ?? 10 * 60_000,
        });
        if (result.code !== 0 && !options.allowFailure) {
            throw new BoxCommandError(`ssh ${user}@${this.name} ${JSON.stringify(command)} exited ${result.code}:\n${tail(result.stdout + result.stderr, 30)}`, result);
        }
        return result;
    }

    /** Waits until `user` can log in with `key` (cloud-init may still be creating the user). */
    async waitForLogin(options: { user?: string; key?: string; timeoutMs?: number } = {}): Promise<void> {
        const deadline = Date.now() + (options.timeoutMs ?? 120_000);
        for (;;) {
            const result = await this.ssh("true", { ...options, allowFailure: true, timeoutMs: 60_000 });
            if (result.code === 0) return;
            if (Date.now() > deadline) throw new BoxCommandError(`could not log in to ${this.name}: ${result.stderr.trim()}`, result);
            if (!this.running) throw new Error(`box ${this.name} is not running`);
            await sleep(500);
        }
    }

    /**
     * Waits over SSH for `cloud-init status --wait` and returns its output; throws unless it ends
     * "status: done". Retries when the SSH connection itself fails: cloud-init restarts sshd.
     */
    async waitForCloudInit(options: { user?: string; key?: string; timeoutMs?: number } = {}): Promise<string> {
        const deadline = Date.now() + (options.timeoutMs ?? 5 * 60_000);
        for (;;) {
            const result = await this.ssh("cloud-init status --wait --long", {
                ...options,
                allowFailure: true,
                timeoutMs: Math.max(1000, deadline - Date.now()),
            });
            const answered = /^status:/m.test(result.stdout);
            if (answered) {
                if (/^status: done$/m.test(result.stdout)) return result.stdout;
                throw new BoxCommandError(`cloud-init did not finish well on ${this.name}:\n${result.stdout}${result.stderr}`, result);
            }
            if (result.code !== 255 || Date.now() > deadline || !this.running) {
                throw new BoxCommandError(`cloud-init status failed on ${this.name} (exit ${result.code}):\n${result.stdout}${result.stderr}`, result);
            }
            await sleep(500); // the connection broke (sshd restarted): ask again
        }
    }

    /** Runs a command as root in the box without SSH (nsenter into the box's namespaces). */
    async exec(command: string, options: { stdin?: string | Buffer; env?: Readonly<Record<string, string>>; allowFailure?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
        const leader = this.leader();
        const env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root",
            ...Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`)];
        const result = await run(
            "nsenter",
            ["-t", String(leader), "-m", "-u", "-i", "-n", "-p", "-C", "-r", "-w", "/usr/bin/env", "-i", ...env, "/bin/sh", "-c", command],
            { allowFailure: true, ...(options.stdin === undefined ? {} : { stdin: options.stdin }), timeoutMs: options.timeoutMs ?? 10 * 60_000 },
        );
        if (result.code !== 0 && !options.allowFailure) {
            throw new BoxCommandError(`${this.name}# ${JSON.stringify(command)} exited ${result.code}:\n${tail(result.stdout + result.stderr, 30)}`, result);
        }
        return result;
    }

    /** The host PID of the box's PID 1 (its network namespace is /proc/<pid>/ns/net). */
    leader(): number {
        if (this.leaderPid !== undefined && fs.existsSync(`/proc/${this.leaderPid}`)) return this.leaderPid;
        if (!this.running) throw new Error(`box ${this.name} is not running`);
        const nspawnPid = this.nspawn?.pid;
        const candidates = new Set<number>(this.cgroupPids());
        for (const entry of fs.readdirSync("/proc")) if (/^\d+$/.test(entry)) candidates.add(Number(entry));
        for (const pid of candidates) {
            const status = readOr(`/proc/${pid}/status`, "");
            const nspid = /^NSpid:\s*(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
            const ppid = Number(/^PPid:\s*(\d+)$/m.exec(status)?.[1] ?? -1);
            if (nspid.length >= 2 && nspid[nspid.length - 1] === "1" && (ppid === nspawnPid || this.cgroupPids().includes(pid))) {
                this.leaderPid = pid;
                return pid;
            }
        }
        throw new Error(`no PID 1 of box ${this.name} found`);
    }

    /**
     * Makes a box TCP port (on the box's 127.0.0.1) reachable from the host: returns a port on the
     * host's 127.0.0.1 (socat, ephemeral), through the relay socket out-PORT.sock (ssh.sock for 22).
     */
    async forward(boxPort: number): Promise<number> {
        checkPort(boxPort);
        const known = this.forwards.get(boxPort);
        if (known !== undefined) return known;
        const socket = this.relaySocket(boxPort);
        if (boxPort !== 22 && !this.outbound.has(boxPort)) {
            this.writeOutboundUnits(boxPort);
            await this.exec(`systemctl daemon-reload && systemctl start erpdc-relay-out-${boxPort}.socket`);
        }
        await waitFor(() => fs.existsSync(socket), 30_000, `relay socket ${socket}`);
        const relay = this.startRelay([`TCP-LISTEN:0,bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${socket}`], `127.0.0.1 -> box port ${boxPort}`);
        const logFile = relay.logFile;
        let port: number | undefined;
        await waitFor(
            () => {
                const match = /listening on .*?:(\d+)\s*$/m.exec(readOr(logFile, ""));
                if (match?.[1]) port = Number(match[1]);
                return port !== undefined || relayDied(relay);
            },
            10_000,
            `socat to listen for box port ${boxPort}`,
        );
        if (port === undefined) throw new Error(`socat for box port ${boxPort} did not listen: ${this.relayLog(relay)}`);
        this.forwards.set(boxPort, port);
        this.log(`${this.name}: box port ${boxPort} is 127.0.0.1:${port} on the host`);
        return port;
    }

    /** Adds a sudo user (NOPASSWD) with an authorized key while the box runs. */
    async addAdminUser(user: string, publicKey: string): Promise<void> {
        await this.exec(adminUserScript, { env: { BOX_USER: checkUser(user), BOX_KEY: publicKey } });
    }

    /** PIDs in the box's cgroup directories (any depth). */
    cgroupPids(): number[] {
        const pids = new Set<number>();
        for (const dir of this.cgroups) {
            for (const sub of walkDirs(dir)) {
                for (const line of readOr(path.join(sub, "cgroup.procs"), "").split("\n")) if (line.trim()) pids.add(Number(line));
            }
        }
        return [...pids];
    }

    /** Stops the box and removes everything it made on the host, by PID. Safe to call twice. */
    stop(options: { timeoutMs?: number } = {}): Promise<StopReport> {
        this.stopping ??= this.doStop(options.timeoutMs ?? 20_000);
        return this.stopping;
    }

    private async doStop(timeoutMs: number): Promise<StopReport> {
        const leftovers: string[] = [];
        let clean = true;
        const t = Date.now();
        // 1. The box: SIGTERM makes nspawn shut it down cleanly; SIGKILL after the timeout.
        const nspawnPid = this.nspawn?.pid;
        if (this.running && nspawnPid !== undefined) {
            signal(nspawnPid, "SIGTERM");
            if (!(await within(this.nspawnExited, timeoutMs))) {
                clean = false;
                this.log(`${this.name}: systemd-nspawn did not stop in ${timeoutMs} ms, SIGKILL`);
                signal(nspawnPid, "SIGKILL");
                await within(this.nspawnExited, 5_000);
            }
        }
        if (this.running) leftovers.push(`systemd-nspawn pid ${nspawnPid}`);
        // 2. Whatever is left in the box's cgroups (only the box's own processes are there).
        for (let round = 0; round < 50; round++) {
            const pids = this.cgroupPids();
            if (pids.length === 0) break;
            if (round === 0) clean = false;
            for (const pid of pids) signal(pid, "SIGKILL");
            await sleep(100);
        }
        // 3. The relays: each socat's process group (its forked children too).
        for (const relay of this.relays) if (relay.child.exitCode === null && relay.child.signalCode === null) signal(-relay.pid, "SIGTERM");
        for (const relay of this.relays) {
            if (!(await within(relay.exited, 3_000))) {
                signal(-relay.pid, "SIGKILL");
                if (!(await within(relay.exited, 2_000))) leftovers.push(`host process ${relay.pid} (${relay.description})`);
            }
        }
        // 4. cgroup directories, depth-first, once empty.
        for (const dir of this.cgroups) {
            for (const sub of walkDirs(dir).reverse()) {
                for (let tries = 0; tries < 20 && fs.existsSync(sub); tries++) {
                    try {
                        fs.rmdirSync(sub);
                    } catch {
                        await sleep(100);
                    }
                }
                if (fs.existsSync(sub)) leftovers.push(`cgroup ${sub}`);
            }
        }
        // 5. nspawn's runtime leftovers for this machine.
        leftovers.push(...this.removeNspawnRuntime());
        // 6. The unpacked root, relay sockets and logs (never across a mount point); the console log
        //    is kept in $ERPDC_BOX_LOGS when that is set (for CI artifacts and debugging).
        const keep = process.env.ERPDC_BOX_LOGS;
        if (keep) {
            try {
                fs.mkdirSync(keep, { recursive: true });
                fs.copyFileSync(this.consoleLog, path.join(keep, `${this.name}.console.log`));
            } catch {
                /* no console log */
            }
        }
        leftovers.push(...removeTree(this.dir));
        live.delete(this);
        this.timings.stopMs = Date.now() - t;
        this.log(`${this.name}: stopped in ${this.timings.stopMs} ms${clean ? "" : " (not clean)"}${leftovers.length ? `, left: ${leftovers.join(", ")}` : ""}`);
        return { clean, leftovers };
    }

    private removeNspawnRuntime(): string[] {
        const leftovers: string[] = [];
        const entries: string[] = [];
        for (const sub of safeReaddir(NSPAWN_RUN)) entries.push(path.join(NSPAWN_RUN, sub, this.name));
        if (this.rootIdentity) entries.push(path.join(NSPAWN_RUN, "locks", `inode-${this.rootIdentity.dev}:${this.rootIdentity.ino}`));
        for (const entry of entries) {
            try {
                fs.rmSync(entry, { recursive: true, force: true });
            } catch {
                leftovers.push(entry);
            }
        }
        // The shared directories only when no other box of this process may be using them.
        if ([...live].every((box) => box === this)) {
            for (const sub of safeReaddir(NSPAWN_RUN)) rmdirQuiet(path.join(NSPAWN_RUN, sub));
            rmdirQuiet(NSPAWN_RUN);
        }
        return leftovers;
    }

    /** Last resort at process exit: SIGKILL by PID and remove what can be removed, synchronously. */
    killNow(): void {
        const nspawnPid = this.nspawn?.pid;
        if (nspawnPid !== undefined && this.running) signal(nspawnPid, "SIGKILL");
        for (const pid of this.cgroupPids()) signal(pid, "SIGKILL");
        for (const relay of this.relays) signal(-relay.pid, "SIGKILL");
        const deadline = Date.now() + 3000;
        while (this.cgroupPids().length > 0 && Date.now() < deadline) spawnSync("sleep", ["0.1"]);
        for (const dir of this.cgroups) for (const sub of walkDirs(dir).reverse()) rmdirQuiet(sub);
        this.removeNspawnRuntime();
        removeTree(this.dir);
        live.delete(this);
    }
}

// ----------------------------------------------------------------------------------------------
// Helpers

const adminUserScript = [
    "set -e",
    'useradd -m -s /bin/bash -G sudo "$BOX_USER"',
    'install -d -m 700 -o "$BOX_USER" -g "$BOX_USER" "/home/$BOX_USER/.ssh"',
    'printf "%s\\n" "$BOX_KEY" > "/home/$BOX_USER/.ssh/authorized_keys"',
    'chown "$BOX_USER:$BOX_USER" "/home/$BOX_USER/.ssh/authorized_keys"',
    'chmod 600 "/home/$BOX_USER/.ssh/authorized_keys"',
    'printf "%s ALL=(ALL) NOPASSWD:ALL\\n" "$BOX_USER" > "/etc/sudoers.d/90-$BOX_USER"',
    'chmod 440 "/etc/sudoers.d/90-$BOX_USER"',
].join("\n");

/** Adds a sudo user (NOPASSWD) with an authorized key to an unpacked root that is not running (chroot). */
export function addAdminUser(root: string, user: string, publicKey: string): void {
    runSync("chroot", [root, "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", `BOX_USER=${checkUser(user)}`, `BOX_KEY=${publicKey}`, "/bin/sh", "-c", adminUserScript]);
}

/** A fresh ed25519 key pair in dir (private key file mode 0600). */
export function generateKey(dir: string, name = "id_ed25519", comment = "erpdc-box"): { privateKey: string; publicKey: string } {
    const file = path.join(dir, name);
    runSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
    return { privateKey: file, publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim() };
}

function checkUser(user: string): string {
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) throw new Error(`bad user name ${JSON.stringify(user)}`);
    return user;
}

function checkPort(port: number): void {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad port ${port}`);
}

function describe(target: HostTarget): string {
    return "unix" in target ? target.unix : `${target.host}:${target.port}`;
}

function requireRoot(): void {
    if (process.getuid?.() !== 0) throw new Error("the box harness needs root (debootstrap, systemd-nspawn, cgroups)");
}

/** The box's cgroup directories: name=systemd and cgroup2 on a hybrid host, or the one hierarchy. */
function cgroupDirs(name: string): string[] {
    if (fs.existsSync(path.join(CGROUP_ROOT, "cgroup.controllers"))) return [path.join(CGROUP_ROOT, name)];
    const dirs = [path.join(CGROUP_ROOT, "systemd", name)];
    if (fs.existsSync(path.join(CGROUP_ROOT, "unified", "cgroup.controllers"))) dirs.push(path.join(CGROUP_ROOT, "unified", name));
    return dirs;
}

/** A directory and its subdirectories, parents first. */
function walkDirs(dir: string): string[] {
    const out: string[] = [];
    const visit = (current: string) => {
        let entries: fs.Dirent[];
        try {
            entries = fs.readdirSync(current, { withFileTypes: true });
        } catch {
            return;
        }
        out.push(current);
        for (const entry of entries) if (entry.isDirectory()) visit(path.join(current, entry.name));
    };
    visit(dir);
    return out;
}

/** Resolves an absolute box path to a host path under root, following symlinks as chroot would. */
export function resolveInRoot(root: string, boxPath: string): string {
    if (!boxPath.startsWith("/")) throw new Error(`box paths are absolute: ${boxPath}`);
    let pending = boxPath.split("/").filter(Boolean);
    const resolved: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
        const part = pending.shift() as string;
        if (part === ".") continue;
        if (part === "..") {
            resolved.pop();
            continue;
        }
        const host = path.join(root, ...resolved, part);
        let link: string | undefined;
        try {
            if (fs.lstatSync(host).isSymbolicLink()) link = fs.readlinkSync(host);
        } catch {
            link = undefined; // does not exist (yet): taken as a plain name
        }
        if (link === undefined || pending.length === 0) {
            // The last component is not followed: writeFile replaces a symlink with a file.
            resolved.push(part);
            continue;
        }
        if (++hops > 40) throw new Error(`too many symlinks in ${boxPath}`);
        if (link.startsWith("/")) resolved.length = 0;
        pending = [...link.split("/").filter(Boolean), ...pending];
    }
    return path.join(root, ...resolved);
}

/** Removes a tree, never across a mount point (unmounts what is mounted below first). */
function removeTree(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    const mounts = readOr("/proc/self/mounts", "")
        .split("\n")
        .map((line) => line.split(" ")[1]?.replace(/\\040/g, " ") ?? "")
        .filter((mount) => mount === dir || mount.startsWith(`${dir}/`))
        .sort()
        .reverse();
    for (const mount of mounts) if (spawnSync("umount", [mount]).status !== 0) spawnSync("umount", ["-l", mount]);
    const result = spawnSync("rm", ["-rf", "--one-file-system", "--", dir], { encoding: "utf8" });
    return fs.existsSync(dir) ? [`${dir} (${result.stderr.trim()})`] : [];
}

function rmdirQuiet(dir: string): void {
    try {
        fs.rmdirSync(dir);
    } catch {
        /* not empty or gone */
    }
}

function safeReaddir(dir: string): string[] {
    try {
        return fs.readdirSync(dir);
    } catch {
        return [];
    }
}

function readOr(file: string, fallback: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return fallback;
    }
}

function signal(pid: number, name: NodeJS.Signals): void {
    try {
        process.kill(pid, name);
    } catch {
        /* gone */
    }
}

function relayDied(relay: Relay): boolean {
    return relay.child.exitCode !== null || relay.child.signalCode !== null;
}

/**
 * Kills every box of this process at exit, and on SIGINT/SIGTERM/SIGHUP (which end Node without
 * its exit hooks); the signal then takes its usual course.
 */
function installExitHook(): void {
    if (exitHookInstalled) return;
    exitHookInstalled = true;
    const killAll = () => {
        for (const box of [...live]) {
            try {
                box.killNow();
            } catch {
                /* best effort */
            }
        }
    };
    process.on("exit", killAll);
    for (const name of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
        process.once(name, () => {
            killAll();
            if (process.listenerCount(name) === 0) process.kill(process.pid, name);
        });
    }
}

/** The start time of a process (field 22 of /proc/PID/stat), to tell a PID's reuse apart. */
function processStartTime(pid: number): string | undefined {
    const stat = readOr(`/proc/${pid}/stat`, "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
}

function commandLine(pid: number): string {
    return readOr(`/proc/${pid}/cmdline`, "").replace(/\0/g, " ");
}

/**
 * Cleans up after boxes whose process died without stop() (SIGKILL, a crash): for each box
 * directory in base whose owner is gone, kills its nspawn and relays by PID (checking the PID
 * still runs that box's command), whatever is left in its cgroups, and removes its files.
 */
export function reapStaleBoxes(base: string = process.env.ERPDC_BOX_WORK ?? os.tmpdir(), log: Log = () => undefined): string[] {
    const reapedNames: string[] = [];
    for (const entry of safeReaddir(base)) {
        const dir = path.join(base, entry);
        let state: BoxState;
        try {
            state = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), "utf8")) as BoxState;
        } catch {
            continue;
        }
        if (state.owner.pid === process.pid || processStartTime(state.owner.pid) === state.owner.start) continue; // alive
        if (state.nspawnPid !== undefined && commandLine(state.nspawnPid).includes(state.root)) signal(state.nspawnPid, "SIGKILL");
        // The relays and the host programs in the box's network (runInNetwork), each with the
        // children it forked: its own process group, by PID when the start time still matches.
        state.relayPids.forEach((pid, i) => {
            const start = state.relayStarts?.[i];
            if (start && processStartTime(pid) === start) signal(-pid, "SIGKILL");
        });
        // Relays of a state written before start times were kept: every process whose command names the relay dir.
        for (const entry of safeReaddir("/proc")) {
            if (/^\d+$/.test(entry) && commandLine(Number(entry)).includes(state.relayDir)) signal(Number(entry), "SIGKILL");
        }
        const cgroupPids = () =>
            state.cgroups.flatMap((cgroup) => walkDirs(cgroup).flatMap((sub) => readOr(path.join(sub, "cgroup.procs"), "").split("\n").filter(Boolean).map(Number)));
        const deadline = Date.now() + 5000;
        while (cgroupPids().length > 0 && Date.now() < deadline) {
            for (const pid of cgroupPids()) signal(pid, "SIGKILL");
            spawnSync("sleep", ["0.1"]);
        }
        for (const cgroup of state.cgroups) for (const sub of walkDirs(cgroup).reverse()) rmdirQuiet(sub);
        for (const sub of safeReaddir(NSPAWN_RUN)) fs.rmSync(path.join(NSPAWN_RUN, sub, state.name), { recursive: true, force: true });
        try {
            const root = fs.statSync(state.root, { bigint: true });
            fs.rmSync(path.join(NSPAWN_RUN, "locks", `inode-${root.dev}:${root.ino}`), { force: true });
        } catch {
            /* no root */
        }
        for (const sub of safeReaddir(NSPAWN_RUN)) rmdirQuiet(path.join(NSPAWN_RUN, sub)); // when empty
        rmdirQuiet(NSPAWN_RUN);
        removeTree(dir);
        reapedNames.push(state.name);
        log(`reaped stale box ${state.name} (its process ${state.owner.pid} is gone)`);
    }
    return reapedNames;
}

/** Answers true when the socket greets with an SSH banner. */
function sshBanner(socket: string): Promise<boolean> {
    return new Promise((resolve) => {
        const connection = net.connect(socket);
        let data = "";
        const done = (ok: boolean) => {
            clearTimeout(timer);
            connection.destroy();
            resolve(ok);
        };
        const timer = setTimeout(() => done(false), 3000);
        connection.on("data", (chunk) => {
            data += chunk.toString("latin1");
            if (data.includes("\n")) done(data.startsWith("SSH-"));
        });
        connection.on("error", () => done(false));
        connection.on("close", () => done(data.startsWith("SSH-")));
    });
}

export function shellQuote(value: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function tail(text: string, lines: number): string {
    return text.split("\n").slice(-lines).join("\n");
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when the promise settles within ms. */
async function within(promise: Promise<void> | undefined, ms: number): Promise<boolean> {
    if (!promise) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const result = await Promise.race([promise.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(50);
    }
}

function runSync(tool: string, args: readonly string[]): string {
    const result = spawnSync(tool, args, { encoding: "utf8" });
    if (result.error) throw result.error;
    if (result.status !== 0) throw new Error(`${tool} ${args.join(" ")} exited ${result.status}:\n${result.stdout}${result.stderr}`);
    return result.stdout;
}

/** Runs a tool asynchronously; collects its output; kills it (by PID) after timeoutMs. */
export function run(
    tool: string,
    args: readonly string[],
    options: { stdin?: string | Buffer; allowFailure?: boolean; timeoutMs?: number; onStderrLine?: Log } = {},
): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(tool, args, { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let pendingLine = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
        child.stderr.on("data", (chunk: Buffer) => {
            const text = chunk.toString("utf8");
            stderr += text;
            if (options.onStderrLine) {
                pendingLine += text;
                const lines = pendingLine.split("\n");
                pendingLine = lines.pop() ?? "";
                for (const line of lines) options.onStderrLine(line);
            }
        });
        let timedOut = false;
        const timer = options.timeoutMs
            ? setTimeout(() => {
                  timedOut = true;
                  if (child.pid !== undefined) signal(child.pid, "SIGKILL");
              }, options.timeoutMs)
            : undefined;
        child.once("error", (error) => {
            clearTimeout(timer);
            reject(error);
        });
        child.once("close", (code, signalName) => {
            clearTimeout(timer);
            if (pendingLine && options.onStderrLine) options.onStderrLine(pendingLine);
            const result = { code: code ?? 128, stdout, stderr: timedOut ? `${stderr}\n(killed after ${options.timeoutMs} ms)` : stderr };
            if (result.code !== 0 && !options.allowFailure) {
                reject(new BoxCommandError(`${tool} ${args.join(" ")} exited ${code ?? signalName}:\n${tail(stdout + stderr, 30)}`, result));
            } else {
                resolve(result);
            }
        });
        child.stdin.on("error", () => undefined); // the tool may exit without reading its input
        child.stdin.end(options.stdin ?? "");
    });
}
