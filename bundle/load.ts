// Loads a bundle into the contour, inside it: the whole bundle is verified first (nothing is loaded
// from a bundle that fails), then every infra VM gets every item, the way chart publishing writes
// to them (SSH with the admin key, the VM's own host key only; the registry through a tunnel to its
// own port behind nginx). An item a VM holds already (same digest, same sha256) is left alone, so a
// second load uploads nothing. Files of another host (the datacenter mirror) go to --mirror-root.
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { shellQuote } from "../lib/remote";
import { helmBinary } from "../render/helm";
import { LAYOUT_REFERENCE } from "./fill";
import { chartReference } from "./layout";
import { readManifest, type HeldItem, type Manifest } from "./manifest";
import { Progress } from "./progress";
import { renderedStack } from "./stack";
import type { InfraHost, LoadAccess } from "./targets";
import { runTool } from "./tools";
import { loadOfflineConfig, type OfflineConfig } from "../render/stackConfig";
import { admissionProblems, stackListForBundle } from "./admit";
import type { BundleItem } from "./list";

/** A bundle that may not be loaded for the stack; nothing was written. */
export class BundleRefused extends Error {}

export interface LoadOptions {
    readonly dir: string;
    readonly manifest: Manifest;
    /** The stack's own list (stackListForBundle): the bundle must hold exactly it. */
    readonly list: readonly BundleItem[];
    readonly access: LoadAccess;
    /** The datacenter mirror's web root, for files whose destination is not the files area. */
    readonly mirrorRoot?: string;
    readonly progress: Progress;
}

export interface LoadReport {
    readonly loaded: readonly string[];
    readonly present: readonly string[];
    readonly failed: readonly string[];
    /** Files for the datacenter mirror when no --mirror-root was given. */
    readonly elsewhere: readonly string[];
}

