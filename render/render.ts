// The offline render: run a stack under the mock engine and write what it would create to
// out/<stack>/ — plan.json plus every artifact the layers published.
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { runStack, type RecordedResource, type StackRun } from "./engine";
import { templateChart } from "./helm";
import { loadOfflineConfig, ROOT, type OfflineConfig } from "./stackConfig";

export interface RenderResult {
    readonly stack: string;
    readonly outDir: string;
    /** Relative path to content, plan.json included. */
    readonly files: ReadonlyMap<string, string>;
    readonly run: StackRun;
    readonly placeholders: readonly string[];
}

export async function renderStack(stack: string, offline: OfflineConfig = loadOfflineConfig(stack)): Promise<RenderResult> {
    const run = await runStack({ stack, config: offline.config, secretKeys: offline.secretKeys });
    const files = new Map(await run.artifacts.collect());
    const values = files.get("apps/erp-uno-values.yaml");
    if (values !== undefined) {
        // The chart as ArgoCD will apply it with this stack's values (real helm, offline).
        files.set("apps/erp-uno.rendered.yaml", templateChart(YAML.parse(values) as Record<string, unknown>));
    }
    files.set("plan.json", `${JSON.stringify(planDocument(stack, run), null, 2)}\n`);
    return { stack, outDir: path.join(ROOT, "out", stack), files, run, placeholders: offline.placeholders };
}

/** Replaces out/<stack>/ with the rendered files, so nothing stale stays behind. */
export function writeRender(result: RenderResult, outDir: string = result.outDir): void {
    fs.rmSync(outDir, { recursive: true, force: true });
    for (const [file, content] of result.files) {
        const target = path.join(outDir, ...file.split("/"));
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, content);
    }
}

function planDocument(stack: string, run: StackRun) {
    const nameOf = new Map(run.resources.map((resource) => [resource.urn, describe(resource)]));
    return {
        stack,
        resources: run.resources.map((resource: RecordedResource) => ({
            type: resource.type,
            name: resource.name,
            parent: resource.parent ? (nameOf.get(resource.parent) ?? resource.parent) : null,
            ...(resource.provider ? { provider: nameOf.get(resource.provider) ?? resource.provider } : {}),
            protect: resource.protect,
            ...(resource.ignoreChanges.length > 0 ? { ignoreChanges: resource.ignoreChanges } : {}),
            ...(resource.deleteBeforeReplace ? { deleteBeforeReplace: true } : {}),
            ...(resource.replaceWith.length > 0 ? { replaceWith: resource.replaceWith.map((urn) => nameOf.get(urn) ?? urn) } : {}),
            dependsOn: resource.dependencies.map((urn) => nameOf.get(urn) ?? urn),
            inputs: resource.inputs,
        })),
        outputs: Object.fromEntries(
            Object.entries(run.outputs).map(([key, output]) => [key, output.secret ? "[secret]" : output.value]),
        ),
    };
}

function describe(resource: RecordedResource): string {
    return `${resource.type}::${resource.name}`;
}
