// Runs the project's recipe for the synrc/ns release (build-synrc-ns.sh beside this file): for
// `npm run bundle` and the tests, which need the tarball the stacks pin.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { NS_TARBALL } from "../release";

export interface BuiltRelease {
    /** The recipe's output folder (the tarball, SHA256SUMS, build-info.json). */
    readonly dir: string;
    readonly tarball: string;
    readonly sha256: string;
}

/** The recipe's source, relative to the project's root (it is not compiled). */
export const RECIPE = path.join("dns", "release", "build-synrc-ns.sh");

/**
 * Builds the release (or finds it in the recipe's cache). The recipe's progress and the build-copy
 * changes it applies go to this process's stderr.
 */
export function buildRelease(root: string, options: { sources?: string; out?: string } = {}): BuiltRelease {
    const args = [path.join(root, RECIPE), ...(options.sources ? ["--sources", options.sources] : []), ...(options.out ? ["--out", options.out] : [])];
    const result = spawnSync("bash", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (result.error) throw result.error;
    if (result.status !== 0) throw new Error(`npm run synrc-ns failed (exit ${result.status}); its output is above`);
    const dir = result.stdout.trim().split("\n").pop() as string;
    const tarball = path.join(dir, NS_TARBALL);
    const sums = fs.readFileSync(path.join(dir, "SHA256SUMS"), "utf8");
    const sha256 = sums.split(/\s+/)[0] as string;
    return { dir, tarball, sha256 };
}
