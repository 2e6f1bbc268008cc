// Whether a bundle may be loaded for a stack, decided before anything is written: it holds exactly
// the stack's own list (every item, with the content the stack pins, and nothing the stack does not
// list), each item whole, and every place it names stays inside the folder it belongs to.
import * as fs from "fs";
import * as path from "path";
import type { StackPlan } from "../plan";
import { kubesprayDownloads, renderedGroupVars, withKubespray, type KubesprayDownloads } from "./kubespray";
import { requirementProject } from "./layout";
import { bundleList, type BundleItem } from "./list";
import { itemKey, missingFromBundle, type Manifest } from "./manifest";
import { verifyBundle } from "./verify";

/** What Kubespray downloads for the stack, read from the Kubespray release the bundle holds. */
export function kubesprayOfBundle(plan: StackPlan, files: ReadonlyMap<string, string>, dir: string, manifest: Manifest): KubesprayDownloads | undefined {
    const tarball = manifest.items.find((item) => item.destination === plan.cluster.kubernetes.kubespraySource.url);
    if (tarball === undefined || pathProblem(dir, tarball.path) !== undefined) return undefined;
    return withKubespray(path.join(dir, tarball.path), (release) => kubesprayDownloads(release, renderedGroupVars(files)));
}

/** The stack's own list, with Kubespray's downloads from the bundle's release; undefined without one. */
export function stackListForBundle(plan: StackPlan, files: ReadonlyMap<string, string>, dir: string, manifest: Manifest): BundleItem[] | undefined {
    const kubespray = kubesprayOfBundle(plan, files, dir, manifest);
    return kubespray === undefined ? undefined : bundleList(plan, files, kubespray);
}

/**
 * Why a place inside the bundle is not one: absolute, with `.` or `..` segments, backslashes or
 * NULs, or leading outside `dir` through a link.
 */
function pathProblem(dir: string, relative: string): string | undefined {
    if (path.posix.isAbsolute(relative) || relative.includes("\\") || relative.includes("\0")) return "is not a relative path inside the bundle";
    if (relative.split("/").some((segment) => segment === ".." || segment === "." || segment === "")) return "has empty, . or .. segments";
    const where = path.join(dir, relative);
    if (!fs.existsSync(where)) return undefined; // verifyBundle names a missing item
    const root = fs.realpathSync(dir);
    const real = fs.realpathSync(where);
    return real === root || real.startsWith(`${root}${path.sep}`) ? undefined : `leads outside the bundle (${real})`;
}

/**
 * Why a destination URL could write elsewhere than its path says: a percent-encoded `/`, `\`, `.`
 * or NUL, or `.` and `..` segments once decoded (the loader writes the decoded path).
 */
function destinationProblem(destination: string): string | undefined {
    let url: URL;
    try {
        url = new URL(destination);
    } catch {
        return undefined; // images and charts name no URL path the loader writes
    }
    if (/%(2f|5c|2e|00)/i.test(url.pathname)) return "has a percent-encoded /, \\, . or NUL in its path";
    let decoded: string;
    try {
        decoded = decodeURIComponent(url.pathname);
    } catch {
        return "has a malformed percent-encoding in its path";
    }
    return decoded.split("/").some((segment) => segment === ".." || segment === ".") ? "has . or .. segments in its path" : undefined;
}

/**
 * Every reason not to load this bundle for the stack, one line each: what the list needs that the
 * bundle lacks or holds with other content, what the bundle holds that the list does not, damaged
 * items, and places that lead elsewhere. Empty when it may be loaded.
 */
export function admissionProblems(list: readonly BundleItem[], manifest: Manifest, dir: string): string[] {
    const listed = new Set(list.map(itemKey));
    // pip's one resolution brings the requirements' dependencies, each held under its own name and
    // version at the stack's index (fill.ts, fetchPython): those are the stack's too.
    const index = list.find((item) => item.kind === "python")?.destination;
    const dependency = (item: Manifest["items"][number]) => {
        const pinned = /^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9][A-Za-z0-9.+!_-]*)$/.exec(item.source);
        return item.kind === "python" && index !== undefined && pinned !== null && item.destination === new URL(`../${requirementProject(item.source)}/`, index).href;
    };
    const places = manifest.items.flatMap((item) => {
        const inBundle = pathProblem(dir, item.path);
        const destination = item.kind === "file" || item.kind === "in-house" || item.kind === "python" ? destinationProblem(item.destination) : undefined;
        return [
            ...(inBundle === undefined ? [] : [`unsafe path: ${item.path} ${inBundle}`]),
            ...(destination === undefined ? [] : [`unsafe destination: ${item.destination} ${destination}`]),
        ];
    });
    // An item whose place is unsafe is not read: its content is judged only once the places are sound.
    const damaged = places.length > 0 ? [] : verifyBundle(dir, manifest).map((problem) => `damaged: ${problem}`);
    return [
        ...places,
        ...missingFromBundle(list, manifest),
        ...manifest.items.filter((item) => !listed.has(itemKey(item)) && !dependency(item)).map((item) => `not in the stack's list: ${itemKey(item)}`),
        ...damaged,
    ];
}