/** A file to put under a web root: from the bundle, or a page of the Python index made here. */
interface Placed {
    readonly relative: string;
    readonly sha256: string;
    readonly from: string | { readonly content: string };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function escapeHtml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * The files each web host gets, by destination host: the files and in-house items at their URL's
 * path, and the wheels as a PEP 503 simple index (a page per project linking its wheels with their
 * sha256, which pip checks, and a root page listing the projects).
 */
export function placedFiles(dir: string, manifest: Manifest): Map<string, Placed[]> {
    const byHost = new Map<string, Placed[]>();
    const add = (host: string, placed: Placed) => byHost.set(host, [...(byHost.get(host) ?? []), placed]);
    const page = (title: string, links: readonly { href: string; text: string }[]) =>
        `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>${escapeHtml(title)}</title></head><body>\n${links.map((link) => `<a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a><br>`).join("\n")}\n</body></html>\n`;
    const projects = new Map<string, { url: URL; wheels: HeldItem[] }>();
    for (const item of manifest.items) {
        if (item.kind === "file" || item.kind === "in-house") {
            const url = new URL(item.destination);
            add(url.host, { relative: decodeURIComponent(url.pathname).replace(/^\/+/, ""), sha256: item.sha256, from: path.join(dir, item.path) });
        } else if (item.kind === "python") {
            const url = new URL(item.destination);
            const project = projects.get(url.href) ?? { url, wheels: [] };
            project.wheels.push(item);
            projects.set(url.href, project);
        }
    }
    const indexes = new Map<string, { url: URL; projects: string[] }>();
    for (const { url, wheels } of projects.values()) {
        const projectPath = decodeURIComponent(url.pathname).replace(/^\/+/, "");
        const unique = [...new Map(wheels.map((wheel) => [path.posix.basename(wheel.path), wheel])).values()].sort((a, b) => a.path.localeCompare(b.path));
        for (const wheel of unique) add(url.host, { relative: path.posix.join(projectPath, path.posix.basename(wheel.path)), sha256: wheel.sha256, from: path.join(dir, wheel.path) });
        const name = path.posix.basename(projectPath);
        const content = page(`Links for ${name}`, unique.map((wheel) => ({ href: `${path.posix.basename(wheel.path)}#sha256=${wheel.sha256}`, text: path.posix.basename(wheel.path) })));
        add(url.host, { relative: path.posix.join(projectPath, "index.html"), sha256: sha256(content), from: { content } });
        const root = new URL("../", url);
        const index = indexes.get(root.href) ?? { url: root, projects: [] };
        index.projects.push(name);
        indexes.set(root.href, index);
    }
    for (const { url, projects: names } of indexes.values()) {
        const content = page("Simple index", names.sort().map((name) => ({ href: `${name}/`, text: name })));
        add(url.host, { relative: path.posix.join(decodeURIComponent(url.pathname).replace(/^\/+/, ""), "index.html"), sha256: sha256(content), from: { content } });
    }
    return byHost;
}

/** The sha256 of each of `relatives` that exists under `root`, by a script run where the root is. */
const HASH_SCRIPT = [
    "import hashlib, os, sys",
    "root = sys.argv[1]",
    "for relative in sys.stdin.read().split('\\0'):",
    "    target = os.path.join(root, relative)",
    "    if relative and os.path.isfile(target):",
    "        digest = hashlib.sha256()",
    "        with open(target, 'rb') as handle:",
    "            for chunk in iter(lambda: handle.read(1 << 20), b''):",
    "                digest.update(chunk)",
    "        print(digest.hexdigest(), relative)",
].join("\n");

function parseHashes(output: string): Map<string, string> {
    return new Map(
        output
            .split("\n")
            .filter((line) => line !== "")
            .map((line) => {
                const space = line.indexOf(" ");
                return [line.slice(space + 1), line.slice(0, space)];
            }),
    );
}

/** A staging folder holding `placed` at their relative paths (links to the bundle's files), for tar. */
function stage(work: string, placed: readonly Placed[]): string {
    const staging = fs.mkdtempSync(path.join(work, "stage-"));
    for (const file of placed) {
        const target = path.join(staging, file.relative);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        if (typeof file.from === "string") fs.symlinkSync(path.resolve(file.from), target);
        else fs.writeFileSync(target, file.from.content);
    }
    return staging;
}

/** tar of a staging folder, dereferencing its links; everything readable by the web server, owned by root. */
function tarArgs(staging: string): string[] {
    return ["-c", "-h", "-C", staging, "--owner=0", "--group=0", "--mode=u=rwX,go=rX", "."];
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** One SSH connection to an infra VM (a control master), with its registry tunnelled to a local port. */
class VmSession {
    private readonly options: string[];
    readonly registry: string;

    private constructor(
        readonly host: InfraHost,
        private readonly work: string,
        port: number,
    ) {
        const dir = path.join(work, host.name);
        fs.mkdirSync(dir, { mode: 0o700 });
        fs.writeFileSync(path.join(dir, "known_hosts"), `erpdc-${host.name} ${host.hostKey.trim()}\n`);
        this.options = [
            "-i", path.join(work, "id"),
            "-o", `Port=${host.sshPort}`,
            "-o", "BatchMode=yes",
            "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=15",
            "-o", "StrictHostKeyChecking=yes",
            "-o", `HostKeyAlias=erpdc-${host.name}`,
            "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`,
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-S", path.join(dir, "control"),
        ];
        this.registry = `127.0.0.1:${port}`;
    }

    static async open(host: InfraHost, work: string): Promise<VmSession> {
        const session = new VmSession(host, work, await freePort());
        runTool("ssh", [...session.options, "-f", "-N", "-M", "-o", "ExitOnForwardFailure=yes", "-L", `${session.registry}:${host.registry}`, session.target], { what: `${host.name}: SSH to ${host.address}:${host.sshPort}` });
        return session;
    }

    get target(): string {
        return `${this.host.user}@${this.host.address}`;
    }

    ssh(command: string, input?: string): string {
        return runTool("ssh", [...this.options, this.target, command], { ...(input === undefined ? {} : { input }), what: `${this.host.name}: ${command.split("\n")[0]}` });
    }

    /** Streams a tar of `staging` into `root` on the VM, as root. */
    untar(staging: string, root: string): void {
        const result = spawnSync("bash", ["-o", "pipefail", "-c", `tar ${tarArgs(staging).map(shellQuote).join(" ")} | ssh ${this.options.map(shellQuote).join(" ")} ${shellQuote(this.target)} ${shellQuote(`sudo install -d -m 0755 ${shellQuote(root)} && sudo tar -x -m --no-same-owner --no-overwrite-dir -C ${shellQuote(root)}`)}`], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
        });
        if (result.status !== 0) throw new Error(`${this.host.name}: could not write under ${root}: ${result.stderr.trim()}`);
    }

    close(): void {
        spawnSync("ssh", [...this.options, "-O", "exit", this.target], { stdio: "ignore" });
    }
}

/** The registry's digest of a tag's manifest, or undefined when it has none (skopeo inspect --raw). */
function registryManifest(reference: string): string | undefined {
    const result = spawnSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${reference}`], { encoding: "buffer", stdio: ["ignore", "pipe", "pipe"] });
    return result.status === 0 ? result.stdout.toString("utf8") : undefined;
}

export async function loadBundle(options: LoadOptions): Promise<LoadReport> {
    const { dir, manifest, access, progress } = options;
    const problems = admissionProblems(options.list, manifest, dir);
    if (problems.length > 0) {
        throw new BundleRefused(
            `the bundle in ${dir} is not the one this stack lists, or is damaged, so nothing was loaded:\n${problems.map((problem) => `  - ${problem}`).join("\n")}\n` +
                "Fill it for this stack and configuration again (npm run bundle resumes, replaces what is damaged and removes what the stack no longer lists).",
        );
    }
    const { targets } = access;
    const report = { loaded: [] as string[], present: [] as string[], failed: [] as string[], elsewhere: [] as string[] };
    const record = (outcome: "loaded" | "present" | "failed", what: string, kind: string, bytes: number) => {
        const subject = { kind: kind as HeldItem["kind"], destination: what };
        progress.start(subject);
        progress.done(subject, bytes, outcome);
        report[outcome].push(what);
    };
    const placed = placedFiles(dir, manifest);
    const images = manifest.items.filter((item) => item.kind === "image");
    const charts = manifest.items.filter((item) => item.kind === "chart");
    const mirrorFiles = [...placed].filter(([host]) => host !== targets.filesHost).reduce((sum, [, files]) => sum + files.length, 0);
    progress.begin(targets.hosts.length * (images.length + charts.length * 2 + (placed.get(targets.filesHost)?.length ?? 0)) + (options.mirrorRoot === undefined ? 0 : mirrorFiles));

    const work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-bundle-load-"));
    fs.chmodSync(work, 0o700);
    try {
        fs.writeFileSync(path.join(work, "id"), access.sshPrivateKey.endsWith("\n") ? access.sshPrivateKey : `${access.sshPrivateKey}\n`, { mode: 0o600 });
        for (const host of targets.hosts) {
            let session: VmSession;
            try {
                session = await VmSession.open(host, work);
            } catch (error) {
                // The message names the VM (and says what ssh said): its items are not tried.
                report.failed.push((error as Error).message);
                continue;
            }
            try {
                for (const item of images) {
                    const destination = `${host.name}: ${item.destination}`;
                    const [, ...repository] = item.destination.split("/");
                    const reference = `${session.registry}/${repository.join("/")}`;
                    const raw = registryManifest(reference);
                    if (raw !== undefined && sha256(raw) === item.sha256) record("present", destination, "image", 0);
                    else {
                        try {
                            runTool("skopeo", ["copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false", `oci:${path.join(dir, item.path)}:${LAYOUT_REFERENCE}`, `docker://${reference}`], { what: destination });
                            record("loaded", destination, "image", item.size);
                        } catch (error) {
                            record("failed", `${destination}: ${(error as Error).message}`, "image", 0);
                        }
                    }
                }
                for (const item of charts) loadChart(session, dir, item, targets.chartsUrl, work, record);
                loadFiles(`${host.name}: `, placed.get(targets.filesHost) ?? [], work, record, {
                    hashes: (relatives) => session.ssh(`python3 -c ${shellQuote(HASH_SCRIPT)} ${shellQuote(host.filesRoot)}`, relatives.join("\0")),
                    write: (staging) => session.untar(staging, host.filesRoot),
                });
            } finally {
                session.close();
            }
        }
        for (const [webHost, files] of placed) {
            if (webHost === targets.filesHost) continue;
            if (options.mirrorRoot === undefined) {
                report.elsewhere.push(...files.filter((file) => typeof file.from === "string").map((file) => `http://${webHost}/${file.relative}`));
                continue;
            }
            const root = options.mirrorRoot;
            loadFiles("", files, work, record, {
                hashes: (relatives) => runTool("python3", ["-c", HASH_SCRIPT, root], { input: relatives.join("\0"), what: `hashing under ${root}` }),
                write: (staging) => runTool("bash", ["-o", "pipefail", "-c", `tar ${tarArgs(staging).map(shellQuote).join(" ")} | tar -x -m --no-same-owner --no-overwrite-dir -C ${shellQuote(root)}`], { what: `writing under ${root}` }),
            });
        }
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
    return report;
}

