// npm run bundle:load -- <stack> DIR [--outputs FILE] [--mirror-root DIR]: inside the contour,
// verifies the bundle in DIR, then loads it into every infra VM of the stack (reached as the stack's
// outputs say: `pulumi stack output --json --show-secrets`, or that output saved in a file) and the
// datacenter mirror's files into --mirror-root. Ends with what was loaded, already there, or failed.
import { listStacks } from "../render/stackConfig";
import { option } from "./cliOptions";
import { loadBundle } from "./load";
import { readManifest } from "./manifest";
import { Progress } from "./progress";
import { readAccess } from "./targets";

async function main(argv: readonly string[]): Promise<number> {
    const [stack, dir] = argv;
    const outputs = option(argv, "--outputs");
    const mirrorRoot = option(argv, "--mirror-root");
    if (stack === undefined || dir === undefined || stack.startsWith("-") || dir.startsWith("-")) {
        console.error(`usage: npm run bundle:load -- <stack> <bundle dir> [--outputs <pulumi stack output --json --show-secrets, saved>] [--mirror-root <datacenter mirror's web root>]   (stacks: ${listStacks().join(", ")})`);
        return 2;
    }
    const manifest = readManifest(dir);
    if (manifest.stack !== stack) throw new Error(`${dir} is a bundle of ${manifest.stack}, not ${stack}`);
    const access = readAccess(stack, outputs);
    const progress = new Progress();
    const report = await loadBundle({ dir, manifest, access, ...(mirrorRoot === undefined ? {} : { mirrorRoot }), progress });
    console.log(`\nLoaded ${report.loaded.length}, already present ${report.present.length}, failed ${report.failed.length} (${access.targets.hosts.map((host) => host.name).join(", ")})`);
    console.log(progress.summary().join("\n"));
    for (const failure of report.failed) console.log(`  failed: ${failure}`);
    if (report.elsewhere.length > 0) {
        console.log(`Not loaded: ${report.elsewhere.length} file(s) of the datacenter mirror; give its web root with --mirror-root, or copy them there:`);
        for (const url of report.elsewhere) console.log(`  ${url}`);
    }
    return report.failed.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(2);
    },
);
