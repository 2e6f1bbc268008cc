// Whether a bundle still holds what its manifest says, byte for byte: a file by its sha256, an image
// by its OCI layout (the manifest the index points at, and every blob the layout holds, by the
// digest that is its name: image-spec image-layout.md). Nothing is loaded from a bundle that fails.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { HeldItem, Manifest } from "./manifest";

export function sha256File(file: string): string {
    const hash = createHash("sha256");
    const fd = fs.openSync(file, "r");
    try {
        const chunk = Buffer.alloc(1 << 20);
        for (let read = fs.readSync(fd, chunk); read > 0; read = fs.readSync(fd, chunk)) hash.update(chunk.subarray(0, read));
    } finally {
        fs.closeSync(fd);
    }
    return hash.digest("hex");
}

interface Descriptor {
    readonly mediaType?: string;
    readonly digest: string;
    readonly size: number;
}

/** The image an OCI layout holds (one, as the bundle writes it): its manifest's digest and the bytes of its blobs. */
export function ociImage(layout: string): { manifestSha256: string; size: number; blobs: string[] } {
    const index = JSON.parse(fs.readFileSync(path.join(layout, "index.json"), "utf8")) as { manifests?: Descriptor[] };
    const manifests = index.manifests ?? [];
    if (manifests.length !== 1) throw new Error(`${layout}/index.json lists ${manifests.length} manifests, not 1`);
    const manifest = manifests[0] as Descriptor;
    const blob = (digest: string) => path.join(layout, "blobs", ...digest.split(":"));
    const body = JSON.parse(fs.readFileSync(blob(manifest.digest), "utf8")) as { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] };
    if (body.manifests !== undefined) throw new Error(`${layout} holds an image index, not one platform's image`);
    const referenced = [manifest, ...(body.config ? [body.config] : []), ...(body.layers ?? [])];
    return { manifestSha256: manifest.digest.replace(/^sha256:/, ""), size: referenced.reduce((sum, d) => sum + d.size, 0), blobs: referenced.map((d) => d.digest) };
}

/** What is wrong with one held item, or undefined when it is whole. */
export function problemOf(dir: string, item: HeldItem): string | undefined {
    const where = path.join(dir, item.path);
    if (!fs.existsSync(where)) return `${item.path}: not in the bundle`;
    if (item.kind !== "image") {
        const actual = sha256File(where);
        return actual === item.sha256 ? undefined : `${item.path}: sha256 is ${actual}, the manifest says ${item.sha256}`;
    }
    try {
        const image = ociImage(where);
        if (image.manifestSha256 !== item.sha256) return `${item.path}: the layout holds manifest sha256:${image.manifestSha256}, the manifest says sha256:${item.sha256}`;
        for (const digest of image.blobs) {
            const [algorithm, hex] = digest.split(":");
            const blob = path.join(where, "blobs", algorithm as string, hex as string);
            if (!fs.existsSync(blob)) return `${item.path}: blob ${digest} is missing`;
            const actual = sha256File(blob);
            if (algorithm !== "sha256" || actual !== hex) return `${item.path}: blob ${digest} holds sha256:${actual}`;
        }
        return undefined;
    } catch (error) {
        return `${item.path}: ${(error as Error).message}`;
    }
}

/** Every problem of the bundle, one line each; an empty list when every item is whole. */
export function verifyBundle(dir: string, manifest: Manifest): string[] {
    return manifest.items.map((item) => problemOf(dir, item)).filter((problem): problem is string => problem !== undefined);
}
