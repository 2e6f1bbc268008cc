// What the integration tier needs around the box: the program's own first boot and command
// resources for a VM, taken from the mock-engine run of a stack with the secrets' values, and the
// few adaptations a Debian container needs, each with its reason.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import type { RecordedResource, StackRun } from "../../render/engine";
import { find } from "../helpers";
import { shellQuote } from "../../lib/remote";
import { commandOrder } from "../../render/bringUp";
import { run as runTool, type TestCa } from "../tools/support";
import { Box, type BoxImage, type RunResult } from "./box";

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
}

/** The remote commands of one VM (connection host = its address), in the program's order (commandOrder). */
export function commandsFor(resources: readonly RecordedResource[], address: string): VmCommand[] {
    return commandOrder(resources)
        .filter((r) => r.type === "command:remote:Command" && (r.revealedInputs?.connection as { host?: string } | undefined)?.host === address)
        .map((r) => {
            const { hostKey } = r.revealedInputs?.connection as { hostKey?: string };
            return {
                name: r.name,
                create: String(r.revealedInputs?.create),
                ...(hostKey === undefined ? {} : { hostKey: String(hostKey) }),
                ...(r.revealedInputs?.stdin === undefined ? {} : { stdin: String(r.revealedInputs.stdin) }),
            };
        });
}

/** A VM of a stack booted in a box with its own first boot, ready for its command resources. */
export interface InfraVmBox {
    readonly name: string;
    readonly address: string;
    readonly box: Box;
    /** The SSH host key the program made for the VM (its vendor-data puts it in place). */
    readonly hostKey: string;
    /** The admin key's file (the program's private key), for the operator's scripts. */
    readonly adminKey: string;
    /** Its remote commands in dependency order, Kubespray left out (it needs Kubernetes nodes). */
    readonly commands: VmCommand[];
    readonly adaptations: readonly Adaptation[];
}

export interface VmBoxOptions {
    readonly image: BoxImage;
    readonly ca: TestCa;
    readonly work: string;
    readonly expose: readonly number[];
    readonly onLeader?: (leaderPid: number) => void | Promise<void>;
    readonly readOnlyBinds?: Readonly<Record<string, string>>;
}

/**
 * Boots a box for VM `vm` of a stack run made with `revealSecrets` (an infra VM or a Kubernetes
 * node): its rendered user-data (adapted for a Debian container) and vendor-data, the admin user
 * and host key they give, the VM's address on its loopback, and the box ports in `expose`
 * reachable from the host.
 */
export async function startVm(stack: StackRun, vm: string, options: VmBoxOptions): Promise<InfraVmBox> {
    const address = (stack.outputs.inventory?.value as { name: string; address: string }[]).find((entry) => entry.name === vm)?.address;
    if (address === undefined) throw new Error(`the stack has no VM ${vm}`);
    const ready = find(stack.resources, `${vm}-ready`);
    const connection = ready.revealedInputs?.connection as { privateKey: string; hostKey: string } | undefined;
    if (connection === undefined) throw new Error(`${vm}-ready has no connection: run the stack with revealSecrets`);
    const adminKey = path.join(options.work, `id_admin_${vm}`);
    fs.writeFileSync(adminKey, connection.privateKey, { mode: 0o600 });
    const vendorData = String((find(stack.resources, `${vm}-vendor-data`).revealedInputs?.sourceRaw as { data: string }).data);
    const rendered = (await stack.artifacts.collect()).get(`cloud-init/${vm}/user-data`) as string;
    const debianMirror = options.image.mirror.replace(/\/debian\/?$/, "");
    const { userData, adaptations } = adaptUserData(rendered, { debianMirror, caPem: fs.readFileSync(options.ca.caCert, "utf8") });
    const box = await Box.start({
        ...(options.onLeader === undefined ? {} : { onLeader: options.onLeader }),
        ...(options.readOnlyBinds === undefined ? {} : { readOnlyBinds: options.readOnlyBinds }),
        image: options.image,
        name: `erpdc-${vm}-${process.pid}`,
        hostname: vm,
        seed: { userData, vendorData, metaData: `instance-id: ${vm}-box-${process.pid}\nlocal-hostname: ${vm}\n` },
        sshUser: "erpadmin",
        sshKey: adminKey,
        sshHostKey: connection.hostKey.trim(),
        expose: options.expose,
    });
    // The VM's address, where synrc/ns listens, as its network-config would give it to its NIC.
    await box.exec(`ip link set lo up && ip addr add ${address}/32 dev lo`);
    adaptations.push({ key: "network-config (the VM's address)", why: `${address} is on the box's loopback, its only interface, so that its services can listen where they do on the VM` });
    // Kubespray runs from the first infra VM too, but needs the Kubernetes nodes: run on its own.
    const commands = commandsFor(stack.resources, address).filter((command) => command.name !== "kubespray");
    return { name: vm, address, box, hostKey: connection.hostKey.trim(), adminKey, commands, adaptations };
}

