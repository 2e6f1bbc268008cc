// The Pulumi provider plugins the program needs: one per provider package in package.json, at the
// version that package names in its own "pulumi" field (what the language host reports to the
// engine, and what `pulumi plugin install` must find). Read from the installed packages.
import * as fs from "fs";
import * as path from "path";

export interface ProviderPlugin {
    /** The npm package that needs it. */
    readonly package: string;
    readonly name: string;
    readonly version: string;
    /** The plugin's archive, as the CLI names it for linux-amd64. */
    readonly asset: string;
    /** Where its publisher serves it. */
    readonly source: string;
}

/**
 * The CLI's name for a plugin's archive, and where it fetches it: get.pulumi.com by default, a
 * GitHub release for a `github://api.github.com/<owner>/<repo>` server, `<server>/<asset>` for a
 * plain URL (pulumi/pulumi sdk/go/common/workspace/plugins.go: standardAssetName, getPulumiSource,
 * githubSource, httpSource).
 */
export function pluginAsset(name: string, version: string): string {
    return `pulumi-resource-${name}-v${version}-linux-amd64.tar.gz`;
}

function pluginSource(name: string, version: string, server: string | undefined): string {
    const asset = pluginAsset(name, version);
    if (server === undefined) return `https://get.pulumi.com/releases/plugins/${asset}`;
    // github://api.github.com/<owner>[/<repository>]: the repository is pulumi-<name> when not given.
    const github = /^github:\/\/api\.github\.com\/([^/]+)(?:\/([^/]+))?\/?$/.exec(server);
    if (github) return `https://github.com/${github[1]}/${github[2] ?? `pulumi-${name}`}/releases/download/v${version}/${asset}`;
    if (/^https?:\/\//.test(server)) return `${server.replace(/\/+$/, "")}/${asset}`;
    throw new Error(`plugin ${name}: a server the bundle cannot fetch from: ${server}`);
}

/** The provider plugins of the project at `root`, sorted by name. */
export function providerPlugins(root: string): ProviderPlugin[] {
    const project = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    const plugins: ProviderPlugin[] = [];
    for (const dependency of Object.keys(project.dependencies ?? {})) {
        const manifest = JSON.parse(fs.readFileSync(path.join(root, "node_modules", dependency, "package.json"), "utf8")) as {
            pulumi?: { resource?: boolean; name?: string; version?: string; server?: string };
        };
        const pulumi = manifest.pulumi;
        if (pulumi?.resource !== true) continue;
        if (pulumi.name === undefined || pulumi.version === undefined) throw new Error(`${dependency}'s package.json names no plugin name or version`);
        plugins.push({ package: dependency, name: pulumi.name, version: pulumi.version, asset: pluginAsset(pulumi.name, pulumi.version), source: pluginSource(pulumi.name, pulumi.version, pulumi.server) });
    }
    return plugins.sort((a, b) => a.name.localeCompare(b.name));
}

/** Where the contour serves the plugins: the datacenter mirror's files, reachable before any VM exists. */
export function pluginsFolder(datacenterMirror: string): string {
    return new URL("/files/pulumi-plugins/", datacenterMirror).href;
}
