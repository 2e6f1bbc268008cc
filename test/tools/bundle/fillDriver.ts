// Runs `fillBundle` for a stack document of the test's own (production with the pins of the
// stand-in artifacts), inside the namespace the test maps the public names in. The same function
// `npm run bundle` runs; the CLI reads the stack file instead.
// Usage: ts-node fillDriver.ts <params.json>  ({stack, document, out, pypiIndex, inHouse?, result})
import * as fs from "fs";
import { fillBundle } from "../../../bundle/fill";
import { Progress } from "../../../bundle/progress";
import { renderedStack } from "../../../bundle/stack";
import { fromConfigMap } from "../../../render/stackConfig";

async function main(): Promise<void> {
    const params = JSON.parse(fs.readFileSync(process.argv[2] as string, "utf8")) as { stack: string; document: Record<string, unknown>; out: string; pypiIndex: string; inHouse?: string; result: string };
    const { plan, files } = await renderedStack(params.stack, fromConfigMap(params.document));
    const lines: string[] = [];
    const progress = new Progress(false, (line) => lines.push(line));
    const result = fillBundle({ stack: params.stack, plan, files, out: params.out, pypiIndex: params.pypiIndex, ...(params.inHouse === undefined ? {} : { inHouse: params.inHouse }), progress });
    fs.writeFileSync(params.result, JSON.stringify({ fetched: result.fetched, present: result.present, failed: result.failed, lines, summary: progress.summary() }));
}

main().then(
    () => process.exit(0),
    (error: unknown) => {
        console.error(error);
        process.exit(2);
    },
);
