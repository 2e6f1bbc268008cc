// Runs the real program under Pulumi's mock engine (pulumi.runtime.setMocks) and records every
// resource registration in full: type, name, parent, provider, inputs, dependencies, protect,
// ignoreChanges. The offline render and the tests both use it; no CLI, credentials or network.
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { ArtifactSink, settle } from "../lib/artifacts";
import { deterministicEd25519 } from "./mockKeys";
import { PlannedSteps } from "./steps";

export const PROJECT = "erpdc";

export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly parent?: string;
    readonly provider?: string;
    readonly protect: boolean;
    readonly ignoreChanges: readonly string[];
    readonly deleteBeforeReplace: boolean;
    /** Input paths whose change replaces the resource whatever the provider says (the replaceOnChanges option). */
    readonly replaceOnChanges: readonly string[];
    /** URNs of the resources whose replacement replaces this one too (the replaceWith option). */
    readonly replaceWith: readonly string[];
    /** URNs this resource waits for, explicit (dependsOn) and implicit (through its inputs). */
    readonly dependencies: readonly string[];
    /** Outputs the state keeps as secrets besides those the provider marks (the additionalSecretOutputs option). */
    readonly additionalSecretOutputs: readonly string[];
    /** Inputs as the engine receives them; secrets are replaced by "[secret]", unknowns by "[unknown]". */
    readonly inputs: Record<string, unknown>;
    /**
     * A sha256 over the secret inputs' values, when there are any: it tells a changed secret input
     * from an unchanged one without showing it. Kept in memory for tests; never written to a file.
     */
    readonly secretDigest?: string;
    /**
     * The inputs with the secrets' values in place: only when the run asked for them
     * (`revealSecrets`), for the integration tier that runs the commands for real. Never written.
     */
    readonly revealedInputs?: Record<string, unknown>;
}

export interface StackOutput {
    readonly value: unknown;
    readonly known: boolean;
    readonly secret: boolean;
}

export interface StackRun {
    /** What the program logged with pulumi.log.warn, in order (the engine shows these in `pulumi up`). */
    readonly warnings: readonly string[];
    readonly resources: readonly RecordedResource[];
    readonly outputs: Readonly<Record<string, StackOutput>>;
    readonly artifacts: ArtifactSink;
}

export interface RunOptions {
    readonly stack: string;
    /** Fully qualified keys ("erpdc:domain", "proxmoxve:endpoint") to string values (JSON for objects). */
    readonly config: Readonly<Record<string, string>>;
    readonly secretKeys?: readonly string[];
    /** Preview mode: outputs the provider computes are unknown, as in `pulumi preview` of a new stack. */
    readonly preview?: boolean;
    /**
     * A preview of an update of this state (the resources of an earlier run, made with
     * `revealSecrets`), as `pulumi preview` shows it: a resource whose step is "same"
     * (render/steps.ts) has known outputs (computed as in update mode, so as the state's when it was
     * made without `regenerate`); the computed outputs of one created, updated or replaced are
     * unknown, and so is the ID of one created or replaced. Implies preview mode.
     */
    readonly previewAgainst?: readonly RecordedResource[];
    /** Keep each resource's inputs with the secrets' values too (revealedInputs); in memory only. */
    readonly revealSecrets?: boolean;
    /**
     * Names of resources to treat as replaced (`pulumi up --replace`): their computed outputs come
     * out new, and so do those of the certificates and requests signed from them, whose outputs
     * follow their inputs. Lifecycle tests use it to see what a replacement reaches.
     */
    readonly regenerate?: readonly string[];
}

export const SECRET_MARK = "[secret]";
/** How the SDK prefixes pulumi.log.warn when no engine is attached (@pulumi/pulumi log/index.js). */
const RUNTIME_WARNING = "warning: [runtime] ";
export const UNKNOWN_MARK = "[unknown]";

type Program = (artifacts?: ArtifactSink) => Promise<Record<string, unknown>>;

