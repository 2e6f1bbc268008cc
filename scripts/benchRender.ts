// One offline render in a process of its own, for `npm run bench`: the committed production stack,
// or a synthetic stack of N VMs on three hosts (scripts/syntheticStack.ts). Prints the process's CPU time (user + system, from
// its start: module loading and transpiling included) and the resource count as one JSON line.
import * as fs from "fs";
import { renderStack } from "../render/render";
import { loadOfflineConfig } from "../render/stackConfig";
import { syntheticStack } from "./syntheticStack";

/** CPU time of the child processes this one waited for (helm): cutime and cstime in /proc/self/stat, in clock ticks of 10 ms. */
function childrenCpuMs(): number {
    const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
    // After "pid (comm) ", state is field 3; cutime and cstime are fields 16 and 17.
    return (Number(fields[13]) + Number(fields[14])) * 10;
}

async function main(target: string): Promise<void> {
    const offline = target === "production" ? loadOfflineConfig("production") : syntheticStack(Number(target));
    const result = await renderStack("production", offline);
    const cpu = process.cpuUsage();
    console.log(JSON.stringify({ target, resources: result.run.resources.length, cpuMs: (cpu.user + cpu.system) / 1000 + childrenCpuMs(), childrenMs: childrenCpuMs() }));
}

main(process.argv[2] ?? "production").catch((error) => {
    console.error(error);
    process.exit(1);
});
