// The erp-uno chart as data: its version and default values (the catalog of components).
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";

export const CHART_DIR = path.join(__dirname, "charts", "erp-uno");

export interface ServiceValues {
    enabled: boolean;
    replicas: number;
    stateful: boolean;
    image: { repository: string; tag?: string };
    resources: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
    ports: { name: string; port: number; targetPort?: number; protocol?: string }[];
    hpa?: { minReplicas: number; maxReplicas: number; cpu: number; memory?: number } | null;
    persistence?: { enabled?: boolean; size?: string };
    /** Seconds a slow starter may take before /health answers (a startup probe). */
    startupSeconds?: number;
    /** The component's exception from the restricted Pod Security level, with its reason. */
    privileges?: { reason: string; runAsRoot?: boolean; capabilities?: string[] };
}

export type PodSecurityLevel = "restricted" | "baseline" | "privileged";

export interface ChartValues {
    global: { domain: string; environment: string; registry: string; imagePullPolicy: string; version: string };
    namespaces: Record<string, { enabled: boolean; tier: number; podSecurity?: PodSecurityLevel; podSecurityReason?: string }>;
    services: Record<string, Record<string, ServiceValues>>;
    ingress: { enabled: boolean; className: string; host: string; tlsSecretName: string; service: { namespace: string; name: string; port: number } };
    [key: string]: unknown;
}

export interface Chart {
    readonly name: string;
    readonly version: string;
    readonly appVersion: string;
    readonly defaults: ChartValues;
    /** Every file of the chart, by path relative to its directory. */
    readonly files: Readonly<Record<string, string>>;
    /** Hash of every file: the chart is published again exactly when it changes. */
    readonly contentSha256: string;
}

export function loadChart(dir: string = CHART_DIR): Chart {
    const files: Record<string, string> = {};
    const walk = (relative: string) => {
        for (const entry of fs.readdirSync(path.join(dir, relative), { withFileTypes: true })) {
            const child = path.posix.join(relative, entry.name);
            if (entry.isDirectory()) walk(child);
            else files[child] = fs.readFileSync(path.join(dir, child), "utf8");
        }
    };
    walk("");
    const meta = YAML.parse(files["Chart.yaml"] ?? "") as { name: string; version: string; appVersion: string };
    const digest = createHash("sha256");
    for (const file of Object.keys(files).sort()) digest.update(`${file}\0${files[file]}\0`);
    return {
        name: meta.name,
        version: meta.version,
        appVersion: String(meta.appVersion),
        defaults: YAML.parse(files["values.yaml"] ?? "") as ChartValues,
        files,
        contentSha256: digest.digest("hex"),
    };
}