type Recorder = (outcome: "loaded" | "present" | "failed", what: string, kind: string, bytes: number) => void;

/** Writes the files a root lacks or holds with other content, in one tar; leaves the others alone. */
function loadFiles(prefix: string, files: readonly Placed[], work: string, record: Recorder, at: { hashes: (relatives: string[]) => string; write: (staging: string) => void }): void {
    if (files.length === 0) return;
    const there = parseHashes(at.hashes(files.map((file) => file.relative)));
    const missing = files.filter((file) => there.get(file.relative) !== file.sha256);
    for (const file of files.filter((f) => !missing.includes(f))) record("present", `${prefix}${file.relative}`, "file", 0);
    if (missing.length === 0) return;
    const size = (file: Placed) => (typeof file.from === "string" ? fs.statSync(file.from).size : Buffer.byteLength(file.from.content));
    try {
        at.write(stage(work, missing));
        for (const file of missing) record("loaded", `${prefix}${file.relative}`, "file", size(file));
    } catch (error) {
        for (const file of missing) record("failed", `${prefix}${file.relative}: ${(error as Error).message}`, "file", 0);
    }
}

/**
 * A chart to both endpoints of one VM: the registry (helm push through the tunnel, left alone when
 * the tag's layer is this package already) and the classic repository (this VM's index merged with
 * the package, left alone when the index has this version with this digest).
 */
