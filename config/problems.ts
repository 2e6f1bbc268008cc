// How configuration problems are collected and reported: every problem at once, each naming the
// key, the value and the fix, before any resource is registered.
import * as pulumi from "@pulumi/pulumi";
import { hostOf, isInternalHost } from "../lib/net";
import { urlProblem, type UrlGrammar } from "../lib/urls";

/**
 * Every problem found in the stack configuration, reported together. A RunError, so Pulumi prints
 * the message without a stack trace.
 */
export class ConfigError extends pulumi.RunError {
    constructor(readonly problems: readonly string[]) {
        super(
            `The stack configuration has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
                problems.map((problem) => `  - ${problem}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** Stands for the value of a key set with `pulumi config set --secret`: a message never shows it. */
export const SECRET_VALUE: unique symbol = Symbol("secret value");

/** Formats a value for a message: strings quoted, the rest as compact JSON, long values cut; secrets never. */
export function show(value: unknown): string {
    if (value === SECRET_VALUE) return "(value not shown)";
    const text = value === undefined ? "missing" : JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** "<key> is <value>: <what is wrong>; <the fix>" */
export function problem(key: string, value: unknown, text: string): string {
    return value === undefined ? `${key} is missing: ${text}` : `${key} is ${show(value)}: ${text}`;
}

/** Where the contour's boundary lies: production refuses public hosts, other stacks warn. */
export interface ContourPolicy {
    readonly production: boolean;
    /** The stack's domain first, then `internalDomains`. */
    readonly internalDomains: readonly string[];
    /**
     * False while `domain` or `internalDomains` is itself wrong: the boundary is unknown then, and
     * judging URLs against it would only add errors that follow from that one.
     */
    readonly known: boolean;
}

/**
 * The one collector every plan stage reports to. A scope (`scope()`) reports to the same lists and
 * counts its own problems, so that a stage can tell "my model is unsound" from "something else is wrong".
 */
export class Problems {
    private readonly errors: string[];
    private readonly warningList: string[];
    private readonly parent: Problems | undefined;
    private own = 0;

    constructor(
        private readonly contour: ContourPolicy,
        shared?: { errors: string[]; warnings: string[]; parent: Problems },
    ) {
        this.errors = shared?.errors ?? [];
        this.warningList = shared?.warnings ?? [];
        this.parent = shared?.parent;
    }

    /** Problems reported to this collector or its scopes. */
    get count(): number {
        return this.own;
    }

    get warnings(): readonly string[] {
        return this.warningList;
    }

    /** A collector that reports here and counts its own problems. */
    scope(): Problems {
        return new Problems(this.contour, { errors: this.errors, warnings: this.warningList, parent: this });
    }

    private counted(n: number): void {
        this.own += n;
        this.parent?.counted(n);
    }

    /** A problem with a key and its value. */
    fail(key: string, value: unknown, text: string): void {
        this.errors.push(problem(key, value, text));
        this.counted(1);
    }

    /** A problem already phrased in full (several keys, or a computed figure). */
    add(...texts: string[]): void {
        this.errors.push(...texts);
        this.counted(texts.length);
    }

    warn(text: string): void {
        this.warningList.push(text);
    }

    /** A URL or host that must stay inside the contour: an error in production, a warning elsewhere. */
    requireInternal(key: string, reference: string): void {
        const host = hostOf(reference);
        if (!this.contour.known || host === undefined || isInternalHost(host, this.contour.internalDomains)) {
            return;
        }
        const message = problem(
            key,
            reference,
            `${host} is outside the closed contour; point it at the internal mirror under ${this.contour.internalDomains[0]} ` +
                `(or a private address), or list its domain in internalDomains`,
        );
        if (this.contour.production) {
            this.add(message);
        } else {
            this.warningList.push(message);
        }
    }

    /** An http(s) URL, written as its consumer reads it (lib/urls.ts), whose host must stay inside the contour. */
    requireInternalUrl(key: string, url: string, fix: string, path?: Pick<UrlGrammar, "path" | "pathText">): void {
        const reason = urlProblem(url, { schemes: ["http", "https"], ...path });
        if (reason !== undefined) {
            this.fail(key, url, `${reason}; ${fix}`);
        } else {
            this.requireInternal(key, url);
        }
    }

    /** A tarball on the files mirror, pinned by sha256 (outside production, with a warning, by the mirror's SHA256SUMS). */
    requireTarball(key: string, artifact: { readonly url: string; readonly sha256?: string | undefined }, what: string): void {
        this.requireInternalUrl(`${key}.url`, artifact.url, `use the http(s) URL of ${what} (.tar.gz) on the internal files mirror`, { path: /^\/.+\.(tar\.gz|tgz)$/, pathText: "a .tar.gz file" });
        if (artifact.sha256 === undefined && this.contour.production) {
            this.fail(`${key}.sha256`, undefined, `production installs only ${what} it can pin; set the sha256 of the tarball you published (sha256sum prints it)`);
        } else if (artifact.sha256 === undefined) {
            this.warn(`${key}.sha256 is missing: ${what} is then only checked against the SHA256SUMS next to it on the mirror; pin its sha256`);
        } else if (!/^[0-9a-f]{64}$/.test(artifact.sha256)) {
            this.fail(`${key}.sha256`, artifact.sha256, "a sha256 checksum is 64 lowercase hexadecimal digits (sha256sum prints it)");
        }
    }

    /** Whether the stack is production (the rules that only production enforces). */
    get production(): boolean {
        return this.contour.production;
    }

    /** Throws every problem collected so far, if any. */
    throwIfAny(): void {
        if (this.errors.length > 0) {
            throw new ConfigError(this.errors);
        }
    }
}