/** A command resource in the order the engine may run it: on a VM over SSH, or on the operator's machine. */
export interface ProgramStep {
    readonly name: string;
    readonly type: "command:remote:Command" | "command:local:Command";
    /** The VM's address, for a remote command. */
    readonly host?: string;
    readonly resource: RecordedResource;
}

/** Every command resource of a stack run in the order the program's guide gives (render/bringUp.ts commandOrder). */
export function programOrder(resources: readonly RecordedResource[]): ProgramStep[] {
    return commandOrder(resources).map((resource) => {
        const host = (resource.revealedInputs?.connection as { host?: string } | undefined)?.host;
        return { name: resource.name, type: resource.type as ProgramStep["type"], ...(host === undefined ? {} : { host }), resource };
    });
}

/** Runs one of the VM's command resources over SSH as @pulumi/command would, with the test CA's TLS files. */
export async function runVmCommand(vm: InfraVmBox, command: VmCommand, ca: TestCa): Promise<RunResult> {
    if (command.hostKey?.trim() !== vm.hostKey) throw new Error(`${command.name} pins another host key than ${vm.name}'s`);
    const tls = { certificate: fs.readFileSync(ca.serverCert, "utf8"), key: fs.readFileSync(ca.serverKey, "utf8"), ca: fs.readFileSync(ca.caCert, "utf8") };
    const stdin = command.stdin === undefined ? undefined : withRealTls(command.stdin, tls);
    return vm.box.ssh(command.create, { ...(stdin === undefined ? {} : { stdin }), hostKey: vm.hostKey, allowFailure: true, timeoutMs: 10 * 60_000 });
}

/**
 * Writes containerd's registry configuration as Kubespray v2.28.0 renders it
 * (roles/container-engine/containerd/templates/hosts.toml.j2, one hosts.toml per mirrored prefix)
 * from the stack's Kubespray inventory, and returns the node's pull account.
 */
export function configureContainerd(box: Box, kubespray: RecordedResource): { registry: string; username: string; password: string } {
    const bundle = JSON.parse(String(kubespray.revealedInputs?.stdin)) as { files: Record<string, string> };
    const [auth] = YAML.parse(bundle.files["group_vars/all/registry-auth.yml"] as string).containerd_registry_auth as { registry: string; username: string; password: string }[];
    const mirrors = YAML.parse(bundle.files["group_vars/all/offline.yml"] as string).containerd_registries_mirrors as { prefix: string; mirrors: { host: string; capabilities: string[]; skip_verify: boolean }[] }[];
    if (auth === undefined) throw new Error("the Kubespray inventory gives the nodes no pull account");
    for (const entry of mirrors) {
        const hosts = [`server = "https://${entry.prefix}"`, ...entry.mirrors.flatMap((m) => [`[host."${m.host}"]`, `  capabilities = ["${m.capabilities.join('","')}"]`, `  skip_verify = ${m.skip_verify}`, "  override_path = false"])];
        box.writeFile(`/etc/containerd/certs.d/${entry.prefix}/hosts.toml`, `${hosts.join("\n")}\n`);
    }
    return auth;
}

/**
 * A one-file OCI image (umoci) to push with skopeo, and the certs.d folder that makes skopeo trust
 * the test CA: `oci:<layout>:<tag>` is the image.
 */
export function probeImage(work: string, ca: TestCa, tag: string, content: string): { layout: string; certs: string } {
    const layout = path.join(work, "oci");
    runTool("umoci", ["init", "--layout", layout]);
    runTool("umoci", ["new", "--image", `${layout}:${tag}`]);
    fs.writeFileSync(path.join(work, "probe.txt"), content);
    runTool("umoci", ["insert", "--image", `${layout}:${tag}`, path.join(work, "probe.txt"), "/probe.txt"]);
    const certs = path.join(work, "certs.d");
    fs.mkdirSync(certs);
    fs.copyFileSync(ca.caCert, path.join(certs, "ca.crt"));
    return { layout, certs };
}

/**
 * The bundle on a command's stdin with the placeholder TLS files replaced by the test CA's: what
 * the tls provider would have put there during pulumi up.
 */
