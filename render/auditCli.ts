// npm run audit -- <stack>: lists every reference to a host outside the contour (exit 1 if any),
// then what must be mirrored for the stack.
import { ConfigError } from "../config/problems";
import { readPlan } from "../plan";
import { auditFiles, firstBootFindings, mirrorList } from "./audit";
import { renderStack } from "./render";
import { loadOfflineConfig, listStacks } from "./stackConfig";

async function main(stack: string | undefined): Promise<number> {
    if (stack === undefined) {
        console.error(`usage: npm run audit -- <stack>   (stacks: ${listStacks().join(", ")})`);
        return 2;
    }
    const offline = loadOfflineConfig(stack);
    const result = await renderStack(stack, offline);
    for (const warning of result.run.warnings) {
        console.warn(`warning: ${warning}`);
    }
    // The render left the stack's configuration in the runtime: plan it as the program does.
    const { plan } = readPlan();
    const findings = [...auditFiles(result.files, plan.internalDomains), ...firstBootFindings(result.files)];
    console.log(`Air-gap audit of ${stack}: ${result.files.size} files, ${findings.length} reference(s) outside the contour`);
    for (const finding of findings) {
        console.log(`  out/${stack}/${finding.file}:${finding.line}: ${finding.host}  (${finding.text})`);
    }
    const mirrors = mirrorList(plan, result.files);
    console.log("\nTo mirror before `pulumi up`:");
    console.log(`  OS image: ${mirrors.osImage}`);
    console.log("  Files:");
    for (const file of mirrors.files) console.log(`    ${file}`);
    console.log("  Charts:");
    for (const chart of mirrors.charts) console.log(`    ${chart}`);
    console.log("  Images:");
    for (const image of mirrors.images) console.log(`    ${image}`);
    console.log("  Python packages (internal PyPI):");
    for (const item of mirrors.pythonPackages) console.log(`    ${item}`);
    console.log("  SHA256SUMS of the pinned files (sha256sum -c, in the mirror's web root):");
    for (const line of mirrors.sha256sums) console.log(`    ${line}`);
    return findings.length === 0 ? 0 : 1;
}

main(process.argv[2]).then(
    (code) => process.exit(code),
    (error: unknown) => {
        console.error(error instanceof ConfigError ? error.message : error);
        process.exit(2);
    },
);
