import * as pulumi from "@pulumi/pulumi";

/**
 * Every problem found in the stack configuration, reported together and before any resource is
 * registered. A RunError, so Pulumi prints the message without a stack trace.
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

/** Formats a value for a message: strings quoted, the rest as compact JSON, long values cut. */
export function show(value: unknown): string {
    const text = value === undefined ? "missing" : JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** "<key> is <value>: <what is wrong>; <the fix>" */
export function problem(key: string, value: unknown, text: string): string {
    return value === undefined ? `${key} is missing: ${text}` : `${key} is ${show(value)}: ${text}`;
}
