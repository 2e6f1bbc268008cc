// What `pulumi up` or `pulumi preview` does with one resource given its previous state: the
// providers' replace rules, written down once, with their sources. The mock engine uses them to
// show a preview of an update as the CLI would (outputs of what changes are unknown), and
// blastRadius tells what a day-2 edit creates, updates, replaces, deletes and runs again (the
// lifecycle tests and `npm run bench`).
import type { RecordedResource } from "./engine";

/**
 * Input paths whose change replaces the resource, per type ("*" for every input). Sources:
 * - bpg/terraform-provider-proxmox proxmoxtf/resource/vm/vm.go: clone.*, vm_id, node_name (without
 *   migrate), initialization.*_file_id and type are ForceNew; disk.file_id too (disk/schema.go).
 * - the same provider's file and download_file resources: every source and placement field is ForceNew.
 * - @pulumi/command 1.2.1: `triggers` replace; any other change updates, which runs `update`, or
 *   `create` when there is none (provider/pkg/provider/remote/commandController.go). The program's
 *   replaceOnChanges option adds to these rules.
 * - terraform-provider-tls and -random: every argument of private keys, requests, certificates,
 *   random passwords and random IDs requires replacement.
 * - PVE HA: only a rule's id and type replace it (bpg v0.111.1 fwprovider/cluster/ha/resource_harule.go).
 * - Kubernetes: an object's name, namespace, kind and apiVersion are its identity. The provider
 *   itself (KUBERNETES_PROVIDER) has a rule of its own: kubernetesProviderReplaced.
 * - A resource whose provider is replaced is replaced too (the engine creates it anew with the new provider).
 */
export const FORCE_NEW: Readonly<Record<string, readonly string[]>> = {
    "proxmoxve:index/vmLegacy:VmLegacy": ["clone", "vmId", "nodeName", "initialization.userDataFileId", "initialization.networkDataFileId", "initialization.metaDataFileId", "initialization.vendorDataFileId", "initialization.type"],
    "proxmoxve:index/fileLegacy:FileLegacy": ["*"],
    "proxmoxve:download/fileLegacy:FileLegacy": ["contentType", "fileName", "datastoreId", "nodeName", "url", "checksum", "checksumAlgorithm", "decompressionAlgorithm"],
    "command:remote:Command": ["triggers"],
    "command:local:Command": ["triggers"],
    "tls:index/privateKey:PrivateKey": ["*"],
    "tls:index/selfSignedCert:SelfSignedCert": ["*"],
    "tls:index/certRequest:CertRequest": ["*"],
    "tls:index/locallySignedCert:LocallySignedCert": ["*"],
    "random:index/randomPassword:RandomPassword": ["*"],
    "random:index/randomId:RandomId": ["*"],
    // The HA resource and group update in place (bpg v0.111.1 fwprovider/cluster/ha/resource_haresource.go,
    // resource_hagroup.go: no RequiresReplace on resourceId or group); a rule's id and type replace it.
    "proxmoxve:index/harule:Harule": ["rule", "type"],
    "kubernetes:core/v1:Namespace": ["metadata.name"],
    "kubernetes:core/v1:Secret": ["metadata.name", "metadata.namespace", "type"],
    "kubernetes:helm.sh/v3:Release": ["name", "namespace"],
    "kubernetes:argoproj.io/v1alpha1:AppProject": ["apiVersion", "kind", "metadata.name", "metadata.namespace"],
    "kubernetes:argoproj.io/v1alpha1:Application": ["apiVersion", "kind", "metadata.name", "metadata.namespace"],
};

export const KUBERNETES_PROVIDER = "pulumi:providers:kubernetes";

export type Step = "create" | "update" | "replace" | "same";

/** The paths at which two input values differ ("a.b", "disks[0].size" as "disks"). */
export function changedPaths(before: unknown, after: unknown, at = ""): string[] {
    if (JSON.stringify(before) === JSON.stringify(after)) return [];
    const isMap = (value: unknown) => value !== null && typeof value === "object" && !Array.isArray(value);
    if (isMap(before) && isMap(after)) {
        const keys = new Set([...Object.keys(before as object), ...Object.keys(after as object)]);
        return [...keys].flatMap((key) => changedPaths((before as Record<string, unknown>)[key], (after as Record<string, unknown>)[key], at ? `${at}.${key}` : key));
    }
    return [at];
}

const covers = (rule: string, path: string) => rule === "*" || path === rule || path.startsWith(`${rule}.`);

/**
 * pulumi-kubernetes' DiffConfig (provider/pkg/provider/provider.go): with a clusterIdentifier that
 * is set and the same as before, nothing replaces the provider; otherwise a kubeconfig that is
 * unknown (computed) replaces it, and so does a known one whose active cluster changed (taken
 * here as any change of the kubeconfig: the conservative reading).
 */
function kubernetesProviderReplaced(before: Record<string, unknown>, after: Record<string, unknown>): boolean {
    if (after.clusterIdentifier !== undefined && before.clusterIdentifier !== undefined) return before.clusterIdentifier !== after.clusterIdentifier;
    return JSON.stringify(before.kubeconfig) !== JSON.stringify(after.kubeconfig);
}

