// What a bundle command prints as it goes: a line per item with its outcome and size, and the
// items and bytes so far against the total. On a terminal the tools show their own bar per item
// (curl, skopeo) and a total bar follows each item; in a log, plain lines.
import type { BundleItem } from "./list";

export type Outcome = "present" | "fetched" | "loaded" | "failed";

export function humanSize(bytes: number): string {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit += 1;
    }
    return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Milliseconds as +H:MM:SS, as every progress line of the program says how long its step has run. */
export function elapsedSince(startMs: number, nowMs: number): string {
    const seconds = Math.max(0, Math.floor((nowMs - startMs) / 1000));
    return `+${Math.floor(seconds / 3600)}:${String(Math.floor(seconds / 60) % 60).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
}

export class Progress {
    private total: number | undefined;
    private readonly started: number;
    private index = 0;
    private bytes = 0;
    readonly sizes: Record<string, number> = {};

    constructor(
        /** A terminal: the tools draw their own bars, and a total bar follows each item. */
        readonly interactive: boolean = process.stderr.isTTY === true,
        private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
        private readonly now: () => number = Date.now,
    ) {
        this.started = now();
    }

    /** Where the run is: `[item/total +H:MM:SS]`. */
    private position(): string {
        return `[${this.index}/${this.total ?? "?"} ${elapsedSince(this.started, this.now())}]`;
    }

    /** The number of items to come, once it is known. */
    begin(total: number | undefined): void {
        this.total = total;
    }

    start(item: Pick<BundleItem, "kind" | "destination">): void {
        this.index += 1;
        if (this.interactive) this.write(`${this.position()} ${item.kind} ${item.destination}`);
    }

    done(item: Pick<BundleItem, "kind" | "destination">, bytes: number, outcome: Outcome): void {
        this.bytes += bytes;
        this.sizes[item.kind] = (this.sizes[item.kind] ?? 0) + bytes;
        this.write(`${this.position()} ${outcome.padEnd(7)} ${item.kind.padEnd(8)} ${humanSize(bytes).padStart(10)}  ${item.destination}`);
        if (this.interactive && this.total !== undefined) {
            const width = 40;
            const filled = Math.round((width * this.index) / this.total);
            this.write(`[${"#".repeat(filled)}${".".repeat(width - filled)}] ${this.index}/${this.total} items, ${humanSize(this.bytes)}`);
        }
    }

    /** Sizes by kind and in all, and the time it took. */
    summary(): string[] {
        return [
            ...Object.entries(this.sizes).map(([kind, size]) => `  ${kind.padEnd(8)} ${humanSize(size)}`),
            `  ${"total".padEnd(8)} ${humanSize(this.bytes)} in ${elapsedSince(this.started, this.now()).slice(1)}`,
        ];
    }
}
