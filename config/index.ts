// The one place that reads Pulumi configuration: raw values in, a shaped and defaulted StackConfig
// out, section by section, with every shape problem (unknown keys included) described. Rules across
// keys live in the layers' plans.
import * as pulumi from "@pulumi/pulumi";
import { describeSchemaIssue, nearestKey } from "./issues";
import { problem, SECRET_VALUE } from "./problems";
import { stackConfigSchema, TOP_LEVEL_KEYS, type StackConfig } from "./schema";

export { ConfigError, Problems, problem, show } from "./problems";
export * from "./schema";

/** Settings of the Proxmox provider, read from the `proxmoxve:` namespace. */
export interface ProviderSettings {
    readonly endpoint?: string;
    /** Checked for its shape only; it never appears in a message or in the plan. */
    readonly apiToken?: string;
    readonly insecure?: boolean;
    /** The private key the provider uploads snippets with, instead of an SSH agent (CI). Checked for its shape only. */
    readonly sshPrivateKey?: string;
}

/** The sections whose shape is sound; a section with a shape problem is absent. */
export type ParsedConfig = Partial<StackConfig>;

export interface ReadConfig {
    readonly config: ParsedConfig;
    /** Shape problems, reported together with the plan's. */
    readonly problems: readonly string[];
    readonly provider: ProviderSettings;
    /** The Pulumi stack's name, which must agree with `environment`. */
    readonly stackName: string;
    /** The Proxmox API token, a secret from the first moment it is read. */
    readonly proxmoxApiToken: pulumi.Output<string>;
    /** The provider's SSH key when one is set (else the SSH agent is used); a secret. */
    readonly proxmoxSshKey?: pulumi.Output<string>;
}

/** The provider keys this program reads: it builds its own explicit provider from them and no other. */
const PROVIDER_KEYS = ["endpoint", "apiToken", "insecure", "sshPrivateKey"];

/** Reads the stack's `erpdc:*` and `proxmoxve:*` keys and checks their shape. */
export function readConfig(): ReadConfig {
    const project = pulumi.getProject();
    const raw: Record<string, unknown> = {};
    const providerRaw: Record<string, string> = {};
    for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
        const separator = fullKey.indexOf(":");
        const [namespace, key] = [fullKey.slice(0, separator), fullKey.slice(separator + 1)];
        if (namespace === project) raw[key] = decodeConfigValue(value);
        else if (namespace === "proxmoxve") providerRaw[key] = value;
    }
    const { config, problems } = parseStackConfig(raw, new Set(Object.keys(raw).filter((key) => isConfigSecret(`${project}:${key}`))));
    const providerProblems = checkProviderKeys(providerRaw, new Set(Object.keys(providerRaw).filter((key) => isConfigSecret(`proxmoxve:${key}`))));
    const { endpoint, apiToken, insecure, sshPrivateKey } = providerRaw;
    const provider: ProviderSettings = {
        ...(endpoint === undefined ? {} : { endpoint }),
        // Read in plain text only to check their shape; the plan never echoes them.
        ...(apiToken === undefined ? {} : { apiToken }),
        ...(sshPrivateKey === undefined ? {} : { sshPrivateKey }),
        insecure: insecure === "true",
    };
    return {
        config,
        problems: [...problems, ...providerProblems],
        provider,
        stackName: pulumi.getStack(),
        proxmoxApiToken: pulumi.secret(apiToken ?? ""),
        ...(sshPrivateKey === undefined ? {} : { proxmoxSshKey: pulumi.secret(sshPrivateKey) }),
    };
}

/**
 * True for a key set with `pulumi config set --secret` (a `--path` secret marks its whole top-level
 * key). The SDK's own check reads the engine's PULUMI_CONFIG_SECRET_KEYS; it is exported but marked
 * internal (sdk/nodejs/runtime/config.ts isConfigSecret, @pulumi/pulumi 3.x), hence the typed access.
 */
function isConfigSecret(fullKey: string): boolean {
    const check = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
    // Without the SDK's check every value counts as secret: a message then names the key and the fix only.
    return check === undefined ? true : check(fullKey);
}