/** Runs index.ts under mocks. Throws what the program throws (e.g. a ConfigError). */
export async function runStack(options: RunOptions, recorded: RecordedResource[] = []): Promise<StackRun> {
    const preview = (options.preview ?? false) || options.previewAgainst !== undefined;
    const steps = options.previewAgainst === undefined ? undefined : new PlannedSteps(options.previewAgainst, options.regenerate ?? []);
    await pulumi.runtime.setMocks(mocksFor(preview, new Set(options.regenerate ?? []), steps), PROJECT, options.stack, preview);
    pulumi.runtime.setAllConfig({ ...options.config }, [...(options.secretKeys ?? [])]);

    const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
    const tracker = recordRegistrations(monitor, recorded, options.revealSecrets ?? false, steps);
    const failures: unknown[] = [];
    const onRejection = (reason: unknown) => failures.push(reason);
    process.on("unhandledRejection", onRejection);
    // Without an engine the SDK prints warnings with console.warn; keep them with the run instead,
    // so that the caller decides whether to show them.
    const warnings: string[] = [];
    const consoleWarn = console.warn;
    console.warn = (...args: unknown[]) => {
        const text = args.map(String).join(" ");
        if (text.startsWith(RUNTIME_WARNING)) warnings.push(text.slice(RUNTIME_WARNING.length));
        else consoleWarn(...args);
    };
    try {
        const program = require("../index") as Program;
        const artifacts = new ArtifactSink();
        const exported = await program(artifacts);
        const outputs: Record<string, StackOutput> = {};
        for (const [key, value] of Object.entries(exported)) {
            outputs[key] = await settle(pulumi.output(value));
        }
        await tracker.drained();
        if (failures.length > 0) {
            throw failures[0];
        }
        return { warnings, resources: [...recorded].sort((a, b) => a.urn.localeCompare(b.urn)), outputs, artifacts };
    } finally {
        console.warn = consoleWarn;
        process.off("unhandledRejection", onRejection);
    }
}

function mocksFor(preview: boolean, regenerate: ReadonlySet<string>, steps?: PlannedSteps): pulumi.runtime.Mocks {
    return {
        newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, unknown> } {
            const step = steps?.of(args.type, args.name);
            if (step === "same") {
                return { id: mockId(args), state: { ...args.inputs, ...computedOutputs(args, "") } };
            }
            if (step === "update") {
                // Updated in place: the ID stays; what the provider computes comes out of the update.
                return { id: mockId(args), state: args.inputs };
            }
            if (preview) {
                // Like `pulumi preview` of a new stack: IDs and computed outputs are not known yet.
                return { id: undefined, state: args.inputs };
            }
            return { id: mockId(args), state: { ...args.inputs, ...computedOutputs(args, regenerate.has(args.name) ? "regenerated" : "") } };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            throw new Error(`the offline engine has no provider function ${args.token}; the program must not need one`);
        },
    };
}

/** The IDs the real providers would give, where other resources refer to them. */
function mockId({ type, name, inputs }: pulumi.runtime.MockResourceArgs): string {
    switch (type) {
        case "proxmoxve:index/vmLegacy:VmLegacy":
            return String(inputs.vmId);
        case "proxmoxve:download/fileLegacy:FileLegacy":
            return `${inputs.datastoreId}:${inputs.contentType}/${inputs.fileName}`;
        case "proxmoxve:index/fileLegacy:FileLegacy":
            return `${inputs.datastoreId}:${inputs.contentType}/${(inputs.sourceRaw as { fileName: string }).fileName}`;
        default:
            return `${name}-id`;
    }
}

/**
 * What the providers would compute, made deterministic so that two renders are identical.
 * Certificates are labelled placeholders: the tls provider signs the real ones during `pulumi up`
 * (the end-to-end tests make a real CA of their own).
 */
