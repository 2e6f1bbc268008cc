// The bundle commands' `--name value` options.

/** The value after `name`; an option given without a value is an error naming it. */
export function option(argv: readonly string[], name: string): string | undefined {
    const index = argv.indexOf(name);
    if (index < 0) return undefined;
    const value = argv[index + 1];
    if (value === undefined || value.startsWith("--")) throw new Error(`${name} needs a value`);
    return value;
}
