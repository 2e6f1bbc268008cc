// What Kubespray downloads for a stack, from Kubespray itself: contrib/offline/generate_list.sh at
// the pinned tag renders its download templates (roles/kubespray_defaults/defaults/main/download.yml)
// with the stack's group_vars. Run once with the stack's versions alone it gives the upstream places;
// run again with the stack's offline settings too it gives the places inside the contour, line for
// line. The list covers every download Kubespray knows at that tag, enabled or not.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface Placed {
    /** Where it comes from: an upstream URL or image reference. */
    readonly source: string;
    /** Where the cluster takes it from inside the contour. */
    readonly destination: string;
}

export interface KubesprayDownloads {
    readonly files: readonly Placed[];
    readonly images: readonly Placed[];
    /** requirements.txt of the release: what its Ansible needs from PyPI. */
    readonly pythonRequirements: readonly string[];
}

/** The group_vars files of the stack's Kubespray inventory, by their path under group_vars/. */
export type GroupVars = Readonly<Record<string, string>>;

/** The offline settings (files_repo, the image repositories): left out of the upstream run. */
const OFFLINE_VARS = "all/offline.yml";

/**
 * Runs generate_list.sh of an extracted Kubespray release (`kubesprayDir`, left as it is: the
 * script writes into a copy) with the stack's group_vars.
 */
export function kubesprayDownloads(kubesprayDir: string, groupVars: GroupVars): KubesprayDownloads {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-kubespray-list-"));
    try {
        const copy = path.join(work, "kubespray");
        fs.cpSync(kubesprayDir, copy, { recursive: true });
        const varFiles = Object.entries(groupVars).map(([name, content]) => {
            const file = path.join(work, name.replace(/\//g, "_"));
            fs.writeFileSync(file, content);
            return { name, file };
        });
        const run = (withOffline: boolean) => {
            fs.rmSync(path.join(copy, "contrib", "offline", "temp"), { recursive: true, force: true });
            const extra = varFiles.filter((v) => withOffline || v.name !== OFFLINE_VARS).flatMap((v) => ["-e", `@${v.file}`]);
            const result = spawnSync("bash", [path.join(copy, "contrib", "offline", "generate_list.sh"), ...extra], { cwd: copy, encoding: "utf8" });
            if (result.status !== 0) throw new Error(`Kubespray's generate_list.sh failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
            const read = (list: string) => lines(fs.readFileSync(path.join(copy, "contrib", "offline", "temp", list), "utf8"));
            return { files: read("files.list"), images: read("images.list") };
        };
        const upstream = run(false);
        const inside = run(true);
        return {
            files: pair(upstream.files, inside.files, "files"),
            images: pair(upstream.images, inside.images, "images"),
            pythonRequirements: lines(fs.readFileSync(path.join(copy, "requirements.txt"), "utf8")).filter((line) => !line.startsWith("#")),
        };
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

function lines(text: string): string[] {
    return text
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "");
}

/** The two renders of one template, line for line; each pair once. */
function pair(upstream: readonly string[], inside: readonly string[], what: string): Placed[] {
    if (upstream.length !== inside.length) throw new Error(`Kubespray listed ${upstream.length} ${what} upstream but ${inside.length} inside the contour`);
    const seen = new Set<string>();
    const pairs: Placed[] = [];
    upstream.forEach((source, i) => {
        const destination = inside[i] as string;
        if (seen.has(`${source} ${destination}`)) return;
        seen.add(`${source} ${destination}`);
        pairs.push({ source, destination });
    });
    return pairs;
}

/** The group_vars of a stack's rendered Kubespray inventory (kubespray/inventory/group_vars/...). */
export function renderedGroupVars(files: ReadonlyMap<string, string>): GroupVars {
    const prefix = "kubespray/inventory/group_vars/";
    return Object.fromEntries([...files].filter(([file]) => file.startsWith(prefix)).map(([file, content]) => [file.slice(prefix.length), content]));
}

/** Unpacks a Kubespray release tarball (one top folder, as `git archive --prefix` makes it) and runs `use` on it. */
export function withKubespray<T>(tarball: string, use: (dir: string) => T): T {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-kubespray-"));
    try {
        const result = spawnSync("tar", ["-xzf", tarball, "-C", work], { encoding: "utf8" });
        if (result.status !== 0) throw new Error(`could not unpack ${tarball}: ${result.stderr}`);
        const [top, ...others] = fs.readdirSync(work);
        if (top === undefined || others.length > 0) throw new Error(`${tarball} should hold one folder (kubespray-<version>/), not ${[top, ...others].join(", ")}`);
        return use(path.join(work, top));
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}
