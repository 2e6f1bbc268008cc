// npm run bench: what planning costs and what a plan does, in one run on this machine.
// 1. Render time, each render a process of its own (scripts/benchRender.ts), median of BENCH_RUNS:
//    whole-process CPU (with helm's) and wall time, for the committed production stack and for
//    synthetic stacks of 10, 50, 100 and 200 VMs, in three ways of running the program:
//    - "ts-node": TypeScript transpiled on load, default stack traces (how render ran before);
//    - "ts-node, no traces": the same with --stack-trace-limit=0 (what `pulumi preview` gets: the
//      CLI's TypeScript support and Pulumi.yaml's nodeargs);
//    - "compiled": the compiled JavaScript without stack traces, with V8's compile cache, exactly as
//      `npm run render` runs it (scripts/run-compiled.js).
//    Machines are noisy: the ratios within one run are what count.
// 2. The blast radius of the day-2 edits a PR review sees, as `pulumi preview` shows them.
// 3. The longest dependency chain of production and of the 200-VM stack: resources, and stages with
//    estimated durations (estimates, in render/bringUp.ts, not measurements).
// The last line sums up the figures.
import { execFileSync } from "child_process";
import * as path from "path";
import { runStack, type RecordedResource } from "../render/engine";
import { fromConfigMap, loadOfflineConfig, ROOT, stackDocument } from "../render/stackConfig";
import { blastRadius } from "../render/steps";
import { estimateSeconds, longestChain } from "../render/bringUp";
import { syntheticStack } from "./syntheticStack";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SIZES = [10, 50, 100, 200];

interface Mode {
    readonly label: string;
    readonly command: readonly string[];
    readonly targets: readonly string[];
}

const TS_NODE = ["-r", require.resolve("ts-node/register"), path.join(ROOT, "scripts", "benchRender.ts")];
const MODES: readonly Mode[] = [
    { label: "ts-node", command: TS_NODE, targets: ["production", "10", "200"] },
    { label: "ts-node, no traces", command: ["--stack-trace-limit=0", ...TS_NODE], targets: ["production", "10", "200"] },
    // Exactly as `npm run render` runs: the launcher (no stack traces, compile cache) and bin/.
    { label: "compiled", command: [path.join(ROOT, "scripts", "run-compiled.js"), "scripts/benchRender"], targets: ["production", ...SIZES.map(String)] },
];

