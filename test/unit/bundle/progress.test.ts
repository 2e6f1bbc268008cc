// What a bundle command prints as it goes: each item's line says where the run is (item of total)
// and how long it has taken, +H:MM:SS.
import { strict as assert } from "assert";
import { elapsedSince, Progress } from "../../../bundle/progress";

describe("bundle progress lines", () => {
    it("writes the elapsed time as +H:MM:SS", () => {
        assert.equal(elapsedSince(0, 0), "+0:00:00");
        assert.equal(elapsedSince(1_000, 60_999), "+0:00:59");
        assert.equal(elapsedSince(0, 61_000), "+0:01:01");
        assert.equal(elapsedSince(0, (2 * 3600 + 3 * 60 + 4) * 1000), "+2:03:04");
    });

    it("puts the item, the total and the time since the command started on every line, and the total time in the summary", () => {
        const lines: string[] = [];
        let now = 10_000;
        const progress = new Progress(false, (line) => lines.push(line), () => now);
        progress.begin(2);
        const item = { kind: "image" as const, destination: "registry.erp.uno/pause:3.10" };
        now += 5_000;
        progress.start(item);
        progress.done(item, 2048, "loaded");
        now += 70_000;
        progress.start(item);
        progress.done(item, 0, "present");
        assert.deepEqual(lines, [
            "[1/2 +0:00:05] loaded  image       2.0 KiB  registry.erp.uno/pause:3.10",
            "[2/2 +0:01:15] present image           0 B  registry.erp.uno/pause:3.10",
        ]);
        assert.deepEqual(progress.summary(), ["  image    2.0 KiB", "  total    2.0 KiB in 0:01:15"]);
    });
});
