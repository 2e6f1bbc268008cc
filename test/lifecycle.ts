// What a `pulumi up` would do between two runs of the program under the mock engine: which
// resources it creates, updates in place, replaces and deletes, and which commands run again. The
// providers' replace rules are written down once, here, with their sources.
import type { RecordedResource } from "../render/engine";

/**
 * Input paths whose change replaces the resource, per type ("*" for every input). Sources:
 * - bpg/terraform-provider-proxmox proxmoxtf/resource/vm/vm.go: clone.*, vm_id, node_name (without
 *   migrate), initialization.*_file_id and type are ForceNew; disk.file_id too (disk/schema.go).
 * - the same provider's file and download_file resources: every source and placement field is ForceNew.
 * - @pulumi/command 1.2.1: `triggers` replace; any other change updates, which runs `update`, or
 *   `create` when there is none (provider/pkg/provider/remote/commandController.go). The program's
 *   replaceOnChanges option adds to these rules.
 * - terraform-provider-tls and -random: every argument of private keys, requests, certificates
 *   and random passwords requires replacement.
 * - PVE HA: only a rule's id and type replace it (bpg v0.111.1 fwprovider/cluster/ha/resource_harule.go).
 * - Kubernetes: an object's name, namespace, kind and apiVersion are its identity.
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
    // The HA resource and group update in place (bpg v0.111.1 fwprovider/cluster/ha/resource_haresource.go,
    // resource_hagroup.go: no RequiresReplace on resourceId or group); a rule's id and type replace it.
    "proxmoxve:index/harule:Harule": ["rule", "type"],
    "kubernetes:core/v1:Namespace": ["metadata.name"],
    "kubernetes:core/v1:Secret": ["metadata.name", "metadata.namespace", "type"],
    "kubernetes:helm.sh/v3:Release": ["name", "namespace"],
    "kubernetes:argoproj.io/v1alpha1:AppProject": ["apiVersion", "kind", "metadata.name", "metadata.namespace"],
    "kubernetes:argoproj.io/v1alpha1:Application": ["apiVersion", "kind", "metadata.name", "metadata.namespace"],
};

export interface BlastRadius {
    readonly created: string[];
    readonly updated: string[];
    readonly replaced: string[];
    readonly deleted: string[];
    /** Commands whose script runs again: created, replaced or updated. */
    readonly commandsRun: string[];
}

/** The paths at which two input values differ ("a.b", "disks[0].size" as "disks"). */
function changedPaths(before: unknown, after: unknown, at = ""): string[] {
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
 * The plan between two runs made with `revealSecrets` (so that a changed secret input counts).
 * `replacedByHand` are resources replaced on request (`pulumi up --replace`).
 */
export function blastRadius(before: readonly RecordedResource[], after: readonly RecordedResource[], replacedByHand: readonly string[] = []): BlastRadius {
    const old = new Map(before.map((r) => [r.urn, r]));
    const now = new Map(after.map((r) => [r.urn, r]));
    const state = new Map<string, "create" | "update" | "replace" | "same">();
    for (const resource of after) {
        const previous = old.get(resource.urn);
        if (previous === undefined) {
            state.set(resource.urn, "create");
            continue;
        }
        const paths = changedPaths(previous.revealedInputs ?? previous.inputs, resource.revealedInputs ?? resource.inputs).filter(
            (path) => !resource.ignoreChanges.some((ignored) => covers(ignored, path)),
        );
        const rules = [...(FORCE_NEW[resource.type] ?? []), ...resource.replaceOnChanges];
        const replaced = replacedByHand.includes(resource.name) || paths.some((path) => rules.some((rule) => covers(rule, path)));
        state.set(resource.urn, replaced ? "replace" : paths.length > 0 ? "update" : "same");
    }
    // replaceWith: a resource is replaced with any of the resources it names, transitively.
    for (let changed = true; changed; ) {
        changed = false;
        for (const resource of after) {
            if (state.get(resource.urn) === "replace" || state.get(resource.urn) === "create") continue;
            if (resource.replaceWith.some((urn) => state.get(urn) === "replace")) {
                state.set(resource.urn, "replace");
                changed = true;
            }
        }
    }
    const named = (kind: string) => after.filter((r) => r.custom && state.get(r.urn) === kind).map((r) => r.name).sort();
    const commands = after.filter((r) => r.type.startsWith("command:") && ["create", "update", "replace"].includes(state.get(r.urn) as string));
    return {
        created: named("create"),
        updated: named("update"),
        replaced: named("replace"),
        deleted: before.filter((r) => r.custom && !now.has(r.urn)).map((r) => r.name).sort(),
        commandsRun: commands.map((r) => r.name).sort(),
    };
}