interface Figure {
    readonly resources: number;
    readonly cpuMs: number;
    readonly wallMs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

function measure(mode: Mode, target: string): Figure {
    const cpu: number[] = [];
    const wall: number[] = [];
    let resources = 0;
    for (let i = 0; i < RUNS; i++) {
        const started = process.hrtime.bigint();
        const output = execFileSync(process.execPath, [...mode.command, target], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
        wall.push(Number(process.hrtime.bigint() - started) / 1e6);
        const line = JSON.parse(output.trim().split("\n").pop() as string) as { resources: number; cpuMs: number };
        cpu.push(line.cpuMs);
        resources = line.resources;
    }
    return { resources, cpuMs: median(cpu), wallMs: median(wall) };
}

/**
 * The edits a PR review most often sees, each previewed against the state of the stack before it
 * (the committed production stack, or `from` it).
 */
const EDITS: Readonly<Record<string, { readonly change: (d: Record<string, any>) => void; readonly from?: (d: Record<string, any>) => void }>> = {
    "no change": { change: () => undefined },
    "add a worker": { change: (d) => Object.assign(d["erpdc:vms"].workers, { count: 4, addresses: ["10.0.0.21", "10.0.0.22", "10.0.0.23", "10.0.0.24"] }) },
    "bump the app version": { change: (d) => (d["erpdc:apps"].imageVersion = "2026.12.1") },
    "add a DNS record": { change: (d) => (d["erpdc:dns"].extraRecords = [{ name: "mail", type: "A", data: { ip: "10.0.0.40" } }]) },
    "Kubernetes patch 1.32.4 to 1.32.5": { from: (d) => (d["erpdc:kubernetes"].kubeVersion = "1.32.4"), change: (d) => (d["erpdc:kubernetes"].kubeVersion = "1.32.5") },
    "add a Proxmox host": { change: (d) => d["erpdc:proxmox"].hosts.push({ name: "pve4", address: "10.0.1.14", cores: 32, memoryGiB: 256 }) },
};

async function previewRadii(): Promise<{ edit: string; radius: ReturnType<typeof blastRadius>; kubernetesReplaced: number }[]> {
    const run = async (edit: (d: Record<string, any>) => void, previewAgainst?: readonly RecordedResource[]) => {
        const document = stackDocument("production");
        edit(document);
        const offline = fromConfigMap(document);
        return runStack({ stack: "production", config: offline.config, secretKeys: offline.secretKeys, revealSecrets: true, ...(previewAgainst ? { previewAgainst } : {}) });
    };
    const rows = [];
    for (const [edit, { change, from }] of Object.entries(EDITS)) {
        const state = await run(from ?? (() => undefined));
        const preview = await run((d) => {
            from?.(d);
            change(d);
        }, state.resources);
        const radius = blastRadius(state.resources, preview.resources);
        const kubernetesReplaced = radius.replaced.filter((name) => preview.resources.find((r) => r.name === name)?.type.startsWith("kubernetes:")).length;
        rows.push({ edit, radius, kubernetesReplaced });
    }
    return rows;
}

async function main() {
    execFileSync(process.execPath, [path.join(ROOT, "scripts", "run-compiled.js"), "--build"], { stdio: "inherit" });
    console.log(`render, one process each, median of ${RUNS} (node ${process.version}; CPU includes helm's)`);
    console.log(`${"way of running".padEnd(20)} ${"stack".padEnd(11)} ${"resources".padStart(9)} ${"CPU ms".padStart(8)} ${"wall ms".padStart(8)}`);
    const figures = new Map<string, Figure>();
    for (const mode of MODES) {
        for (const target of mode.targets) {
            const figure = measure(mode, target);
            figures.set(`${mode.label}/${target}`, figure);
            const stack = target === "production" ? "production" : `${target} VMs`;
            console.log(`${mode.label.padEnd(20)} ${stack.padEnd(11)} ${String(figure.resources).padStart(9)} ${figure.cpuMs.toFixed(0).padStart(8)} ${figure.wallMs.toFixed(0).padStart(8)}`);
        }
    }
    const cpu = (key: string) => (figures.get(key) as Figure).cpuMs;
    const productionRatio = cpu("compiled/production") / cpu("ts-node/production");
    const previewRatio = cpu("ts-node, no traces/production") / cpu("ts-node/production");
    console.log(`production: compiled ${productionRatio.toFixed(2)}x of ts-node (target <= 0.4); pulumi preview's way ${previewRatio.toFixed(2)}x`);
    for (const mode of MODES) console.log(`200 VMs / 10 VMs, ${mode.label}: ${(cpu(`${mode.label}/200`) / cpu(`${mode.label}/10`)).toFixed(2)} (target <= 3 compiled)`);
    const growth = cpu("compiled/200") / cpu("compiled/10");

    console.log("\nblast radius as pulumi preview shows it (production; provider replace rules in render/steps.ts)");
    console.log(`${"edit".padEnd(36)} created updated replaced deleted commands  Kubernetes objects replaced`);
    const radii = await previewRadii();
    for (const { edit, radius, kubernetesReplaced } of radii) {
        console.log(
            `${edit.padEnd(36)} ${String(radius.created.length).padStart(7)} ${String(radius.updated.length).padStart(7)} ${String(radius.replaced.length).padStart(8)} ` +
                `${String(radius.deleted.length).padStart(7)} ${String(radius.commandsRun.length).padStart(8)}  ${kubernetesReplaced}` +
                (radius.replaced.length > 0 ? `   (replaced: ${radius.replaced.join(", ")})` : ""),
        );
    }

    console.log("\nlongest dependency chain (estimated durations are estimates, render/bringUp.ts)");
    const chains: Record<string, ReturnType<typeof longestChain>> = {};
    for (const [label, offline] of [["production", loadOfflineConfig("production")], ["200 VMs", syntheticStack(200)]] as const) {
        const run = await runStack({ stack: "production", config: offline.config, secretKeys: offline.secretKeys });
        const chain = longestChain(run.resources);
        chains[label] = chain;
        const vmsInChain = chain.byCount.filter((r) => r.type === "proxmoxve:index/vmLegacy:VmLegacy" && !r.name.startsWith("template-")).length;
        console.log(`${label}: ${chain.byCount.length} resources in the longest chain (${vmsInChain} VM clones queued on one host)`);
        console.log(`  by estimated time, ${(chain.seconds / 60).toFixed(0)} min: ${chain.bySeconds.map((r) => `${r.name} ${estimateSeconds(r)}s`).join(" -> ")}`);
    }
    const kubernetesReplacedTotal = radii.reduce((sum, row) => sum + row.kubernetesReplaced, 0);
    console.log(
        `\nsummary: production render ${cpu("compiled/production").toFixed(0)} ms CPU compiled vs ${cpu("ts-node/production").toFixed(0)} ms ts-node = ${productionRatio.toFixed(2)}x; ` +
            `200/10 VMs ${growth.toFixed(2)}x; preview of ${radii.length} edits replaces ${kubernetesReplacedTotal} Kubernetes objects; ` +
            `longest chain ${chains.production?.byCount.length} resources (~${((chains.production?.seconds ?? 0) / 60).toFixed(0)} min) in production, ${chains["200 VMs"]?.byCount.length} at 200 VMs`,
    );
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
