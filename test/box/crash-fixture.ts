// Run by smoke.test.ts: starts a box with a forwarded port, prints what it made, then dies by
// SIGKILL without stop(), so that the test can check reapStaleBoxes() cleans up after it.
import { Box } from "./box";

void (async () => {
    const box = await Box.start({});
    const port = await box.forward(22);
    process.stdout.write(`${JSON.stringify({ name: box.name, dir: box.dir, cgroups: box.cgroups, pids: box.pids, port })}\n`, () => {
        process.kill(process.pid, "SIGKILL");
    });
})().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