function computedOutputs({ type, name, inputs }: pulumi.runtime.MockResourceArgs, generation: string): Record<string, unknown> {
    // A key's material follows its name (and generation); what is signed follows its inputs too,
    // so that a new key yields new requests and certificates, as the tls provider would.
    const signed = type !== "tls:index/privateKey:PrivateKey" ? JSON.stringify(inputs) : "";
    const placeholderPem = (label: string) =>
        `Offline render placeholder for ${name}; the tls provider creates the real one during pulumi up.\n` +
        `-----BEGIN ${label}-----\n${createHash("sha256").update(`${type}/${name}${generation}${signed}`).digest("base64")}\n-----END ${label}-----\n`;
    switch (type) {
        case "tls:index/privateKey:PrivateKey":
            return inputs.algorithm === "ED25519"
                ? { ...deterministicEd25519(`${name}${generation}`) }
                : { privateKeyPem: placeholderPem(["PRIVATE", "KEY"].join(" ")), publicKeyPem: placeholderPem("PUBLIC KEY") };
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { certPem: placeholderPem("CERTIFICATE") };
        case "tls:index/certRequest:CertRequest":
            return { certRequestPem: placeholderPem("CERTIFICATE REQUEST") };
        case "random:index/randomPassword:RandomPassword": {
            const length = Number(inputs.length);
            const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            const bytes = createHash("sha512").update(`erpdc-offline-render/${name}${generation}`).digest();
            return { result: Array.from({ length }, (_, i) => alphabet[(bytes[i % bytes.length] as number) % alphabet.length]).join("") };
        }
        case "random:index/randomId:RandomId":
            return { hex: createHash("sha256").update(`erpdc-offline-render/${name}${generation}`).digest("hex").slice(0, 2 * Number(inputs.byteLength)) };
        case "command:remote:Command":
            return { stdout: String(inputs.create).includes("/etc/kubernetes/admin.conf") ? placeholderKubeconfig(name) : "", stderr: "" };
        case "command:local:Command":
            return { stdout: "", stderr: "" };
        case "kubernetes:helm.sh/v3:Release":
            return { status: { status: "deployed", revision: 1 } };
        default:
            return {};
    }
}

/** What `cat /etc/kubernetes/admin.conf` prints, with labelled placeholder credentials. */
function placeholderKubeconfig(name: string): string {
    const data = Buffer.from(`offline render placeholder (${name})`).toString("base64");
    return [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: cluster.local",
        "  cluster:",
        `    certificate-authority-data: ${data}`,
        "    server: https://127.0.0.1:6443",
        "users:",
        "- name: kubernetes-admin",
        "  user:",
        `    client-certificate-data: ${data}`,
        `    client-key-data: ${data}`,
        "contexts:",
        "- name: kubernetes-admin@cluster.local",
        "  context: {cluster: cluster.local, user: kubernetes-admin}",
        "current-context: kubernetes-admin@cluster.local",
        "",
    ].join("\n");
}

interface RequestLike {
    getType(): string;
    getName(): string;
    getCustom(): boolean;
    getParent(): string;
    getProvider(): string;
    getProtect(): boolean;
    getIgnorechangesList(): string[];
    getDeletebeforereplace(): boolean;
    getReplaceonchangesList(): string[];
    getReplaceWithList(): string[];
    getDependenciesList(): string[];
    getAdditionalsecretoutputsList(): string[];
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}

interface MonitorLike {
    registerResource(request: RequestLike, callback: (error: unknown, response?: { getUrn(): string }) => void): Promise<void>;
}

