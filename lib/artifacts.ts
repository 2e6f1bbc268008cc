// The one way a layer publishes a generated file (cloud-init, zone, inventory, values, ...) for the
// offline render and for review. During `pulumi up` the files are only collected in memory and
// dropped; the render writes them under out/<stack>/.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

export class ArtifactSink {
    private readonly files = new Map<string, pulumi.Output<string>>();

    /** `relativePath` is a POSIX path below out/<stack>/, e.g. "cloud-init/infra1/user-data". */
    add(relativePath: string, content: pulumi.Input<string>): void {
        const normalized = path.posix.normalize(relativePath);
        if (normalized !== relativePath || normalized.startsWith("../") || path.posix.isAbsolute(normalized)) {
            throw new Error(`artifact path ${JSON.stringify(relativePath)} must be a plain relative path`);
        }
        if (this.files.has(normalized)) {
            throw new Error(`artifact ${normalized} is published twice`);
        }
        this.files.set(normalized, pulumi.output(content));
    }

    paths(): string[] {
        return [...this.files.keys()].sort();
    }

    /**
     * Resolves every artifact. Fails on a secret (artifacts are written to disk and shown in review)
     * and on a value still unknown (a preview cannot render).
     */
    async collect(): Promise<Map<string, string>> {
        const result = new Map<string, string>();
        for (const file of this.paths()) {
            const output = this.files.get(file) as pulumi.Output<string>;
            const { value, known, secret } = await settle(output);
            if (secret) {
                throw new Error(`artifact ${file} contains a secret; artifacts are written to disk, so keep secrets out of them`);
            }
            if (!known || value === undefined) {
                throw new Error(`artifact ${file} is not known yet; render in update mode, not preview`);
            }
            result.set(file, value);
        }
        return result;
    }
}

/** The value of an output together with its known and secret flags (SDK internals, pinned version). */
export async function settle<T>(output: pulumi.Output<T>): Promise<{ value: T | undefined; known: boolean; secret: boolean }> {
    const internal = output as unknown as { promise(): Promise<T>; isKnown: Promise<boolean>; isSecret: Promise<boolean> };
    const [value, known, secret] = await Promise.all([internal.promise(), internal.isKnown, internal.isSecret]);
    return { value, known, secret };
}
