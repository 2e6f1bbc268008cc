// How the bundle commands run their tools (curl, skopeo, pip, ssh, tar): synchronously, and a
// failure is an error naming what was being done and what the tool said.
import { spawnSync } from "child_process";

export interface ToolOptions {
    /** What is being done, for the error: an URL, an image, "infra2: SSH to ...". */
    readonly what: string;
    /** Fed to the tool's stdin (closed otherwise). */
    readonly input?: string;
    readonly env?: NodeJS.ProcessEnv;
    /** The tool draws on the terminal (its progress bars) instead of its stderr being kept for the error. */
    readonly showProgress?: boolean;
}

export function runTool(command: string, args: readonly string[], options: ToolOptions): string {
    const result = spawnSync(command, args, {
        encoding: "utf8",
        maxBuffer: 64 << 20,
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.input === undefined ? {} : { input: options.input }),
        stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", options.showProgress === true ? "inherit" : "pipe"],
    });
    if (result.error !== undefined) throw new Error(`${options.what}: could not run ${command}: ${result.error.message}`);
    if (result.status !== 0) throw new Error(`${options.what}: ${command} failed (exit ${result.status}): ${(result.stderr ?? "").trim() || (result.stdout ?? "").trim()}`);
    return result.stdout;
}
