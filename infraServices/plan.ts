// The infra VM services' plan: the VMs that run the registry, the chart repository and the files
// area (every infra VM), under which names, with which registry account; and the data disk they live on.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { MANIFEST, readManifest, type Manifest } from "../bundle/manifest";
import type { Environment, StackConfig } from "../config";
import type { Problems } from "../config/problems";
import type { ServiceNames } from "../dns/plan";
import type { VmSpec } from "../proxmox/plan";

export interface InfraServicesPlan {
    readonly environment: Environment;
    /** The VMs the services run on: every infra VM, each with its own copy of the content. */
    readonly hosts: readonly VmSpec[];
    readonly names: { readonly registry: string; readonly charts: string; readonly files: string };
    /** The push account (operator, CI, chart publishing). */
    readonly registryUsername: string;
    /** The pull-only account of the nodes. */
    readonly registryPullUsername: string;
    /** The contour bundle pulumi up loads into every infra VM, when the stack names one. */
    readonly bundle?: { readonly dir: string; readonly manifestSha256: string };
}

/** What the infra services' plan reads of the configuration. */
export type InfraServicesConfig = Pick<StackConfig, "environment" | "vms" | "registry" | "bundle">;

/**
 * The bundle the stack names: a folder holding a bundle's manifest.json made for this stack. Its
 * content is checked against the stack's own list when it is loaded, before anything is written.
 */
function planBundle(dir: string, stackName: string, problems: Problems): InfraServicesPlan["bundle"] {
    const absolute = path.resolve(dir);
    let manifest: Manifest;
    try {
        manifest = readManifest(absolute);
    } catch (error) {
        problems.fail("bundle.dir", dir, `${(error as Error).message.split("\n")[0]}; give the folder npm run bundle filled (or leave bundle.dir out and load it with npm run bundle:load)`);
        return undefined;
    }
    if (manifest.stack !== stackName) {
        problems.fail("bundle.dir", dir, `holds a bundle of ${manifest.stack}, not of this stack (${stackName}); fill one with npm run bundle -- ${stackName} --out <dir>`);
        return undefined;
    }
    return { dir: absolute, manifestSha256: createHash("sha256").update(fs.readFileSync(path.join(absolute, MANIFEST))).digest("hex") };
}

export function planInfraServices(config: InfraServicesConfig, names: ServiceNames | undefined, stackName: string, problems: Problems): InfraServicesPlan | undefined {
    const scope = problems.scope();
    problems = scope;
    if (config.vms.infra.dataDiskGiB === undefined) {
        problems.fail("vms.infra.dataDiskGiB", undefined, "the registry, the chart repository and the files area live on the infra VM's data disk; set its size, e.g. 200");
    }
    const { username, pullUsername } = config.registry;
    for (const [key, value] of [["registry.username", username], ["registry.pullUsername", pullUsername]] as const) {
        if (!/^[a-z][a-z0-9._-]{0,31}$/.test(value)) {
            problems.fail(key, value, "use a lowercase user name of letters, digits, dots, hyphens or underscores");
        }
    }
    if (pullUsername === username) {
        problems.fail("registry.pullUsername", pullUsername, "registry.username is the push account already; the nodes' account must be another, so that they can only read");
    }
    const bundle = config.bundle.dir === undefined ? undefined : planBundle(config.bundle.dir, stackName, problems);
    if (scope.count > 0 || names === undefined) {
        return undefined;
    }
    const { registry, charts, files } = names;
    return {
        environment: config.environment,
        hosts: names.servers,
        names: { registry, charts, files },
        registryUsername: username,
        registryPullUsername: pullUsername,
        ...(bundle === undefined ? {} : { bundle }),
    };
}
