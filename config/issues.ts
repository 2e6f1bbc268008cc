// Shape problems in the operator's words: the key as written in the stack file, the value as given,
// what is allowed, and the nearest valid key for a misspelt one.
import { closest, distance } from "fastest-levenshtein";
import type { z } from "zod";
import { configKeys } from "./keys";
import { problem, SECRET_VALUE, show } from "./problems";

/** Keys earlier versions accepted, and what to do about each now (a stack file may still carry them). */
const RETIRED_KEYS: Readonly<Record<string, string>> = {
    "mirrors.registry": "the program builds the registry on the infra VM as registry.<domain>; delete the key",
    "mirrors.charts": "the program builds the chart repository on the infra VM as charts.<domain>; delete the key",
    "mirrors.files": "the program builds the files area on the infra VM as files.<domain>; image.url, dns.nsArtifact.url and kubernetes.kubespraySource.url name their files in full; delete the key",
    "proxmox.datastores.disks.shared": "whether VM disks are shared follows from their storage type (rbd is, lvmthin and zfspool never are); delete the key",
};

/** "did you mean X?" when a valid key is close enough to be the intended one, else the list. */
export function nearestKey(key: string, valid: readonly string[], prefix = ""): string {
    const lower = key.toLowerCase();
    const prefixed = valid.find((k) => k.toLowerCase().startsWith(lower) || lower.startsWith(k.toLowerCase()));
    const candidate = prefixed ?? (valid.length > 0 ? closest(key, [...valid]) : undefined);
    const close = candidate !== undefined && (prefixed !== undefined || distance(lower, candidate.toLowerCase()) <= Math.max(2, Math.floor(key.length / 3)));
    return close ? `did you mean ${prefix}${candidate}?` : `the keys here are ${valid.map((k) => `${prefix}${k}`).join(", ")}`;
}

/** The key path as an operator writes it: `vms.workers.addresses[2]`. */
export function keyPath(path: readonly PropertyKey[]): string {
    return path.map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`)).join("");
}

/** The schema's key for a path: list positions become `[]` (`proxmox.hosts[0].name` -> `proxmox.hosts[].name`). */
function schemaKey(path: readonly PropertyKey[]): string {
    return path.map((part, i) => (typeof part === "number" ? "[]" : `${i === 0 ? "" : "."}${String(part)}`)).join("");
}

/** The keys directly under a map in the schema. */
function childKeys(parent: string): string[] {
    const prefix = `${parent}.`;
    return [...new Set(configKeys().filter((entry) => entry.key.startsWith(prefix)).map((entry) => (entry.key.slice(prefix.length).split(/[.[]/)[0] as string)))];
}

function descriptionOf(path: readonly PropertyKey[]): string | undefined {
    return configKeys().find((entry) => entry.key === schemaKey(path))?.description;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
    string: "text",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    array: "a list ([a, b] or one '- item' per line)",
    object: "a map (key: value lines)",
    record: "a map (key: value lines)",
};

/** One schema issue as "<key> is <value>: <what is wrong>; <the fix>" lines. */
export function describeSchemaIssue(issue: z.core.$ZodIssue): string[] {
    const key = keyPath(issue.path);
    const input = (issue as { input?: unknown }).input;
    const hint = descriptionOf(issue.path);
    const withHint = (text: string) => (hint ? `${text} (${hint})` : text);
    switch (issue.code) {
        case "unrecognized_keys":
            return issue.keys.map((unknown) => {
                const full = `${key}.${unknown}`;
                const retired = RETIRED_KEYS[schemaKey([...issue.path, unknown])];
                const value = input === SECRET_VALUE ? SECRET_VALUE : (input as Record<string, unknown> | undefined)?.[unknown];
                return problem(full, value, retired ? `was removed: ${retired}` : `not a configuration key; ${nearestKey(unknown, childKeys(schemaKey(issue.path)))}`);
            });
        case "invalid_type":
            return [
                input === undefined
                    ? `${key} is missing: set it in Pulumi.<stack>.yaml to ${withHint(TYPE_NAMES[issue.expected] ?? issue.expected)}`
                    : problem(key, input, `expected ${withHint(TYPE_NAMES[issue.expected] ?? issue.expected)}`),
            ];
        case "invalid_value":
            return [problem(key, input, `use one of ${issue.values.map((v) => show(v)).join(", ")}`)];
        case "invalid_union": {
            // The value has the shape of one branch (e.g. a map) but something inside it is wrong: say that.
            const inside = issue.errors.find((branch) => branch.length > 0 && branch.every((inner) => inner.path.length > 0));
            if (inside) {
                return inside.flatMap((inner) => describeSchemaIssue({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue));
            }
            const allowed = issue.errors.flat().flatMap((inner) => (inner.code === "invalid_value" ? inner.values : inner.code === "invalid_type" ? [TYPE_NAMES[inner.expected] ?? inner.expected] : []));
            return [problem(key, input, `use ${allowed.map((v) => (typeof v === "string" && v.includes(" ") ? v : show(v))).join(" or ")}`)];
        }
        case "too_small":
        case "too_big": {
            const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
            const inclusive = issue.inclusive !== false;
            const word = issue.code === "too_small" ? (inclusive ? "at least" : "more than") : inclusive ? "at most" : "less than";
            const what = issue.origin === "array" ? `list ${word} ${String(bound)} entries` : issue.origin === "string" ? (bound === 1 && issue.code === "too_small" ? "must not be empty" : `use ${word} ${String(bound)} characters`) : `use ${word} ${String(bound)}`;
            return [problem(key, input, withHint(what))];
        }
        case "invalid_format":
            return [problem(key, input, withHint(issue.format === "regex" && "pattern" in issue ? `does not match ${String(issue.pattern)}` : `is not a valid ${issue.format}`))];
        default:
            return [problem(key, input, withHint(issue.message))];
    }
}
