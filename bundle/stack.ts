// A stack as the bundle commands need it: planned as the program plans it, and rendered offline
// (the Kubespray group_vars and the erp-uno chart the list is read from).
import { readPlan, type StackPlan } from "../plan";
import { renderStack } from "../render/render";
import { loadOfflineConfig, type OfflineConfig } from "../render/stackConfig";

export interface RenderedStack {
    readonly plan: StackPlan;
    readonly files: ReadonlyMap<string, string>;
    readonly warnings: readonly string[];
}

export async function renderedStack(stack: string, offline: OfflineConfig = loadOfflineConfig(stack)): Promise<RenderedStack> {
    const result = await renderStack(stack, offline);
    // The render left the stack's configuration in the runtime: plan it as the program does.
    const { plan } = readPlan();
    return { plan, files: result.files, warnings: result.run.warnings };
}
