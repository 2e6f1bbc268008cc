// npm run audit -- <stack> [--kubespray DIR] [--bundle DIR]: lists every reference to a host outside
// the contour (exit 1 if any), then what must be mirrored for the stack. With an extracted Kubespray
// release, or a bundle (whose Kubespray tarball is used), the exact list of the contour bundle; with
// a bundle, what the bundle lacks of it (exit 1 if anything).
import * as fs from "fs";
import * as path from "path";
import { option } from "../bundle/cliOptions";
import { admissionProblems, kubesprayOfBundle } from "../bundle/admit";
import { kubesprayDownloads, renderedGroupVars, type KubesprayDownloads } from "../bundle/kubespray";
import { bundleList, destinationClashes } from "../bundle/list";
import { readManifest } from "../bundle/manifest";
import { renderedStack } from "../bundle/stack";
import { auditFiles, firstBootFindings, mirrorList } from "./audit";
import { listStacks } from "./stackConfig";

async function main(argv: readonly string[]): Promise<number> {
    const stack = argv[0];
    const kubesprayDir = option(argv, "--kubespray");
    const bundleDir = option(argv, "--bundle");
    if (stack === undefined || stack.startsWith("-")) {
        console.error(`usage: npm run audit -- <stack> [--kubespray <extracted release>] [--bundle <dir>]   (stacks: ${listStacks().join(", ")})`);
        return 2;
    }
    if (kubesprayDir !== undefined && !fs.existsSync(path.join(kubesprayDir, "contrib", "offline", "generate_list.sh"))) {
        console.error(`--kubespray ${kubesprayDir}: there is no contrib/offline/generate_list.sh in it; give the folder of an extracted Kubespray release (kubespray-<version>/)`);
        return 2;
    }
    const { plan, files, warnings } = await renderedStack(stack);
    for (const warning of warnings) {
        console.warn(`warning: ${warning}`);
    }
    const findings = [...auditFiles(files, plan.internalDomains), ...firstBootFindings(files)];
    console.log(`Air-gap audit of ${stack}: ${files.size} files, ${findings.length} reference(s) outside the contour`);
    for (const finding of findings) {
        console.log(`  out/${stack}/${finding.file}:${finding.line}: ${finding.host}  (${finding.text})`);
    }
    const mirrors = mirrorList(plan, files);
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
    if (kubesprayDir === undefined && bundleDir === undefined) return findings.length === 0 ? 0 : 1;

    // The exact list: Kubespray's own, from the release given or the one in the bundle.
    const groupVars = renderedGroupVars(files);
    const manifest = bundleDir === undefined ? undefined : readManifest(bundleDir);
    let kubespray: KubesprayDownloads;
    if (kubesprayDir !== undefined) kubespray = kubesprayDownloads(kubesprayDir, groupVars);
    else {
        const fromBundle = bundleDir === undefined || manifest === undefined ? undefined : kubesprayOfBundle(plan, files, bundleDir, manifest);
        if (fromBundle === undefined) {
            console.log(`\nThe bundle holds no Kubespray release (${plan.cluster.kubernetes.kubespraySource.url}): its downloads cannot be listed; give one with --kubespray`);
            return 1;
        }
        kubespray = fromBundle;
    }
    const list = bundleList(plan, files, kubespray);
    console.log(`\nThe contour bundle of ${stack}: ${list.length} items`);
    for (const item of list) console.log(`  ${item.kind.padEnd(8)} ${item.source} -> ${item.destination}${item.checksum ? ` (${item.checksum})` : ""}`);
    const clashes = destinationClashes(list);
    for (const clash of clashes) console.log(`  clash: two sources for one place in the contour: ${clash}`);
    if (manifest === undefined) return findings.length === 0 && clashes.length === 0 ? 0 : 1;
    // What bundle:load checks before it writes anything: the same verdict.
    const missing = bundleDir === undefined ? [] : admissionProblems(list, manifest, bundleDir);
    console.log(`\nAgainst the bundle in ${bundleDir}: ${missing.length === 0 ? "nothing missing" : `${missing.length} problem(s), so bundle:load refuses it`}`);
    for (const line of missing) console.log(`  ${line}`);
    return findings.length === 0 && clashes.length === 0 && missing.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(2);
    },
);
