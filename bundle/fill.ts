// Fills a bundle directory with the stack's list, on a machine that reaches the public sources:
// files with curl (resumed where a download stopped), images with skopeo as OCI layouts, the
// argo-cd chart from its repository, the runner's Python as wheels with pip. Each item is checked
// against what vouches for it (the stack's pin, an upstream checksum, a registry digest, the chart
// repository's index) before it enters manifest.json, which is rewritten after every item: a run
// stopped halfway resumes where it stopped, and a second run fetches nothing.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import type { StackPlan } from "../plan";
import { kubesprayDownloads, renderedGroupVars, withKubespray } from "./kubespray";
import { chartReference, itemPath, requirementProject, wheelPath, wheelProject } from "./layout";
import { bundleList, destinationClashes, type BundleItem } from "./list";
import { itemKey as key, MANIFEST, readManifest, writeManifest, type HeldItem, type Manifest } from "./manifest";
import { Progress } from "./progress";
import { runTool } from "./tools";
import { ociImage, problemOf, sha256File } from "./verify";
import { buildRelease } from "../dns/release/recipe";
import { ROOT } from "../render/stackConfig";

/** The in-house file `name`, built by the project's recipe (the synrc/ns release is the only one). */
function builtInHouse(name: string): string {
    const built = buildRelease(ROOT);
    return path.join(built.dir, name);
}

export interface FillOptions {
    readonly stack: string;
    readonly plan: StackPlan;
    readonly files: ReadonlyMap<string, string>;
    /** The bundle directory (made when absent; a bundle already there is resumed). */
    readonly out: string;
    /** The PyPI simple index the wheels come from. */
    readonly pypiIndex: string;
    /**
     * A folder holding the in-house items by file name (the synrc/ns release); without it, the
     * project's recipe builds the release (npm run synrc-ns) from the pinned sources.
     */
    readonly inHouse?: string;
    readonly progress: Progress;
}

export interface FillResult {
    readonly manifest: Manifest;
    readonly fetched: number;
    readonly present: number;
    readonly failed: readonly string[];
}

/** The OCI layout's one reference: each image has a layout of its own. */
export const LAYOUT_REFERENCE = "image";

/**
 * Where the runner's Python runs: Ubuntu 24.04's python3 (3.12) on glibc 2.39, x86_64. pip matches
 * platform tags exactly (pip/_internal/utils/compatibility_tags.py expands only manylinux2014 and
 * 2010), so every manylinux_2_N tag up to 2.39 is named.
 */
const RUNNER_PYTHON = ["--python-version", "3.12", "--implementation", "cp", "--abi", "cp312", "--abi", "abi3", "--abi", "none"];
const RUNNER_PLATFORMS = ["manylinux2014_x86_64", ...Array.from({ length: 39 - 17 + 1 }, (_, i) => `manylinux_2_${17 + i}_x86_64`)];

/** Downloads a URL into a file with curl: resumed from a partial download, retried on transient errors. */
function download(url: string, target: string, progress: Progress): void {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const partial = `${target}.part`;
    const args = ["--fail", "--location", "--show-error", "--retry", "3", "--connect-timeout", "30", "--output", partial, url];
    const resume = fs.existsSync(partial) ? ["--continue-at", "-"] : [];
    runTool("curl", [...(progress.interactive ? ["--progress-bar"] : ["--silent"]), ...resume, ...args], { what: url, showProgress: progress.interactive });
    fs.renameSync(partial, target);
}

function fetchText(url: string, progress: Progress): string {
    return runTool("curl", ["--fail", "--location", "--silent", "--show-error", "--retry", "3", url], { what: url });
}

/**
 * The checksum the file's publisher gives beside it, when there is one: Canonical's SHA256SUMS in
 * the cloud image's folder, the `.sha256` file dl.k8s.io serves beside each Kubernetes binary.
 * Kubespray checks every file it downloads from the files area against its own pins again
 * (roles/download/tasks/download_file.yml at v2.28.0: get_url with download.checksum).
 */