/**
 * Pulumi hands every value over as text, maps and lists as JSON. Text that is not JSON (a domain,
 * an environment) stays text; the schema then says what shape it should have had.
 */
function decodeConfigValue(value: string): unknown {
    try {
        return JSON.parse(value) as unknown;
    } catch {
        return value;
    }
}

function checkProviderKeys(providerRaw: Readonly<Record<string, string>>, secretKeys: ReadonlySet<string>): string[] {
    const problems: string[] = [];
    for (const key of Object.keys(providerRaw).filter((k) => !PROVIDER_KEYS.includes(k))) {
        // Provider keys often hold credentials (ssh.password, apiToken under a typo): shown only when neither secret nor named like one.
        const value = secretKeys.has(key) || /password|token|secret|key|ssh/i.test(key) ? SECRET_VALUE : providerRaw[key];
        problems.push(
            problem(
                `proxmoxve:${key}`,
                value,
                `this program builds its own provider from proxmoxve:${PROVIDER_KEYS.join(", proxmoxve:")} only, so the key would do nothing; ${nearestKey(key, PROVIDER_KEYS, "proxmoxve:")}`,
            ),
        );
    }
    const insecure = providerRaw.insecure;
    if (insecure !== undefined && insecure !== "true" && insecure !== "false") {
        problems.push(problem("proxmoxve:insecure", insecure, "use true or false"));
    }
    return problems;
}

/**
 * Checks the shape of the `erpdc:*` keys (as plain values) section by section and fills in the
 * defaults. Unknown top-level keys are problems too, with the nearest valid key as the fix.
 */
export function parseStackConfig(
    raw: Readonly<Record<string, unknown>>,
    /** Top-level keys set with `--secret`: their values never appear in a message. */
    secretKeys: ReadonlySet<string> = new Set(),
): { config: ParsedConfig; problems: string[] } {
    const problems: string[] = [];
    const config: Record<string, unknown> = {};
    const shown = (key: string, value: unknown) => (secretKeys.has(key) && value !== undefined ? SECRET_VALUE : value);
    for (const key of Object.keys(raw).filter((k) => !(TOP_LEVEL_KEYS as string[]).includes(k))) {
        problems.push(problem(`erpdc:${key}`, shown(key, raw[key]), `not a configuration key; ${nearestKey(key, TOP_LEVEL_KEYS, "erpdc:")}`));
    }
    for (const key of TOP_LEVEL_KEYS) {
        const parsed = stackConfigSchema.shape[key].safeParse(raw[key], { reportInput: true });
        if (parsed.success) {
            config[key] = parsed.data;
        } else {
            problems.push(
                ...parsed.error.issues.flatMap((issue) =>
                    describeSchemaIssue({ ...issue, path: [key, ...issue.path], input: shown(key, (issue as { input?: unknown }).input) } as typeof issue),
                ),
            );
        }
    }
    problems.push(...contradictions(raw));
    return { config: config as ParsedConfig, problems };
}

/** Keys that are set but cannot take effect because another key rules them out. */
function contradictions(raw: Readonly<Record<string, unknown>>): string[] {
    const pki = raw.pki as { algorithm?: unknown; rsaBits?: unknown; ecdsaCurve?: unknown } | undefined;
    if (pki === undefined || pki === null || typeof pki !== "object") return [];
    const algorithm = pki.algorithm ?? "ECDSA";
    if (algorithm === "ECDSA" && pki.rsaBits !== undefined) {
        return [problem("pki.rsaBits", pki.rsaBits, 'applies only to pki.algorithm "RSA"; remove it, or set pki.algorithm to "RSA"')];
    }
    if (algorithm === "RSA" && pki.ecdsaCurve !== undefined) {
        return [problem("pki.ecdsaCurve", pki.ecdsaCurve, 'applies only to pki.algorithm "ECDSA"; remove it, or set pki.algorithm to "ECDSA"')];
    }
    return [];
}
