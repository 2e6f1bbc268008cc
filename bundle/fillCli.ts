// npm run bundle -- <stack> --out DIR [--pypi URL] [--in-house DIR]: on a machine that reaches the
// public sources (or their mirrors on a transfer host), fills DIR with everything the stack needs
// from outside and its manifest.json. A bundle already in DIR is resumed: what it holds whole stays.
// Needs curl, skopeo, python3 with pip, tar and Ansible (Kubespray's own list runs ansible-playbook).
import { listStacks } from "../render/stackConfig";
import { option } from "./cliOptions";
import { fillBundle } from "./fill";
import { Progress } from "./progress";
import { renderedStack } from "./stack";

async function main(argv: readonly string[]): Promise<number> {
    const stack = argv[0];
    const out = option(argv, "--out");
    const pypiIndex = option(argv, "--pypi") ?? "https://pypi.org/simple/";
    const inHouse = option(argv, "--in-house");
    if (stack === undefined || stack.startsWith("-") || out === undefined) {
        console.error(`usage: npm run bundle -- <stack> --out <dir> [--pypi <simple index URL>] [--in-house <dir with the synrc/ns release; default: npm run synrc-ns builds it>]   (stacks: ${listStacks().join(", ")})`);
        return 2;
    }
    const { plan, files, warnings } = await renderedStack(stack);
    for (const warning of warnings) console.warn(`warning: ${warning}`);
    const progress = new Progress();
    const result = fillBundle({ stack, plan, files, out, pypiIndex, ...(inHouse === undefined ? {} : { inHouse }), progress });
    console.log(`\nThe bundle of ${stack} in ${out}: ${result.manifest.items.length} items held; ${result.fetched} fetched now, ${result.present} already there, ${result.failed.length} failed`);
    console.log(progress.summary().join("\n"));
    for (const failure of result.failed) console.log(`  failed: ${failure}`);
    if (result.failed.length > 0) console.log("Run the same command again to resume: what the bundle holds whole is kept.");
    return result.failed.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(2);
    },
);