function upstreamChecksum(source: string, progress: Progress): { sha256: string; by: string } | undefined {
    const url = new URL(source);
    if (url.hostname === "cloud-images.ubuntu.com") {
        const sums = new URL("SHA256SUMS", url).href;
        const name = path.posix.basename(url.pathname);
        const line = fetchText(sums, progress)
            .split("\n")
            .map((entry) => entry.trim().split(/\s+\*?/))
            .find(([, file]) => file === name);
        if (line === undefined) throw new Error(`${sums} has no line for ${name}`);
        return { sha256: line[0] as string, by: sums };
    }
    if (url.hostname === "dl.k8s.io") {
        return { sha256: fetchText(`${source}.sha256`, progress).trim().split(/\s+/)[0] as string, by: `${source}.sha256` };
    }
    return undefined;
}

type Held = Omit<HeldItem, "kind" | "source" | "destination">;

function fetchFile(out: string, item: BundleItem, options: FillOptions): Held {
    const relative = itemPath(item);
    const target = path.join(out, relative);
    if (item.kind === "in-house") {
        const name = path.posix.basename(new URL(item.destination).pathname);
        const from = options.inHouse === undefined ? builtInHouse(name) : path.join(options.inHouse, name);
        if (!fs.existsSync(from)) throw new Error(`${item.destination} is built in-house: ${options.inHouse === undefined ? `npm run synrc-ns makes no ${name}` : `${options.inHouse} holds no ${name}`}`);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.copyFileSync(from, target);
    } else {
        download(item.source, target, options.progress);
    }
    const sha256 = sha256File(target);
    const expected = [
        ...(item.checksum === undefined ? [] : [{ sha256: item.checksum.replace(/^sha256:/, ""), by: "the stack's pin" }]),
        ...(item.kind === "file" ? [upstreamChecksum(item.source, options.progress)].filter((c) => c !== undefined) : []),
    ];
    for (const { sha256: wanted, by } of expected) {
        if (wanted !== sha256) {
            fs.rmSync(target);
            throw new Error(`${item.source} has sha256 ${sha256}, ${by} says ${wanted}: not taken into the bundle`);
        }
    }
    return { path: relative, size: fs.statSync(target).size, sha256, verified: expected.map((e) => e.by).join(", ") || "none published" };
}

function fetchImage(out: string, item: BundleItem, options: FillOptions): Held {
    const relative = itemPath(item);
    const layout = path.join(out, relative);
    fs.rmSync(layout, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(layout), { recursive: true });
    // One platform, the VMs' (linux/amd64), picked from a multi-platform index; skopeo checks every
    // blob against its digest as it copies (and the manifest too when the source names a digest).
    runTool("skopeo", ["copy", "--retry-times", "3", "--override-os", "linux", "--override-arch", "amd64", `docker://${item.source}`, `oci:${layout}:${LAYOUT_REFERENCE}`], {
        what: item.source,
        showProgress: options.progress.interactive,
    });
    const image = ociImage(layout);
    return { path: relative, size: image.size, sha256: image.manifestSha256, verified: "the registry's digests (skopeo)" };
}

