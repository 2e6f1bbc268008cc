// A bundle's manifest.json: every item it holds, where it came from and where it goes, its place in
// the bundle, size and sha256 (an image's: its manifest's digest), and what it was checked against.
// And what a stack's list needs that a bundle does not hold.
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import type { BundleItem } from "./list";

const held = z.strictObject({
    kind: z.enum(["file", "image", "chart", "python", "in-house"]),
    source: z.string().min(1),
    destination: z.string().min(1),
    /** Relative to the bundle's directory. */
    path: z.string().min(1),
    size: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** What the content was checked against when it was fetched (a pin, an upstream checksum, a digest). */
    verified: z.string().min(1),
});

const manifestSchema = z.strictObject({
    stack: z.string().min(1),
    items: z.array(held),
});

export type HeldItem = z.infer<typeof held>;
export type Manifest = z.infer<typeof manifestSchema>;

export const MANIFEST = "manifest.json";

/** Writes DIR/manifest.json whole or not at all (a run stopped halfway leaves the last one). */
export function writeManifest(dir: string, manifest: Manifest): void {
    const file = path.join(dir, MANIFEST);
    fs.writeFileSync(`${file}.new`, `${JSON.stringify(manifestSchema.parse(manifest), null, 2)}\n`);
    fs.renameSync(`${file}.new`, file);
}

/** Reads DIR/manifest.json; a manifest of another shape is an error naming what is wrong. */
export function readManifest(dir: string): Manifest {
    const file = path.join(dir, MANIFEST);
    if (!fs.existsSync(file)) throw new Error(`${file} does not exist: is ${dir} a bundle?`);
    let content: unknown;
    try {
        content = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (error) {
        throw new Error(`${file} is not JSON (${(error as Error).message}): the bundle is damaged; run npm run bundle again to rewrite it`);
    }
    const parsed = manifestSchema.safeParse(content);
    if (!parsed.success) {
        throw new Error(`${file} is not a bundle manifest:\n${parsed.error.issues.map((issue) => `  - ${issue.path.join(".")}: ${issue.message}`).join("\n")}`);
    }
    return parsed.data;
}

/** An item's identity: what it is, where from, where to (the list's and the manifest's common part). */
export const itemKey = (item: Pick<BundleItem, "kind" | "source" | "destination">) => `${item.kind} ${item.source} -> ${item.destination}`;

/**
 * What the list needs that the manifest lacks, one line each: not there, or there with another
 * sha256 than the stack pins.
 */
export function missingFromBundle(list: readonly BundleItem[], manifest: Manifest): string[] {
    const byKey = new Map(manifest.items.map((item) => [itemKey(item), item]));
    const missing: string[] = [];
    for (const item of list) {
        const found = byKey.get(itemKey(item));
        if (found === undefined) missing.push(`missing: ${itemKey(item)} (${item.reason})`);
        else if (item.checksum !== undefined && item.checksum !== `sha256:${found.sha256}`) {
            missing.push(`wrong content: ${itemKey(item)}: the bundle has sha256:${found.sha256}, the stack pins ${item.checksum}`);
        }
    }
    return missing;
}
