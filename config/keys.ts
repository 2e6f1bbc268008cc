// The configuration keys as a list, read from the schema itself: the README's configuration
// table is generated from it (`npm run docs`), and the tests check every key is described,
// documented and used.
import type { z } from "zod";
import { stackConfigSchema } from "./schema";

export interface ConfigKey {
    /** The key path as an operator writes it: `proxmox.hosts[].name`, `kubernetes.podCidr`. */
    readonly key: string;
    readonly description: string;
    /** The default, as JSON, when the schema has one. */
    readonly defaultValue?: string;
    /** Neither optional nor defaulted. */
    readonly required: boolean;
    /** A list of maps: its members are keys of their own. */
    readonly container: boolean;
}

interface Def {
    readonly type: string;
    readonly innerType?: z.ZodType;
    readonly defaultValue?: unknown;
    readonly shape?: Record<string, z.ZodType>;
    readonly element?: z.ZodType;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Every key of the stack configuration, in schema order: leaves, and lists of maps. */
export function configKeys(): ConfigKey[] {
    const keys: ConfigKey[] = [];
    const visit = (schema: z.ZodType, key: string, description: string | undefined, required: boolean, defaultValue: unknown): void => {
        const def = defOf(schema);
        const own = description ?? schema.description;
        if (def.type === "default" || def.type === "optional") {
            visit(def.innerType as z.ZodType, key, own, false, def.type === "default" ? def.defaultValue : defaultValue);
            return;
        }
        if (def.type === "object" && def.shape) {
            for (const [name, child] of Object.entries(def.shape)) {
                visit(child, key ? `${key}.${name}` : name, undefined, true, undefined);
            }
            return;
        }
        const isObjectList = def.type === "array" && def.element !== undefined && defOf(def.element).type === "object";
        keys.push({
            key,
            description: own ?? "",
            ...(defaultValue === undefined ? {} : { defaultValue: JSON.stringify(defaultValue) }),
            required,
            container: isObjectList,
        });
        if (isObjectList) {
            visit(def.element as z.ZodType, `${key}[]`, undefined, true, undefined);
        }
    };
    visit(stackConfigSchema, "", undefined, true, undefined);
    return keys;
}

/** The README's configuration table, generated from the schema. */
export function configKeysMarkdown(): string {
    const escape = (text: string) => text.replace(/\|/g, "\\|");
    return [
        "| key | required | default | meaning |",
        "|---|---|---|---|",
        ...configKeys().map(
            (entry) =>
                `| \`${entry.key}\` | ${entry.required ? "yes" : ""} | ${entry.defaultValue === undefined ? "" : `\`${escape(entry.defaultValue)}\``} | ${escape(entry.description)} |`,
        ),
    ].join("\n");
}