/** A resource as registered now, with what decides its step. */
export type Registration = Pick<RecordedResource, "type" | "name" | "ignoreChanges" | "replaceOnChanges" | "replaceWith"> & {
    readonly provider?: string;
    /** Inputs with secrets revealed and unknowns marked. */
    readonly inputs: Record<string, unknown>;
};

/**
 * The step for one resource: `previous` its inputs in the state (secrets revealed), or undefined
 * when it is new; `stepOf` gives the steps of the resources registered before it (by URN);
 * `replacedByHand` names resources replaced on request (`pulumi up --replace`).
 */
export function stepFor(previous: Record<string, unknown> | undefined, now: Registration, stepOf: (urn: string) => Step | undefined, replacedByHand: readonly string[] = []): Step {
    if (previous === undefined) return "create";
    if (replacedByHand.includes(now.name)) return "replace";
    if (now.replaceWith.some((urn) => stepOf(urn) === "replace")) return "replace";
    if (now.provider !== undefined && stepOf(now.provider) === "replace") return "replace";
    const paths = changedPaths(previous, now.inputs).filter((path) => !now.ignoreChanges.some((ignored) => covers(ignored, path)));
    if (paths.length === 0) return "same";
    if (now.type === KUBERNETES_PROVIDER) return kubernetesProviderReplaced(previous, now.inputs) ? "replace" : "update";
    const rules = [...(FORCE_NEW[now.type] ?? []), ...now.replaceOnChanges];
    return paths.some((path) => rules.some((rule) => covers(rule, path))) ? "replace" : "update";
}

export interface BlastRadius {
    readonly created: string[];
    readonly updated: string[];
    readonly replaced: string[];
    readonly deleted: string[];
    /** Commands whose script runs again: created, replaced or updated. */
    readonly commandsRun: string[];
}

/**
 * What `pulumi up` would do between two runs made with `revealSecrets` (so that a changed secret
 * input counts); the second may be a preview against the first (`previewAgainst`), whose unknown
 * inputs count as changed.
 * `replacedByHand` are resources replaced on request (`pulumi up --replace`).
 */
export function blastRadius(before: readonly RecordedResource[], after: readonly RecordedResource[], replacedByHand: readonly string[] = []): BlastRadius {
    const old = new Map(before.map((r) => [r.urn, r]));
    const now = new Map(after.map((r) => [r.urn, r]));
    const state = new Map<string, Step>();
    // Until nothing moves: a step can depend on resources later in URN order (replaceWith, provider).
    for (let changed = true; changed; ) {
        changed = false;
        for (const resource of after) {
            const previous = old.get(resource.urn);
            const registration = { ...resource, inputs: resource.revealedInputs ?? resource.inputs };
            const step = stepFor(previous && (previous.revealedInputs ?? previous.inputs), registration, (urn) => state.get(urn), replacedByHand);
            if (state.get(resource.urn) !== step) {
                state.set(resource.urn, step);
                changed = true;
            }
        }
    }
    const named = (kind: Step) => after.filter((r) => r.custom && state.get(r.urn) === kind).map((r) => r.name).sort();
    const commands = after.filter((r) => r.type.startsWith("command:") && ["create", "update", "replace"].includes(state.get(r.urn) as string));
    return {
        created: named("create"),
        updated: named("update"),
        replaced: named("replace"),
        deleted: before.filter((r) => r.custom && !now.has(r.urn)).map((r) => r.name).sort(),
        commandsRun: commands.map((r) => r.name).sort(),
    };
}

/**
 * The steps of a preview against a state: decided for each resource as it registers (the resources
 * it names in replaceWith and its provider have registered before it), read by the mocks.
 */
export class PlannedSteps {
    private readonly previous = new Map<string, Record<string, unknown>>();
    private readonly byKey = new Map<string, Step>();
    private readonly byUrn = new Map<string, Step>();

    constructor(
        state: readonly RecordedResource[],
        private readonly replacedByHand: readonly string[],
    ) {
        for (const resource of state) {
            const key = PlannedSteps.key(resource.type, resource.name);
            if (this.previous.has(key)) throw new Error(`two resources ${key} in the state: the preview cannot tell them apart`);
            if (resource.revealedInputs === undefined) throw new Error("previewAgainst needs a state recorded with revealSecrets");
            this.previous.set(key, resource.revealedInputs);
        }
    }

    static key(type: string, name: string): string {
        return `${type}::${name}`;
    }

    decide(registration: Registration): Step {
        // The SDK registers a resource after those it names in replaceWith; a step read before
        // theirs would silently count them as unchanged.
        const unknown = registration.replaceWith.filter((urn) => this.byUrn.get(urn) === undefined);
        if (unknown.length > 0) throw new Error(`${registration.name} registered before its replaceWith targets ${unknown.join(", ")}`);
        const step = stepFor(this.previous.get(PlannedSteps.key(registration.type, registration.name)), registration, (urn) => this.byUrn.get(urn), this.replacedByHand);
        this.byKey.set(PlannedSteps.key(registration.type, registration.name), step);
        return step;
    }

    registered(urn: string, step: Step): void {
        this.byUrn.set(urn, step);
    }

    of(type: string, name: string): Step | undefined {
        return this.byKey.get(PlannedSteps.key(type, name));
    }
}
