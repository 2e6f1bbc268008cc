// Runs `loadForStack` for a stack document of the test's own (production with the pins of the
// stand-in artifacts), inside the namespace the test maps the contour's names in, and prints what
// `npm run bundle:load` prints. The same function the CLI runs; the CLI reads the stack file instead.
// Usage: ts-node loadDriver.ts <params.json>  ({stack, document, dir, outputs, mirrorRoot?})
import * as fs from "fs";
import { loadForStack, reportLines } from "../../../bundle/load";
import { Progress } from "../../../bundle/progress";
import { readAccess } from "../../../bundle/targets";
import { fromConfigMap } from "../../../render/stackConfig";

async function main(): Promise<number> {
    const params = JSON.parse(fs.readFileSync(process.argv[2] as string, "utf8")) as { stack: string; document: Record<string, unknown>; dir: string; outputs: string; mirrorRoot?: string };
    const access = readAccess(params.stack, params.outputs);
    const progress = new Progress();
    const report = await loadForStack({
        stack: params.stack,
        dir: params.dir,
        access,
        ...(params.mirrorRoot === undefined ? {} : { mirrorRoot: params.mirrorRoot }),
        offline: fromConfigMap(params.document),
        progress,
    });
    console.log(reportLines(report, access, progress).join("\n"));
    return report.failed.length === 0 ? 0 : 1;
}

main().then(
    (code) => process.exit(code),
    (error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(2);
    },
);
