// Artifact diff: the stack rendered at a git ref against the working tree, file by file.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createTwoFilesPatch } from "diff";
import { ROOT } from "./stackConfig";

export interface FileChange {
    readonly file: string;
    readonly change: "added" | "removed" | "changed";
    readonly patch: string;
}

/** Renders `stack` as it was at `ref`, in a temporary git worktree that shares node_modules. */
export function renderAtRef(stack: string, ref: string): Map<string, string> {
    const worktree = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-ref-"));
    fs.rmdirSync(worktree);
    execFileSync("git", ["worktree", "add", "--detach", worktree, ref], { cwd: ROOT, stdio: "pipe" });
    try {
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(worktree, "node_modules"), "dir");
        execFileSync(process.execPath, [require.resolve("ts-node/dist/bin"), "render/cli.ts", stack], { cwd: worktree, stdio: "pipe" });
        return readTree(path.join(worktree, "out", stack));
    } finally {
        execFileSync("git", ["worktree", "remove", "--force", worktree], { cwd: ROOT, stdio: "pipe" });
    }
}

export function readTree(root: string, prefix = ""): Map<string, string> {
    const files = new Map<string, string>();
    for (const entry of fs.readdirSync(path.join(root, prefix), { withFileTypes: true })) {
        const relative = path.posix.join(prefix, entry.name);
        if (entry.isDirectory()) {
            for (const [file, content] of readTree(root, relative)) files.set(file, content);
        } else {
            files.set(relative, fs.readFileSync(path.join(root, relative), "utf8"));
        }
    }
    return files;
}

export function diffRenders(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>, label: string): FileChange[] {
    const files = [...new Set([...before.keys(), ...after.keys()])].sort();
    return files.flatMap((file): FileChange[] => {
        const old = before.get(file);
        const next = after.get(file);
        if (old === next) return [];
        const change = old === undefined ? "added" : next === undefined ? "removed" : "changed";
        return [{ file, change, patch: createTwoFilesPatch(`${label}/${file}`, `working-tree/${file}`, old ?? "", next ?? "", undefined, undefined, { context: 3 }) }];
    });
}