export function withRealTls(stdin: string, files: { certificate: string; key: string; ca: string }): string {
    const bundle = JSON.parse(stdin) as { files: { path: string; content: string }[] | Record<string, string> };
    // Kubespray's bundle names its inventory's files by name, and holds no TLS file.
    if (!Array.isArray(bundle.files)) return stdin;
    for (const file of bundle.files) {
        if (file.path === "/usr/local/share/ca-certificates/erpdc-contour-ca.crt") file.content = files.ca;
        if (/^\/etc\/nginx\/tls\/[a-z]+\.crt$/.test(file.path)) file.content = files.certificate;
        if (/^\/etc\/nginx\/tls\/[a-z]+\.key$/.test(file.path)) file.content = files.key;
    }
    return JSON.stringify(bundle);
}

/**
 * Runs a script as the operator's machine would, in a network and mount namespace of its own:
 * each infra VM's address (`sshAddress`) is on that namespace's loopback, where a relay leads to
 * its box's SSH, and the contour's names resolve (its own /etc/hosts) to 127.0.0.1, where a relay
 * leads to the first box's HTTPS (443). Nothing listens on the host's interfaces and nothing
 * leaves the namespace but the relay sockets.
 */
export function runAsOperator(
    vms: readonly { readonly box: Box; readonly sshAddress: string }[],
    socat: string,
    script: string,
    options: {
        env: Readonly<Record<string, string>>;
        names: readonly string[];
        cwd: string;
        /** The script's standard input (a local command's stdin). */
        stdin?: string;
        /** Host files mounted over other paths in the operator's namespace: path -> file. */
        binds?: Readonly<Record<string, string>>;
    },
): Promise<{ code: number; output: string }> {
    const [first] = vms;
    if (first === undefined) throw new Error("runAsOperator needs at least one box");
    const hosts = path.join(first.box.dir, "operator-hosts");
    fs.writeFileSync(hosts, ["127.0.0.1 localhost", ...options.names.map((name) => `127.0.0.1 ${name}`), ""].join("\n"));
    const wrapper = [
        "set -eu",
        "ip link set lo up",
        ...vms.map((vm) => `ip addr add ${vm.sshAddress}/32 dev lo`),
        `mount --bind ${hosts} /etc/hosts`,
        ...Object.entries(options.binds ?? {}).map(([target, file]) => `mount --bind ${shellQuote(file)} ${shellQuote(target)}`),
        "relays=()",
        "trap 'kill \"${relays[@]}\" 2>/dev/null' EXIT",
        `${socat} TCP-LISTEN:443,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${first.box.relaySocket(443)} & relays+=($!)`,
        ...vms.map((vm) => `${socat} TCP-LISTEN:22,bind=${vm.sshAddress},fork,reuseaddr UNIX-CONNECT:${vm.box.relaySocket(22)} & relays+=($!)`),
        "for i in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null && break; sleep 0.1; done",
        ...vms.map((vm) => `for i in $(seq 1 50); do (exec 3<>/dev/tcp/${vm.sshAddress}/22) 2>/dev/null && break; sleep 0.1; done`),
        'exec_status=0; /bin/bash -c "$OPERATOR_SCRIPT" <&3 3<&- || exec_status=$?',
        "exit $exec_status",
    ].join("\n");
    return new Promise((resolve, reject) => {
        // The script's stdin comes on fd 3, so that the relays started before it cannot read it.
        const child = spawn("unshare", ["--net", "--mount", "--fork", "/bin/bash", "-c", `exec 3<&0 </dev/null\n${wrapper}`], {
            cwd: options.cwd,
            env: { ...process.env, ...options.env, OPERATOR_SCRIPT: script },
            stdio: ["pipe", "pipe", "pipe"],
        });
        child.stdin.end(options.stdin ?? "");
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

/**
 * The datacenter mirror as the infra VM reaches it: an HTTP server at the mirror's address on the
 * box's own network (a host program in the box's network namespace, so nothing listens on the
 * host's), serving `files` (URL path -> file on the host) from a folder of the box's.
 */
export async function serveDatacenterMirror(vm: InfraVmBox, mirrorUrl: string, files: Readonly<Record<string, string>>): Promise<void> {
    const { hostname, port } = new URL(mirrorUrl);
    const root = path.join(vm.box.dir, "datacenter-mirror");
    for (const [urlPath, file] of Object.entries(files)) {
        const target = path.join(root, urlPath);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.copyFileSync(file, target);
    }
    await vm.box.exec(`ip addr add ${hostname}/32 dev lo`);
    await vm.box.runInNetwork("python3", ["-u", path.join(__dirname, "files", "static_http.py"), hostname, port || "80", root], `the datacenter mirror at ${hostname}`, {
        address: hostname,
        port: Number(port || 80),
        protocol: "tcp",
    });
}

/**
 * Relays to the infra VM's DNS server at its address, for boxes that reach it only by Unix
 * sockets: `tcp` carries a stream to its TCP port 53, `udp` takes length-prefixed messages and
 * asks its UDP port 53 (files/dns_relay.py stream-to-udp), so that both of synrc/ns's listeners answer.
 */
export async function dnsRelays(vm: InfraVmBox, socat: string): Promise<{ tcp: string; udp: string }> {
    const tcp = path.join(vm.box.dir, "dns-tcp.sock");
    const udp = path.join(vm.box.dir, "dns-udp.sock");
    await vm.box.runInNetwork(socat, ["-d", "-d", `UNIX-LISTEN:${tcp},fork,mode=600,unlink-early`, `TCP:${vm.address}:53`], `${vm.name}'s DNS over TCP`, { unix: tcp });
    await vm.box.runInNetwork("python3", ["-u", path.join(__dirname, "files", "dns_relay.py"), "stream-to-udp", udp, vm.address, "53"], `${vm.name}'s DNS over UDP`, { unix: udp });
    return { tcp, udp };
}

/** The synrc/ns server's process: its PID and start time, which a restart changes. */
export async function nsProcess(box: Box): Promise<string> {
    return (await box.exec("systemctl show -p MainPID -p ExecMainStartTimestampMonotonic synrc-ns")).stdout.trim();
}

/**
 * The contour's LAN, for a box that must reach other VMs at ports its own services hold on every
 * address (sshd and nginx listen on 0.0.0.0, so a relay for another VM's port 22 or 443 cannot
 * listen in the box): a network namespace of the test's own, joined to each attached box by a veth
 * pair, where relays listen at the other VMs' addresses and lead to their boxes' sockets. Nothing
 * of it touches the host's network.
 */
export class Lan {
    readonly name = `erpdc-lan-${process.pid}`;
    private readonly relays: ReturnType<typeof spawn>[] = [];
    private readonly addresses = new Set<string>();
    private links = 0;

    private constructor() {}

    static create(): Lan {
        const lan = new Lan();
        runTool("ip", ["netns", "add", lan.name]);
        runTool("ip", ["-n", lan.name, "link", "set", "lo", "up"]);
        return lan;
    }

    /** Joins a VM's box: a veth `lan0` in the box with a route to `cidr`, whose other end leads back to the VM's address. */
    async attach(vm: InfraVmBox, cidr: string): Promise<void> {
        const end = `lan${this.links++}`;
        runTool("ip", ["-n", this.name, "link", "add", end, "type", "veth", "peer", "name", "lan0", "netns", String(vm.box.leader())]);
        runTool("ip", ["-n", this.name, "link", "set", end, "up"]);
        runTool("ip", ["-n", this.name, "route", "add", `${vm.address}/32`, "dev", end]);
        await vm.box.exec(`ip link set lan0 up && ip route add ${cidr} dev lan0 src ${vm.address}`);
    }

    /** A relay on the LAN: `address`:`port` (TCP) leads to a Unix socket (a box's relay). */
    async serve(address: string, port: number, socket: string, socat: string, description: string): Promise<void> {
        if (!this.addresses.has(address)) {
            runTool("ip", ["-n", this.name, "addr", "add", `${address}/32`, "dev", "lo"]);
            this.addresses.add(address);
        }
        const relay = spawn("ip", ["netns", "exec", this.name, socat, `TCP-LISTEN:${port},bind=${address},fork,reuseaddr`, `UNIX-CONNECT:${socket}`], { stdio: "ignore", detached: true });
        this.relays.push(relay);
        for (let i = 0; i < 100; i++) {
            const listening = spawnSync("ip", ["netns", "exec", this.name, "ss", "-H", "-lnt", "src", address, `sport = :${port}`], { encoding: "utf8" }).stdout.trim() !== "";
            if (listening) return;
            if (relay.exitCode !== null) break;
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        throw new Error(`the LAN's relay for ${description} (${address}:${port}) does not listen`);
    }

    /** Ends every process in the namespace and removes it. */
    stop(): void {
        for (const relay of this.relays) {
            try {
                if (relay.pid !== undefined) process.kill(-relay.pid, "SIGKILL");
            } catch {
                // gone already
            }
        }
        for (const pid of spawnSync("ip", ["netns", "pids", this.name], { encoding: "utf8" }).stdout.split("\n").filter(Boolean)) {
            try {
                process.kill(Number(pid), "SIGKILL");
            } catch {
                // gone already
            }
        }
        spawnSync("ip", ["netns", "del", this.name]);
    }
}