function fetchChart(out: string, item: BundleItem, options: FillOptions): Held {
    const { repository, chart, version } = chartReference(item.source);
    const base = repository.replace(/\/*$/, "/");
    const index = YAML.parse(fetchText(new URL("index.yaml", base).href, options.progress)) as { entries?: Record<string, { version: string; urls: string[]; digest?: string }[]> };
    const entry = index.entries?.[chart]?.find((candidate) => candidate.version === version);
    if (entry === undefined || entry.urls[0] === undefined) throw new Error(`${base}index.yaml has no ${chart} ${version}`);
    const relative = itemPath(item);
    const target = path.join(out, relative);
    download(new URL(entry.urls[0], base).href, target, options.progress);
    const sha256 = sha256File(target);
    if (entry.digest !== sha256) {
        fs.rmSync(target);
        throw new Error(`${chart}-${version}.tgz has sha256 ${sha256}, ${base}index.yaml says ${entry.digest ?? "nothing"}: not taken into the bundle`);
    }
    return { path: relative, size: fs.statSync(target).size, sha256, verified: `${base}index.yaml` };
}

/** An index URL as it may be written down: without a user name or password in it. */
function withoutCredentials(url: string): string {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.href;
}

/**
 * pip reads the index it is given and nothing else: no configuration file (PIP_CONFIG_FILE set to
 * the null device loads none, pip's configuration docs) and no PIP_* setting from the environment,
 * which could add a find-links or an extra index; PIP_CERT stays, for a transfer host's own CA.
 */
function pipEnvironment(): NodeJS.ProcessEnv {
    const kept = Object.entries(process.env).filter(([name]) => !name.startsWith("PIP_") || name === "PIP_CERT");
    return { ...Object.fromEntries(kept), PIP_CONFIG_FILE: os.devNull };
}

/**
 * The wheels of every requirement at once (one resolution, as the runner's pip makes it), for the
 * runner's Python. Each wheel is an item: under the requirement that names its project, or under
 * its own name and version when it is a dependency.
 */
function fetchPython(out: string, items: readonly BundleItem[], options: FillOptions): HeldItem[] {
    const fresh = path.join(out, "python.new");
    fs.rmSync(fresh, { recursive: true, force: true });
    const requirements = items.map((item) => item.source);
    runTool(
        "python3",
        ["-m", "pip", "download", "--disable-pip-version-check", "--no-cache-dir", "--quiet", "--only-binary=:all:", ...RUNNER_PYTHON, ...RUNNER_PLATFORMS.flatMap((p) => ["--platform", p]), "--index-url", options.pypiIndex, "--dest", fresh, ...requirements],
        { what: `pip download ${requirements.join(" ")}`, showProgress: options.progress.interactive, env: pipEnvironment() },
    );
    fs.rmSync(path.join(out, "python"), { recursive: true, force: true });
    fs.renameSync(fresh, path.join(out, "python"));
    const byProject = new Map(items.map((item) => [requirementProject(item.source), item]));
    const index = new URL((items[0] as BundleItem).destination);
    return fs
        .readdirSync(path.join(out, "python"))
        .sort()
        .map((wheel): HeldItem => {
            const { project, version } = wheelProject(wheel);
            const named = byProject.get(project);
            const relative = wheelPath(wheel);
            return {
                kind: "python",
                source: named?.source ?? `${project}==${version}`,
                destination: named?.destination ?? new URL(`../${project}/`, index).href,
                path: relative,
                size: fs.statSync(path.join(out, relative)).size,
                sha256: sha256File(path.join(out, relative)),
                verified: `the index's sha256 (pip, ${withoutCredentials(options.pypiIndex)})`,
            };
        });
}

export function fillBundle(options: FillOptions): FillResult {
    const { out, plan, progress } = options;
    fs.mkdirSync(out, { recursive: true });
    const previous = fs.existsSync(path.join(out, MANIFEST)) ? readManifest(out) : undefined;
    if (previous !== undefined && previous.stack !== options.stack) throw new Error(`${out} is a bundle of ${previous.stack}, not ${options.stack}: give another --out`);
    const held = new Map<string, HeldItem>((previous?.items ?? []).map((item) => [`${key(item)} ${item.path}`, item]));
    const save = () => writeManifest(out, { stack: options.stack, items: [...held.values()].sort((a, b) => a.path.localeCompare(b.path)) });
    const failed: string[] = [];
    let fetched = 0;
    let present = 0;

    /** Takes one item: left as it is when the bundle holds it whole, fetched otherwise. */
    const take = (item: BundleItem, fetch: () => Held): boolean => {
        const have = held.get(`${key(item)} ${itemPath(item)}`);
        progress.start(item);
        if (have !== undefined && problemOf(out, have) === undefined) {
            present += 1;
            progress.done(item, have.size, "present");
            return true;
        }
        try {
            const result = fetch();
            held.set(`${key(item)} ${result.path}`, { kind: item.kind, source: item.source, destination: item.destination, ...result });
            save();
            fetched += 1;
            progress.done(item, result.size, "fetched");
            return true;
        } catch (error) {
            failed.push(`${key(item)}: ${(error as Error).message}`);
            progress.done(item, 0, "failed");
            return false;
        }
    };

    // The Kubespray release first: the rest of the list is read from it.
    const kubesprayUrl = plan.cluster.kubernetes.kubespraySource.url;
    const bootstrap = bundleList(plan, options.files, { files: [], images: [], pythonRequirements: [] });
    const kubesprayItem = bootstrap.find((item) => item.destination === kubesprayUrl) as BundleItem;
    if (!take(kubesprayItem, () => fetchFile(out, kubesprayItem, options))) return { manifest: readManifestOr(out, options.stack), fetched, present, failed };
    const tarball = path.join(out, itemPath(kubesprayItem));
    const kubespray = withKubespray(tarball, (dir) => kubesprayDownloads(dir, renderedGroupVars(options.files)));
    const list = bundleList(plan, options.files, kubespray);
    const clashes = destinationClashes(list);
    if (clashes.length > 0) throw new Error(`two sources for one place in the contour:\n${clashes.map((c) => `  ${c}`).join("\n")}`);

    // What an earlier list held and this one does not leaves the bundle.
    const wanted = new Set(list.map(key));
    for (const [id, item] of held) {
        if (item.kind === "python" || wanted.has(key(item))) continue;
        held.delete(id);
        fs.rmSync(path.join(out, item.path), { recursive: true, force: true });
    }
    save();

    const python = list.filter((item) => item.kind === "python");
    // Every item but the wheels, which are one download: the Kubespray release is the first of them.
    progress.begin(list.length - python.length + (python.length > 0 ? 1 : 0));
    for (const item of list) {
        if (item.kind === "python" || item.destination === kubesprayUrl) continue;
        take(item, () => (item.kind === "image" ? fetchImage(out, item, options) : item.kind === "chart" ? fetchChart(out, item, options) : fetchFile(out, item, options)));
    }
    if (python.length > 0) {
        // The wheels are one resolution: taken again whole unless every requirement is held whole.
        const wheels = [...held.values()].filter((item) => item.kind === "python");
        const whole = python.every((item) => wheels.some((w) => key(w) === key(item))) && wheels.every((w) => problemOf(out, w) === undefined);
        const summary: BundleItem = { kind: "python", source: python.map((item) => item.source).join(" "), destination: python[0]?.destination ?? "", reason: "the runner's Python" };
        progress.start(summary);
        if (whole) {
            present += 1;
            progress.done(summary, wheels.reduce((sum, w) => sum + w.size, 0), "present");
        } else {
            try {
                for (const wheel of wheels) held.delete(`${key(wheel)} ${wheel.path}`);
                for (const wheel of fetchPython(out, python, options)) held.set(`${key(wheel)} ${wheel.path}`, wheel);
                save();
                fetched += 1;
                progress.done(summary, [...held.values()].filter((w) => w.kind === "python").reduce((sum, w) => sum + w.size, 0), "fetched");
            } catch (error) {
                failed.push(`${key(summary)}: ${(error as Error).message}`);
                progress.done(summary, 0, "failed");
            }
        }
    }
    save();
    return { manifest: readManifest(out), fetched, present, failed };
}

function readManifestOr(out: string, stack: string): Manifest {
    return fs.existsSync(path.join(out, MANIFEST)) ? readManifest(out) : { stack, items: [] };
}
