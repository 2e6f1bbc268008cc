// Reads Pulumi.<stack>.yaml the way the Pulumi CLI hands it to the program, for offline runs.
// Encrypted values (`secure:`) cannot be read without the stack's secrets provider, and a secret
// may not be set yet at all: both become clearly fake placeholders, still marked secret.
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { ConfigError } from "../config/problems";
import { PROJECT } from "./engine";

/** The project: the nearest directory above this file that holds Pulumi.yaml (the source tree, or above bin/ when compiled). */
export const ROOT = projectRoot(__dirname);

function projectRoot(from: string): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`no Pulumi.yaml above ${from}: run erpdc from its project`);
    }
}

export const PLACEHOLDERS: Readonly<Record<string, string>> = {
    "proxmoxve:apiToken": "offline-render@pve!placeholder=00000000-0000-0000-0000-000000000000",
};
const GENERIC_PLACEHOLDER = "offline-render-placeholder";

export interface OfflineConfig {
    readonly config: Record<string, string>;
    readonly secretKeys: string[];
    /** Secret keys that got a placeholder because the real value is encrypted or not set. */
    readonly placeholders: string[];
}

export function stackFile(stack: string): string {
    return path.join(ROOT, `Pulumi.${stack}.yaml`);
}

export function listStacks(): string[] {
    return fs
        .readdirSync(ROOT)
        .map((file) => /^Pulumi\.([a-z0-9-]+)\.yaml$/.exec(file)?.[1])
        .filter((name): name is string => name !== undefined)
        .sort();
}

/** The `config:` map of a stack file (`erpdc:*` and `proxmoxve:*` keys), a copy of its own to edit. */
export function stackDocument(stack: string): Record<string, any> {
    const file = stackFile(stack);
    if (!fs.existsSync(file)) {
        throw new ConfigError([`stack "${stack}" does not exist: there is no ${path.relative(ROOT, file)}; use one of ${listStacks().join(", ")}`]);
    }
    const document = (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    return structuredClone(document.config ?? {});
}

export function loadOfflineConfig(stack: string): OfflineConfig {
    return fromConfigMap(stackDocument(stack));
}

/** Converts a stack file's `config:` map into the runtime's flat string map. */
export function fromConfigMap(map: Readonly<Record<string, unknown>>): OfflineConfig {
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    const placeholders: string[] = [];
    for (const [rawKey, rawValue] of Object.entries(map)) {
        const key = rawKey.includes(":") ? rawKey : `${PROJECT}:${rawKey}`;
        let secret = false;
        const value = replaceSecure(rawValue, () => {
            secret = true;
            return PLACEHOLDERS[key] ?? GENERIC_PLACEHOLDER;
        });
        config[key] = typeof value === "string" ? value : JSON.stringify(value);
        if (secret) {
            secretKeys.push(key);
            placeholders.push(key);
        }
    }
    for (const [key, placeholder] of Object.entries(PLACEHOLDERS)) {
        if (!(key in config)) {
            config[key] = placeholder;
            secretKeys.push(key);
            placeholders.push(key);
        }
    }
    return { config, secretKeys, placeholders };
}

function replaceSecure(value: unknown, placeholder: () => string): unknown {
    if (Array.isArray(value)) {
        return value.map((item) => replaceSecure(item, placeholder));
    }
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>);
        if (entries.length === 1 && entries[0]?.[0] === "secure") {
            return placeholder();
        }
        return Object.fromEntries(entries.map(([key, inner]) => [key, replaceSecure(inner, placeholder)]));
    }
    return value;
}
