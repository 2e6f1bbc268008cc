// Where `npm run bundle:load` writes: the stack's `bundleTargets` output (what each infra VM is
// reached by and where its services keep their data) with its `sshPrivateKey` output. The loader
// reads them from `pulumi stack output --json --show-secrets`, or from a file holding that output.
import { spawnSync } from "child_process";
import * as fs from "fs";
import { z } from "zod";

const infraHost = z.strictObject({
    name: z.string().min(1),
    address: z.string().min(1),
    sshPort: z.number().int().positive(),
    user: z.string().min(1),
    /** The VM's SSH host key (OpenSSH public key): ssh accepts that key only. */
    hostKey: z.string().min(1),
    /** The registry's own address on the VM, behind nginx: reached through the SSH tunnel. */
    registry: z.string().min(1),
    chartsRoot: z.string().min(1),
    filesRoot: z.string().min(1),
});

const bundleTargets = z.strictObject({
    /** registry.<domain>: an image's destination names it first. */
    registryHost: z.string().min(1),
    /** https://charts.<domain>: the classic repository's index points at it. */
    chartsUrl: z.string().url(),
    /** files.<domain>: a file whose destination is on this host goes to every infra VM's files area. */
    filesHost: z.string().min(1),
    hosts: z.array(infraHost).min(1),
});

export type InfraHost = z.infer<typeof infraHost>;
export type BundleTargets = z.infer<typeof bundleTargets>;

export interface LoadAccess {
    readonly targets: BundleTargets;
    /** Secret: the admin key the program made (stack output sshPrivateKey). */
    readonly sshPrivateKey: string;
}

/** The two outputs the loader needs, from a stack's outputs as `pulumi stack output --json --show-secrets` prints them. */
export function accessFromOutputs(outputs: unknown, origin: string): LoadAccess {
    const shape = z.object({ bundleTargets, sshPrivateKey: z.string().min(1) });
    const parsed = shape.safeParse(outputs);
    if (!parsed.success) {
        throw new Error(
            `${origin} does not hold the stack outputs bundle:load needs (bundleTargets, sshPrivateKey: run \`pulumi up\` with this version first):\n${parsed.error.issues.map((issue) => `  - ${issue.path.join(".")}: ${issue.message}`).join("\n")}`,
        );
    }
    return { targets: parsed.data.bundleTargets, sshPrivateKey: parsed.data.sshPrivateKey };
}

/** The stack's outputs from a file, or from the Pulumi CLI (the state backend must be logged in). */
export function readAccess(stack: string, outputsFile: string | undefined): LoadAccess {
    if (outputsFile !== undefined) {
        let outputs: unknown;
        try {
            outputs = JSON.parse(fs.readFileSync(outputsFile, "utf8"));
        } catch (error) {
            throw new Error(`--outputs ${outputsFile}: ${(error as Error).message}; save it with \`pulumi stack output --stack ${stack} --json --show-secrets > <file>\``);
        }
        return accessFromOutputs(outputs, outputsFile);
    }
    const result = spawnSync("pulumi", ["stack", "output", "--stack", stack, "--json", "--show-secrets"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (result.error !== undefined || result.status !== 0) {
        throw new Error(`could not read the outputs of stack ${stack} with \`pulumi stack output\` (${result.error?.message ?? result.stderr.trim()}); log in to the state backend, or give them with --outputs <file>`);
    }
    return accessFromOutputs(JSON.parse(result.stdout), `the outputs of stack ${stack}`);
}
