// What the integration tier needs around the box: the program's own first boot and command
// resources for a VM, taken from the mock-engine run of a stack with the secrets' values, and the
// few adaptations a Debian container needs, each with its reason.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import type { RecordedResource } from "../../render/engine";
import type { Box } from "./box";

export interface Adaptation {
    readonly key: string;
    readonly why: string;
}

/**
 * The VM's rendered user-data, adapted to a Debian 12 container. Only what cannot hold there
 * changes; `adaptations` says what and why, for the test's report.
 */
export function adaptUserData(rendered: string, options: { debianMirror: string; caPem: string }): { userData: string; adaptations: Adaptation[] } {
    const document = YAML.parse(rendered.replace(/^#cloud-config\n/, "")) as Record<string, any>;
    const adaptations: Adaptation[] = [];
    const adapt = (key: string, why: string, change: () => void) => {
        change();
        adaptations.push({ key, why });
    };
    if (document.apt) {
        adapt("apt.primary, apt.security", `the box runs Debian 12, so its packages come from Debian (${options.debianMirror}), not the contour's Ubuntu mirror`, () => {
            document.apt.primary = [{ arches: ["default"], uri: `${options.debianMirror}/debian` }];
            document.apt.security = [{ arches: ["default"], uri: `${options.debianMirror}/debian-security` }];
        });
        if (document.apt.sources_list) {
            adapt("apt.sources_list", "Debian 12's cloud-init (22.4) writes one-line sources only (deb822 came with 23.4), and Debian's suites and components differ", () => {
                document.apt.sources_list = ["deb $MIRROR $RELEASE main", "deb $MIRROR $RELEASE-updates main", "deb $SECURITY $RELEASE-security main", ""].join("\n");
            });
        }
    }
    if (document.fs_setup || document.mounts) {
        adapt("fs_setup, mounts", "a container has no second disk; the data disk's mount point /srv is a plain directory", () => {
            delete document.fs_setup;
            delete document.mounts;
        });
    }
    if (document.ntp) {
        adapt("ntp", "a container cannot set the clock (no CAP_SYS_TIME); the host keeps time", () => delete document.ntp);
    }
    if (Array.isArray(document.runcmd)) {
        const kept = document.runcmd.filter((entry: unknown) => !JSON.stringify(entry).includes("qemu-guest-agent"));
        if (kept.length !== document.runcmd.length) {
            adapt("runcmd (qemu-guest-agent)", "a container has no virtio-serial port for the guest agent; the package is still installed", () => {
                if (kept.length === 0) delete document.runcmd;
                else document.runcmd = kept;
            });
        }
    }
    if (document.ca_certs?.trusted) {
        adapt("ca_certs.trusted", "the mock engine's CA is a labelled placeholder (only the tls provider signs during pulumi up); the test's real CA stands in", () => {
            document.ca_certs.trusted = [options.caPem];
        });
    }
    return { userData: `#cloud-config\n${YAML.stringify(document, { lineWidth: 0 })}`, adaptations };
}

/** A command resource as @pulumi/command would run it: its script and its stdin. */
export interface VmCommand {
    readonly name: string;
    readonly create: string;
    readonly stdin?: string;
    /** The host key the command's connection pins (connection.hostKey). */
    readonly hostKey?: string;
    /** Names of the VM's other commands it waits for. */
    readonly after: readonly string[];
}

/** The remote commands of one VM (connection host = its address), in dependency order. */
export function commandsFor(resources: readonly RecordedResource[], address: string): VmCommand[] {
    const remote = resources.filter((r) => r.type === "command:remote:Command" && (r.revealedInputs?.connection as { host?: string } | undefined)?.host === address);
    const byUrn = new Map(remote.map((r) => [r.urn, r]));
    const dependsOn = (resource: RecordedResource): string[] => {
        const seen = new Set<string>();
        const walk = (urn: string) => {
            for (const dep of resources.find((r) => r.urn === urn)?.dependencies ?? []) {
                if (seen.has(dep)) continue;
                seen.add(dep);
                walk(dep);
            }
        };
        walk(resource.urn);
        return [...seen].filter((urn) => byUrn.has(urn)).map((urn) => byUrn.get(urn)?.name as string);
    };
    const commands = remote.map((r) => ({
        name: r.name,
        create: String(r.revealedInputs?.create),
        ...((r.revealedInputs?.connection as { hostKey?: string }).hostKey === undefined ? {} : { hostKey: String((r.revealedInputs?.connection as { hostKey: string }).hostKey) }),
        ...(r.revealedInputs?.stdin === undefined ? {} : { stdin: String(r.revealedInputs.stdin) }),
        after: dependsOn(r),
    }));
    const ordered: VmCommand[] = [];
    while (ordered.length < commands.length) {
        const next = commands.find((c) => !ordered.includes(c) && c.after.every((name) => ordered.some((o) => o.name === name)));
        if (next === undefined) throw new Error("the commands' dependencies form a cycle");
        ordered.push(next);
    }
    return ordered;
}

/**
 * The bundle on a command's stdin with the placeholder TLS files replaced by the test CA's: what
 * the tls provider would have put there during pulumi up.
 */
export function withRealTls(stdin: string, files: { certificate: string; key: string; ca: string }): string {
    const bundle = JSON.parse(stdin) as { files: { path: string; content: string }[] };
    for (const file of bundle.files) {
        if (file.path === "/usr/local/share/ca-certificates/erpdc-contour-ca.crt") file.content = files.ca;
        if (/^\/etc\/nginx\/tls\/[a-z]+\.crt$/.test(file.path)) file.content = files.certificate;
        if (/^\/etc\/nginx\/tls\/[a-z]+\.key$/.test(file.path)) file.content = files.key;
    }
    return JSON.stringify(bundle);
}

/**
 * Runs a script as the operator's machine would, in a network and mount namespace of its own:
 * the contour's names resolve to that namespace's loopback (its own /etc/hosts), where relays lead
 * to the box's HTTPS (443) and, at `sshAddress`:22, to the box's SSH. Nothing listens on the host's
 * interfaces and nothing leaves the namespace but the relay sockets.
 */
export function runAsOperator(
    box: Box,
    socat: string,
    script: string,
    options: { env: Readonly<Record<string, string>>; names: readonly string[]; sshAddress: string; cwd: string },
): Promise<{ code: number; output: string }> {
    const hosts = path.join(box.dir, "operator-hosts");
    fs.writeFileSync(hosts, ["127.0.0.1 localhost", ...options.names.map((name) => `127.0.0.1 ${name}`), ""].join("\n"));
    const wrapper = [
        "set -eu",
        "ip link set lo up",
        `ip addr add ${options.sshAddress}/32 dev lo`,
        `mount --bind ${hosts} /etc/hosts`,
        `${socat} TCP-LISTEN:443,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${box.relaySocket(443)} & https=$!`,
        `${socat} TCP-LISTEN:22,bind=${options.sshAddress},fork,reuseaddr UNIX-CONNECT:${box.relaySocket(22)} & ssh=$!`,
        "trap 'kill $https $ssh 2>/dev/null' EXIT",
        "for i in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null && break; sleep 0.1; done",
        'exec_status=0; /bin/bash -c "$OPERATOR_SCRIPT" || exec_status=$?',
        "exit $exec_status",
    ].join("\n");
    return new Promise((resolve, reject) => {
        const child = spawn("unshare", ["--net", "--mount", "--fork", "/bin/bash", "-c", wrapper], {
            cwd: options.cwd,
            env: { ...process.env, ...options.env, OPERATOR_SCRIPT: script },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout.on("data", (chunk) => (output += chunk));
        child.stderr.on("data", (chunk) => (output += chunk));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? 1, output }));
    });
}

/**
 * Watches a box's network namespace from its first moments: a default route into the box's own
 * loopback gives a packet for any outside address a way that leads nowhere (the box has no other
 * interface), so that tcpdump sees each attempt; the box's resolver (127.0.0.1) shows each name
 * looked up. Nothing of it touches the host's network.
 */
export class NetworkWatch {
    private tcpdump: ReturnType<typeof spawn> | undefined;

    constructor(private readonly pcap: string) {}

    /** For BoxOptions.onLeader. */
    readonly start = async (leaderPid: number): Promise<void> => {
        const inBox = ["nsenter", "-t", String(leaderPid), "-n"];
        const setup = "ip link set lo up && ip route replace default dev lo";
        await new Promise<void>((resolve, reject) => {
            const child = spawn(inBox[0] as string, [...inBox.slice(1), "sh", "-c", setup], { stdio: "ignore" });
            child.on("error", reject);
            child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`the watch's route could not be set up (exit ${code})`))));
        });
        this.tcpdump = spawn(inBox[0] as string, [...inBox.slice(1), "tcpdump", "-i", "any", "-n", "-U", "-w", this.pcap], { stdio: "ignore", detached: true });
        // tcpdump writes the file's header once it listens.
        for (let i = 0; i < 100 && !fs.existsSync(this.pcap); i++) await new Promise((resolve) => setTimeout(resolve, 20));
        // A watch that starts late would miss the first moments it claims to see.
        if (!fs.existsSync(this.pcap)) throw new Error("tcpdump did not start listening within 2 s; the first boot is not watched");
    };

    async stop(): Promise<void> {
        const child = this.tcpdump;
        if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        try {
            process.kill(-child.pid, "SIGTERM");
        } catch {
            return; // gone between the check and the signal
        }
        await exited;
    }

    /** The names looked up and the connections tried (destinations off the box's loopback). */
    report(): { lookups: string[]; connections: string[]; loopback: string[] } {
        const result = spawnSync("tcpdump", ["-r", this.pcap, "-n"], { encoding: "utf8" });
        const lines = result.stdout.split("\n");
        const lookups = new Set<string>();
        const connections = new Set<string>();
        const loopback = new Set<string>();
        for (const line of lines) {
            const query = / (?:A|AAAA|SRV|TXT|PTR|MX|CNAME|ANY)\? (\S+?)\.? \(/.exec(line);
            if (query) lookups.add(query[1] as string);
            const destination = /IP6? \S+ > (\S+?):/.exec(line)?.[1];
            if (destination === undefined) continue;
            const host = destination.replace(/\.\d+$/, "");
            if (!/Flags \[S\]|UDP|\d+\+? [A-Z]+\?/.test(line)) continue;
            (host.startsWith("127.") || host === "::1" ? loopback : connections).add(destination);
        }
        return { lookups: [...lookups].sort(), connections: [...connections].sort(), loopback: [...loopback].sort() };
    }
}
