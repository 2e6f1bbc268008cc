// The one place that reads Pulumi configuration: raw values in, a shaped and defaulted StackConfig
// out (or every shape problem at once). Rules across keys live in the layers' plans.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ConfigError, show } from "./problems";
import { stackConfigSchema, TOP_LEVEL_KEYS, type StackConfig } from "./schema";

export { ConfigError, Problems, problem, show } from "./problems";
export * from "./schema";

/** Settings of the Proxmox provider, read from the `proxmoxve:` namespace. */
export interface ProviderSettings {
    readonly endpoint?: string;
    /** Checked for its shape only; it never appears in a message or in the plan. */
    readonly apiToken?: string;
    readonly insecure?: boolean;
}

export interface ReadConfig {
    readonly config: StackConfig;
    readonly provider: ProviderSettings;
    /** The Proxmox API token, a secret from the first moment it is read. */
    readonly proxmoxApiToken: pulumi.Output<string>;
}

const SCALAR_KEYS: readonly string[] = ["environment", "domain", "protectVms"];

/** Reads the stack's `erpdc:*` and `proxmoxve:*` keys and checks their shape. Throws ConfigError. */
export function readConfig(): ReadConfig {
    const project = new pulumi.Config();
    const providerConfig = new pulumi.Config("proxmoxve");
    const problems: string[] = [];

    const raw: Record<string, unknown> = {};
    for (const key of TOP_LEVEL_KEYS) {
        if (SCALAR_KEYS.includes(key)) {
            raw[key] = project.get(key);
            continue;
        }
        try {
            raw[key] = project.getObject(key);
        } catch {
            problems.push(`${key} is not valid YAML/JSON structured configuration: write it as a map in Pulumi.<stack>.yaml`);
        }
    }
    if (raw.protectVms !== undefined) {
        raw.protectVms = raw.protectVms === "true" ? true : raw.protectVms === "false" ? false : raw.protectVms;
    }
    const insecure = providerConfig.get("insecure");
    if (insecure !== undefined && insecure !== "true" && insecure !== "false") {
        problems.push(`proxmoxve:insecure is ${JSON.stringify(insecure)}: use true or false`);
    }
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    const config = parseStackConfig(raw);
    // Read in plain text only to check its shape; the plan never echoes it.
    const apiToken = providerConfig.get("apiToken");
    const endpoint = providerConfig.get("endpoint");
    const provider: ProviderSettings = {
        ...(endpoint === undefined ? {} : { endpoint }),
        ...(apiToken === undefined ? {} : { apiToken }),
        insecure: insecure === "true",
    };
    return { config, provider, proxmoxApiToken: pulumi.secret(apiToken ?? "") };
}

/** Checks the shape of the `erpdc:*` keys (as plain values) and fills in the defaults. */
export function parseStackConfig(raw: unknown): StackConfig {
    const parsed = stackConfigSchema.safeParse(raw, { reportInput: true });
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.flatMap(describeSchemaIssue));
    }
    return parsed.data;
}

/** Keys earlier versions accepted, and what to do about each now (a stack file may still carry them). */
const RETIRED_KEYS: Readonly<Record<string, string>> = {
    "mirrors.registry": "the program builds the registry on the infra VM as registry.<domain>; delete the key",
    "mirrors.charts": "the program builds the chart repository on the infra VM as charts.<domain>; delete the key",
    "mirrors.files": "the program builds the files area on the infra VM as files.<domain>; image.url, dns.nsArtifact.url and kubernetes.kubespraySource.url name their files in full; delete the key",
};

function describeSchemaIssue(issue: z.core.$ZodIssue): string[] {
    const key = issue.path.map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`)).join("");
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
        case "unrecognized_keys": {
            const retired = issue.keys.filter((k) => RETIRED_KEYS[`${key}.${k}`] !== undefined);
            const unknown = issue.keys.filter((k) => !retired.includes(k));
            return [
                ...retired.map((k) => `${key}.${k} was removed: ${RETIRED_KEYS[`${key}.${k}`]}`),
                ...(unknown.length === 0
                    ? []
                    : [`${key || "the configuration"} has unknown key(s) ${unknown.map((k) => show(k)).join(", ")}: check the spelling against the README's configuration reference`]),
            ];
        }
        case "invalid_type":
            return [
                input === undefined
                    ? `${key} is missing: set it in Pulumi.<stack>.yaml (see the README's configuration reference)`
                    : `${key} is ${show(input)}: expected ${issue.expected}`,
            ];
        case "invalid_value":
            return [`${key} is ${show(input)}: use one of ${issue.values.map((v) => show(v)).join(", ")}`];
        case "too_small":
        case "too_big":
        default:
            return [`${key} is ${show(input)}: ${issue.message.toLowerCase()}`];
    }
}
