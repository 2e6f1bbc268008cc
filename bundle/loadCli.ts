// npm run bundle:load -- <stack> DIR [--outputs FILE|-] [--mirror-root DIR]: inside the contour,
// checks that the bundle in DIR holds exactly the stack's own list (every item, with the content
// the stack pins, nothing else, each whole, every place inside its folder), then loads it into every
// infra VM of the stack (reached as the stack's outputs say: `pulumi stack output --json
// --show-secrets`, that output saved in a file, or `-` for standard input, as the program's
// bundle-load step gives them) and the datacenter mirror's files into --mirror-root. Ends with what
// was loaded, already there, or failed. A refused bundle exits 2 with nothing written.
import * as fs from "fs";
import { listStacks } from "../render/stackConfig";
import { option } from "./cliOptions";
import { loadForStack, reportLines } from "./load";
import { Progress } from "./progress";
import { accessFromOutputs, readAccess } from "./targets";

async function main(argv: readonly string[]): Promise<number> {
    const [stack, dir] = argv;
    const outputs = option(argv, "--outputs");
    const mirrorRoot = option(argv, "--mirror-root");
    if (stack === undefined || dir === undefined || stack.startsWith("-") || dir.startsWith("-")) {
        console.error(`usage: npm run bundle:load -- <stack> <bundle dir> [--outputs <pulumi stack output --json --show-secrets, saved; - for stdin>] [--mirror-root <datacenter mirror's web root>]   (stacks: ${listStacks().join(", ")})`);
        return 2;
    }
    const access = outputs === "-" ? accessFromOutputs(JSON.parse(fs.readFileSync(0, "utf8")), "standard input") : readAccess(stack, outputs);
    const progress = new Progress();
    const report = await loadForStack({ stack, dir, access, ...(mirrorRoot === undefined ? {} : { mirrorRoot }), progress });
    console.log(reportLines(report, access, progress).join("\n"));
    return report.failed.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(2);
    },
);
