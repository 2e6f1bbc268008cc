// npm run bench: how long the offline render takes for production and for a synthetic
// 3-host, 200-VM stack (median of several runs after a warm-up), so growth with size is visible.
import { performance } from "perf_hooks";
import { renderStack } from "../render/render";
import { fromConfigMap, loadOfflineConfig } from "../render/stackConfig";
import { stackDocument } from "../test/helpers";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function synthetic(vmCount: number) {
    const document = stackDocument("production") as Record<string, any>;
    document["erpdc:proxmox"].hosts = ["pve1", "pve2", "pve3"].map((name, i) => ({
        name,
        address: `10.0.8.${11 + i}`,
        cores: 2048,
        memoryGiB: 8192,
    }));
    document["erpdc:network"].cidr = "10.0.0.0/22";
    const workers = vmCount - 4;
    Object.assign(document["erpdc:vms"].workers, {
        count: workers,
        addresses: Array.from({ length: workers }, (_, i) => `10.0.${1 + Math.floor((i + 10) / 250)}.${((i + 10) % 250) + 1}`),
    });
    return fromConfigMap(document);
}

async function measure(label: string, stack: string, offline: ReturnType<typeof fromConfigMap>) {
    await renderStack(stack, offline); // warm-up: module loading and JIT
    const times: number[] = [];
    let resources = 0;
    for (let i = 0; i < RUNS; i++) {
        const start = performance.now();
        const result = await renderStack(stack, offline);
        times.push(performance.now() - start);
        resources = result.run.resources.length;
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)] as number;
    console.log(
        `${label.padEnd(34)} ${String(resources).padStart(5)} resources   median ${median.toFixed(0).padStart(6)} ms   ` +
            `min ${(times[0] as number).toFixed(0)} ms   max ${(times[times.length - 1] as number).toFixed(0)} ms   (${RUNS} runs)`,
    );
    return { median, resources };
}

async function main() {
    console.log(`offline render, node ${process.version}`);
    const production = await measure("production (7 VMs)", "production", loadOfflineConfig("production"));
    const large = await measure("synthetic (3 hosts, 200 VMs)", "production", synthetic(200));
    console.log(
        `per resource: production ${(production.median / production.resources).toFixed(2)} ms, ` +
            `synthetic ${(large.median / large.resources).toFixed(2)} ms`,
    );
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
