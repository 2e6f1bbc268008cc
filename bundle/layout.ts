// Where each item lives inside a bundle directory, and the Python index's names. Plain functions:
// the same item always has the same place, so a resumed or repeated run finds what it fetched.
import * as path from "path";
import type { BundleItem } from "./list";

/**
 * The item's place in the bundle, relative to its directory:
 * - files (and in-house files): `files/<destination host>/<destination path>`, so the tree under a
 *   host is what that host serves;
 * - images: an OCI layout per image, `images/<destination without the registry>` with `:`/`@` as `_`;
 * - charts: `charts/<chart>-<version>.tgz`, the name Helm gives a package;
 * - Python: the wheels of one download are under `python/` (see wheelPath).
 */
export function itemPath(item: Pick<BundleItem, "kind" | "destination">): string {
    switch (item.kind) {
        case "file":
        case "in-house": {
            const url = new URL(item.destination);
            return path.posix.join("files", url.host, decodeURIComponent(url.pathname));
        }
        case "image": {
            const [, ...repository] = item.destination.split("/");
            return path.posix.join("images", repository.join("/").replace(/[:@]/g, "_"));
        }
        case "chart": {
            const { chart, version } = chartReference(item.destination);
            return path.posix.join("charts", `${chart}-${version}.tgz`);
        }
        case "python":
            throw new Error("a Python requirement is held as its wheels: use wheelPath");
    }
}

export function wheelPath(wheelFile: string): string {
    return path.posix.join("python", wheelFile);
}

/** `<repository URL>#<chart>@<version>`, as the list writes a chart's source and destination. */
export function chartReference(reference: string): { repository: string; chart: string; version: string } {
    const match = /^(.+)#([^#@]+)@([^#@]+)$/.exec(reference);
    if (match === null) throw new Error(`${reference} is not <repository>#<chart>@<version>`);
    return { repository: match[1] as string, chart: match[2] as string, version: match[3] as string };
}

/** PEP 503's normalized project name: runs of -, _ and . become one -, lowercase. */
export function normalizedProject(name: string): string {
    return name.replace(/[-_.]+/g, "-").toLowerCase();
}

/** The project a requirement names (PEP 508: the name comes first, then extras, versions or markers). */
export function requirementProject(requirement: string): string {
    const match = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)/.exec(requirement);
    if (match === null) throw new Error(`${requirement} does not start with a project name (PEP 508)`);
    return normalizedProject(match[1] as string);
}

/** The project and version of a wheel by its file name (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, PEP 427). */
export function wheelProject(wheelFile: string): { project: string; version: string } {
    const parts = wheelFile.replace(/\.whl$/, "").split("-");
    if (!wheelFile.endsWith(".whl") || parts.length < 5 || parts.length > 6) throw new Error(`${wheelFile} is not a wheel's file name (PEP 427)`);
    return { project: normalizedProject(parts[0] as string), version: parts[1] as string };
}
