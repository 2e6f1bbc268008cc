// npm run render -- <stack>
import * as path from "path";
import { ConfigError } from "../config/problems";
import { diffRenders, renderAtRef } from "./diff";
import { renderStack, writeRender } from "./render";
import { listStacks, ROOT } from "./stackConfig";

async function main(argv: readonly string[]): Promise<number> {
    const stack = argv[0];
    if (stack === undefined || stack.startsWith("-")) {
        console.error(`usage: npm run render -- <stack>   (stacks: ${listStacks().join(", ")})`);
        return 2;
    }
    const diffIndex = argv.indexOf("--diff");
    const ref = diffIndex >= 0 ? argv[diffIndex + 1] : undefined;
    if (diffIndex >= 0 && (ref === undefined || ref.startsWith("-"))) {
        console.error("usage: npm run render -- <stack> --diff <git-ref>");
        return 2;
    }
    const result = await renderStack(stack);
    writeRender(result);
    for (const warning of result.run.warnings) {
        console.warn(`warning: ${warning}`);
    }
    if (ref !== undefined) {
        const changes = diffRenders(renderAtRef(stack, ref), result.files, ref);
        for (const change of changes) {
            console.log(change.patch);
        }
        console.log(`Artifacts of ${stack} changed since ${ref}: ${changes.length === 0 ? "none" : ""}`);
        for (const change of changes) {
            console.log(`  ${change.change.padEnd(8)} ${change.file}`);
        }
        return 0;
    }
    const where = path.relative(ROOT, result.outDir);
    console.log(`Rendered stack ${stack} offline into ${where}/ (${result.run.resources.length} resources, ${result.files.size} files):`);
    for (const file of result.files.keys()) {
        console.log(`  ${where}/${file}`);
    }
    if (result.placeholders.length > 0) {
        console.log(`Secrets shown as placeholders (not set, or encrypted for the stack): ${result.placeholders.join(", ")}`);
    }
    return 0;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
        // A configuration problem is the user's to fix: its message says how, a stack trace would not help.
        console.error(error instanceof ConfigError ? error.message : error);
        process.exit(1);
    },
);