function recordRegistrations(monitor: MonitorLike, recorded: RecordedResource[], revealSecrets: boolean, steps?: PlannedSteps) {
    const original = monitor.registerResource.bind(monitor);
    let inflight = 0;
    monitor.registerResource = (request, callback) => {
        inflight++;
        const provider = request.getProvider() ? request.getProvider().split("::").slice(0, 4).join("::") : undefined;
        const step = steps?.decide({
            type: request.getType(),
            name: request.getName(),
            ignoreChanges: [...request.getIgnorechangesList()],
            replaceOnChanges: [...request.getReplaceonchangesList()],
            replaceWith: [...request.getReplaceWithList()],
            ...(provider === undefined ? {} : { provider }),
            inputs: reveal(request.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>,
        });
        return original(request, (error, response) => {
            inflight--;
            if (!error && response && step !== undefined) steps?.registered(response.getUrn(), step);
            if (!error && response) {
                const secrets: unknown[] = [];
                const raw = request.getObject()?.toJavaScript() ?? {};
                const inputs = redact(raw, secrets) as Record<string, unknown>;
                recorded.push({
                    urn: response.getUrn(),
                    type: request.getType(),
                    name: request.getName(),
                    custom: request.getCustom(),
                    ...(request.getParent() ? { parent: request.getParent() } : {}),
                    ...(provider === undefined ? {} : { provider }),
                    protect: request.getProtect() === true,
                    ignoreChanges: [...request.getIgnorechangesList()],
                    deleteBeforeReplace: request.getDeletebeforereplace(),
                    replaceOnChanges: [...request.getReplaceonchangesList()],
                    replaceWith: [...request.getReplaceWithList()].sort(),
                    dependencies: [...new Set(request.getDependenciesList())].sort(),
                    additionalSecretOutputs: [...request.getAdditionalsecretoutputsList()].sort(),
                    inputs,
                    ...(secrets.length === 0 ? {} : { secretDigest: createHash("sha256").update(JSON.stringify(secrets)).digest("hex") }),
                    ...(revealSecrets ? { revealedInputs: reveal(raw) as Record<string, unknown> } : {}),
                });
            }
            callback(error, response);
        });
    };
    return {
        /** Resolves once no registration has been in flight for several turns of the event loop. */
        async drained(): Promise<void> {
            let quietTurns = 0;
            let lastCount = -1;
            while (quietTurns < 5) {
                await new Promise((resolve) => setTimeout(resolve, 2));
                quietTurns = inflight === 0 && recorded.length === lastCount ? quietTurns + 1 : 0;
                lastCount = recorded.length;
            }
        },
    };
}

// Signatures of the Pulumi wire format (sdk/nodejs/runtime/rpc.ts).
const SIGNATURE_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";
const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The value with secrets unwrapped (and unknowns marked). */
function reveal(value: unknown): unknown {
    if (value === UNKNOWN_VALUE) return UNKNOWN_MARK;
    if (Array.isArray(value)) return value.map(reveal);
    if (value !== null && typeof value === "object") {
        const object = value as Record<string, unknown>;
        switch (object[SIGNATURE_KEY]) {
            case SECRET_SIG:
                return reveal(object.value);
            case RESOURCE_SIG:
                return { $ref: object.urn };
            case OUTPUT_SIG:
                return "value" in object ? reveal(object.value) : UNKNOWN_MARK;
            default:
                return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, reveal(inner)]));
        }
    }
    return value;
}

/** The value with secrets and unknowns replaced by marks; the secret values go to `secrets`. */
function redact(value: unknown, secrets: unknown[]): unknown {
    if (value === UNKNOWN_VALUE) {
        return UNKNOWN_MARK;
    }
    if (Array.isArray(value)) {
        return value.map((item) => redact(item, secrets));
    }
    if (value !== null && typeof value === "object") {
        const object = value as Record<string, unknown>;
        switch (object[SIGNATURE_KEY]) {
            case SECRET_SIG:
                secrets.push(object.value);
                return SECRET_MARK;
            case RESOURCE_SIG:
                return { $ref: object.urn };
            case OUTPUT_SIG:
                if (object.secret) {
                    secrets.push(object.value);
                    return SECRET_MARK;
                }
                return "value" in object ? redact(object.value, secrets) : UNKNOWN_MARK;
            default:
                return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, redact(inner, secrets)]));
        }
    }
    return value;
}