function loadChart(session: VmSession, dir: string, item: HeldItem, chartsUrl: string, work: string, record: Recorder): void {
    const { chart, version } = chartReference(item.destination);
    const helmHome = path.join(work, "helm");
    const env = { ...process.env, HELM_CONFIG_HOME: path.join(helmHome, "config"), HELM_CACHE_HOME: path.join(helmHome, "cache"), HELM_DATA_HOME: path.join(helmHome, "data"), HELM_REGISTRY_CONFIG: path.join(helmHome, "registry.json") };
    const helm = (args: string[], what: string) => {
        const result = spawnSync(helmBinary(), args, { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"] });
        if (result.status !== 0) throw new Error(`${what}: helm ${args[0]} failed: ${result.stderr.trim()}`);
    };
    const name = `${session.host.name}: oci://${session.host.registry}/charts/${chart}:${version}`;
    const raw = registryManifest(`${session.registry}/charts/${chart}:${version}`);
    const layers = raw === undefined ? [] : ((JSON.parse(raw) as { layers?: { digest: string }[] }).layers ?? []);
    if (layers.some((layer) => layer.digest === `sha256:${item.sha256}`)) record("present", name, "chart", 0);
    else {
        try {
            helm(["push", path.join(dir, item.path), `oci://${session.registry}/charts`, "--plain-http"], name);
            record("loaded", name, "chart", item.size);
        } catch (error) {
            record("failed", `${name}: ${(error as Error).message}`, "chart", 0);
        }
    }

    const classic = `${session.host.name}: ${chartsUrl}/${chart}-${version}.tgz`;
    try {
        const root = session.host.chartsRoot;
        const published = session.ssh(`cat ${shellQuote(`${root}/index.yaml`)} 2>/dev/null || true`);
        const index = (YAML.parse(published) ?? {}) as { entries?: Record<string, { version: string; digest?: string }[]> };
        if (index.entries?.[chart]?.some((entry) => entry.version === version && entry.digest === item.sha256)) {
            record("present", classic, "chart", 0);
            return;
        }
        const repo = fs.mkdtempSync(path.join(work, "repo-"));
        fs.writeFileSync(path.join(work, "published-index.yaml"), published === "" ? YAML.stringify({ apiVersion: "v1", entries: {} }) : published);
        fs.copyFileSync(path.join(dir, item.path), path.join(repo, `${chart}-${version}.tgz`));
        helm(["repo", "index", repo, "--url", chartsUrl, "--merge", path.join(work, "published-index.yaml")], classic);
        session.untar(repo, root);
        record("loaded", classic, "chart", item.size);
    } catch (error) {
        record("failed", `${classic}: ${(error as Error).message}`, "chart", 0);
    }
}

/**
 * Loads the bundle in `dir` for `stack` (the stack file's configuration, or `offline`): refused
 * unless it is a bundle of this stack that holds exactly the stack's own list (BundleRefused).
 */
export async function loadForStack(options: {
    readonly stack: string;
    readonly dir: string;
    readonly access: LoadAccess;
    readonly mirrorRoot?: string;
    readonly offline?: OfflineConfig;
    readonly progress: Progress;
}): Promise<LoadReport> {
    const { stack, dir } = options;
    const manifest = readManifest(dir);
    if (manifest.stack !== stack) throw new BundleRefused(`${dir} is a bundle of ${manifest.stack}, not ${stack}: nothing was loaded`);
    const { plan, files } = await renderedStack(stack, options.offline ?? loadOfflineConfig(stack));
    const list = stackListForBundle(plan, files, dir, manifest);
    if (list === undefined) {
        throw new BundleRefused(`${dir} holds no Kubespray release ${plan.cluster.kubernetes.kubespraySource.url} (or holds it at an unsafe place), so the stack's list cannot be read from it: nothing was loaded`);
    }
    return loadBundle({ dir, manifest, list, access: options.access, ...(options.mirrorRoot === undefined ? {} : { mirrorRoot: options.mirrorRoot }), progress: options.progress });
}

/** The load's outcome as `npm run bundle:load` prints it. */
export function reportLines(report: LoadReport, access: LoadAccess, progress: Progress): string[] {
    return [
        `\nLoaded ${report.loaded.length}, already present ${report.present.length}, failed ${report.failed.length} (${access.targets.hosts.map((host) => host.name).join(", ")})`,
        ...progress.summary(),
        ...report.failed.map((failure) => `  failed: ${failure}`),
        ...(report.elsewhere.length === 0
            ? []
            : [`Not loaded: ${report.elsewhere.length} file(s) of the datacenter mirror; give its web root with --mirror-root, or copy them there:`, ...report.elsewhere.map((url) => `  ${url}`)]),
    ];
}
