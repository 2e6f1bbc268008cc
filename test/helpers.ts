// Shared by the test suites: the committed stack files as raw config, and runs under the mock engine.
import { parseStackConfig } from "../config";
import { planStack, type StackPlan } from "../plan";
import { runStack, type RecordedResource, type StackRun } from "../render/engine";
import { fromConfigMap, listStacks, stackDocument } from "../render/stackConfig";

export const STACKS = listStacks();

/** The `erpdc:*` and `proxmoxve:*` keys of a committed stack file, as plain objects. */
export { stackDocument };

/** The raw `erpdc:*` configuration of a stack: project keys without their namespace. */
export function rawProjectConfig(stack: string): Record<string, any> {
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(stackDocument(stack))) {
        if (key.startsWith("erpdc:")) {
            raw[key.slice("erpdc:".length)] = value;
        }
    }
    return raw;
}

export const VALID_TOKEN = "pulumi@pve!erpdc=12345678-1234-1234-1234-123456789abc";

export function providerSettings(stack: string) {
    return { endpoint: stackDocument(stack)["proxmoxve:endpoint"] as string, apiToken: VALID_TOKEN, insecure: false };
}

/** A committed stack's plan, made as the program makes it (optionally edited first). */
export function plannedStack(stack: string, edit?: (raw: Record<string, any>) => void): StackPlan {
    const raw = rawProjectConfig(stack);
    edit?.(raw);
    const { config, problems } = parseStackConfig(raw);
    return planStack({ config, problems, provider: providerSettings(stack), stackName: stack });
}

/** Edit for plannedStack: production with a second infra VM (two DNS servers). */
export function withTwoInfraVms(raw: Record<string, any>): void {
    raw.vms.infra = { ...raw.vms.infra, count: 2, addresses: ["10.0.0.5", "10.0.0.6"] };
}

/** True when `from` waits for `to`, directly or through other resources (or its provider). */
export function dependsOn(resources: readonly RecordedResource[], from: string, to: string): boolean {
    const target = find(resources, to).urn;
    const seen = new Set<string>();
    const walk = (urn: string): boolean => {
        if (seen.has(urn)) return false;
        seen.add(urn);
        const resource = resources.find((r) => r.urn === urn);
        const edges = [...(resource?.dependencies ?? []), ...(resource?.provider ? [resource.provider] : [])];
        return edges.some((edge) => edge === target || walk(edge));
    };
    return walk(find(resources, from).urn);
}

/**
 * Runs a stack file (optionally edited) under the mock engine, recording what gets registered;
 * `as` runs it under another stack name.
 */
export async function runStackFile(
    stack: string,
    options: { preview?: boolean; previewAgainst?: readonly RecordedResource[]; edit?: (config: Record<string, any>) => void; as?: string; revealSecrets?: boolean; regenerate?: string[] } = {},
): Promise<StackRun & { recorded: RecordedResource[] }> {
    const document = stackDocument(stack);
    options.edit?.(document);
    const offline = fromConfigMap(document);
    const recorded: RecordedResource[] = [];
    const run = await runStack(
        {
            stack: options.as ?? stack,
            config: offline.config,
            secretKeys: offline.secretKeys,
            preview: options.preview ?? false,
            revealSecrets: options.revealSecrets ?? false,
            regenerate: options.regenerate ?? [],
            ...(options.previewAgainst === undefined ? {} : { previewAgainst: options.previewAgainst }),
        },
        recorded,
    );
    return { ...run, recorded };
}

const baselines = new Map<string, ReturnType<typeof runStackFile>>();

/**
 * The committed stack run once in update mode and shared by every test that only reads it, so
 * that a test comparing against it makes one program run of its own at most.
 */
export function baselineRun(stack: string): ReturnType<typeof runStackFile> {
    let run = baselines.get(stack);
    if (run === undefined) {
        run = runStackFile(stack);
        baselines.set(stack, run);
    }
    return run;
}

/** Edit for runStackFile: the production stack with a fourth worker appended. */
export function addProductionWorker(config: Record<string, any>): void {
    config["erpdc:vms"].workers.count = 4;
    config["erpdc:vms"].workers.addresses.push("10.0.0.24");
}

export function byType(resources: readonly RecordedResource[], suffix: string): RecordedResource[] {
    return resources.filter((resource) => resource.type.endsWith(suffix));
}

export function find(resources: readonly RecordedResource[], name: string): RecordedResource {
    const found = resources.find((resource) => resource.name === name);
    if (!found) {
        throw new Error(`no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
    }
    return found;
}
