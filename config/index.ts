// The one place that reads Pulumi configuration. Everything else receives typed values.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, resolveStackConfig, type StackConfig } from "./resolve";

export * from "./resolve";

/** Top-level keys of the project namespace, as in Pulumi.<stack>.yaml (`erpdc:<key>`). */
const STRUCTURED_KEYS = ["proxmox", "image", "network", "vms", "mirrors", "internalDomains", "pki", "dns", "registry", "kubernetes", "apps"] as const;
const SCALAR_KEYS = ["environment", "domain"] as const;

export interface LoadedConfig {
    readonly stack: StackConfig;
    /** The Proxmox API token, a secret from the first moment it is read. */
    readonly proxmoxApiToken: pulumi.Output<string>;
}

/** Reads and validates the stack's configuration, and logs its warnings once. */
export function loadStackConfig(): LoadedConfig {
    const loaded = readStackConfig();
    for (const warning of loaded.stack.warnings) {
        pulumi.log.warn(warning);
    }
    return loaded;
}

/** Reads and validates the stack's configuration without logging (for tools run after the program). */
export function readStackConfig(): LoadedConfig {
    const project = new pulumi.Config();
    const provider = new pulumi.Config("proxmoxve");
    const problems: string[] = [];

    const raw: Record<string, unknown> = {};
    for (const key of SCALAR_KEYS) {
        raw[key] = project.get(key);
    }
    for (const key of STRUCTURED_KEYS) {
        try {
            raw[key] = project.getObject(key);
        } catch {
            problems.push(`${key} is not valid YAML/JSON structured configuration: write it as a map in Pulumi.<stack>.yaml`);
        }
    }
    const protectVms = project.get("protectVms");
    if (protectVms !== undefined) {
        raw.protectVms = protectVms === "true" ? true : protectVms === "false" ? false : protectVms;
    }
    const insecure = provider.get("insecure");
    if (insecure !== undefined && insecure !== "true" && insecure !== "false") {
        problems.push(`proxmoxve:insecure is ${JSON.stringify(insecure)}: use true or false`);
    }
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }

    // Read in plain text only to check its shape; resolveStackConfig never echoes it.
    const apiToken = provider.get("apiToken");
    const endpoint = provider.get("endpoint");
    const stack = resolveStackConfig(raw, {
        ...(endpoint === undefined ? {} : { endpoint }),
        ...(apiToken === undefined ? {} : { apiToken }),
        insecure: insecure === "true",
    });
    if (apiToken === undefined) {
        throw new ConfigError([
            "proxmoxve:apiToken is missing: create an API token in Proxmox and store it with " +
                "`pulumi config set --secret proxmoxve:apiToken 'pulumi@pve!erpdc=<uuid>'`",
        ]);
    }
    return { stack, proxmoxApiToken: pulumi.secret(apiToken) };
}
