// The step pulumi up ends with (apps/files/wait_application.py), run with the real kubectl against a
// stand-in API server on 127.0.0.1 that serves discovery and the erp-uno Application, one reading
// after another, in the shapes ArgoCD writes them (pkg/apis/application/v1alpha1/types.go at v3.1.8;
// the retry message from controller/appcontroller.go at that tag).
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { ROOT } from "../../../render/stackConfig";
import { packagedBinary } from "../support";

const SCRIPT = path.join(ROOT, "apps", "files", "wait_application.py");
const APPLICATION_PATH = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/erp-uno";

type Reading = Record<string, unknown> | "unavailable";

const values = (version: string) => ({ global: { imageVersion: version, registry: "registry.erp.uno" } });
const sourceFor = (version: string) => ({
    repoURL: "https://charts.erp.uno",
    chart: "erp-uno",
    targetRevision: "2026.11.0",
    helm: { releaseName: "erp-uno", valuesObject: values(version) },
});
const CURRENT = "2026.12.1";
const PREVIOUS = "2026.11.1";

/** One reading of the Application: the spec asks for CURRENT; the status says what ArgoCD has done. */
function application(status: Record<string, unknown>): Record<string, unknown> {
    return {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: { name: "erp-uno", namespace: "argocd" },
        spec: { project: "erp", source: sourceFor(CURRENT), destination: { server: "https://kubernetes.default.svc", namespace: "erp-services" } },
        status,
    };
}

function statusOf(options: { compared: string; sync: string; health: string; healthMessage?: string; operation?: Record<string, unknown>; conditions?: unknown[]; resources?: unknown[] }): Record<string, unknown> {
    return {
        sync: { status: options.sync, revision: "2026.11.0", comparedTo: { source: sourceFor(options.compared), destination: { server: "https://kubernetes.default.svc", namespace: "erp-services" } } },
        health: { status: options.health, ...(options.healthMessage ? { message: options.healthMessage } : {}) },
        ...(options.operation ? { operationState: options.operation } : {}),
        ...(options.conditions ? { conditions: options.conditions } : {}),
        ...(options.resources ? { resources: options.resources } : {}),
    };
}

function operation(version: string, phase: string, message: string, resources: unknown[] = []): Record<string, unknown> {
    return {
        operation: { sync: { revision: "2026.11.0" } },
        phase,
        message,
        startedAt: "2026-11-22T10:00:00Z",
        syncResult: { revision: "2026.11.0", source: sourceFor(version), resources },
    };
}

const SYNCED_PREVIOUS = application(statusOf({ compared: PREVIOUS, sync: "Synced", health: "Healthy", operation: operation(PREVIOUS, "Succeeded", "successfully synced (all tasks run)") }));
const SYNCING_CURRENT = application(statusOf({ compared: CURRENT, sync: "OutOfSync", health: "Progressing", operation: operation(CURRENT, "Running", "waiting for healthy state of apps/Deployment/n2o-server") }));
const SYNCED_CURRENT = application(statusOf({ compared: CURRENT, sync: "Synced", health: "Healthy", operation: operation(CURRENT, "Succeeded", "successfully synced (all tasks run)") }));
const PORTAL_CHECK_FAILED = [
    { group: "batch", version: "v1", kind: "Job", namespace: "erp-services", name: "erp-uno-portal-check", status: "SyncFailed", hookType: "PostSync", hookPhase: "Failed", message: "Job has reached the specified backoff limit" },
    { group: "apps", version: "v1", kind: "Deployment", namespace: "erp-services", name: "nitro-portal", status: "Synced", message: "deployment.apps/nitro-portal configured" },
];

/** A stand-in API server: discovery for argoproj.io, and the Application as the next reading says. */
async function apiServer(readings: readonly Reading[]): Promise<{ url: string; reads: () => number; close: () => Promise<void> }> {
    let reads = 0;
    const json = (response: http.ServerResponse, status: number, body: unknown) => {
        response.writeHead(status, { "Content-Type": "application/json" });
        response.end(JSON.stringify(body));
    };
    const server = http.createServer((request, response) => {
        const url = (request.url ?? "").split("?")[0];
        if (url === "/api") return json(response, 200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] });
        if (url === "/api/v1") return json(response, 200, { kind: "APIResourceList", groupVersion: "v1", resources: [] });
        if (url === "/apis") {
            const version = { groupVersion: "argoproj.io/v1alpha1", version: "v1alpha1" };
            return json(response, 200, { kind: "APIGroupList", apiVersion: "v1", groups: [{ name: "argoproj.io", versions: [version], preferredVersion: version }] });
        }
        if (url === "/apis/argoproj.io/v1alpha1") {
            return json(response, 200, {
                kind: "APIResourceList",
                apiVersion: "v1",
                groupVersion: "argoproj.io/v1alpha1",
                resources: [{ name: "applications", singularName: "application", namespaced: true, kind: "Application", verbs: ["get", "list", "watch"], shortNames: ["app", "apps"] }],
            });
        }
        if (url === APPLICATION_PATH) {
            const reading = readings[Math.min(reads, readings.length - 1)] as Reading;
            reads += 1;
            if (reading === "unavailable") return json(response, 503, { kind: "Status", apiVersion: "v1", status: "Failure", message: "the server is currently unable to handle the request", code: 503 });
            return json(response, 200, reading);
        }
        return json(response, 404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, reads: () => reads, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface Outcome {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly reads: number;
}

describe("pulumi up's wait for the erp-uno Application (real kubectl, stand-in API server)", function () {
    this.timeout(60000);
    let work: string;
    before(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-wait-"))));
    after(() => fs.rmSync(work, { recursive: true, force: true }));

    async function waitWith(readings: readonly Reading[], timeoutSeconds = 20): Promise<Outcome> {
        const server = await apiServer(readings);
        try {
            const kubeconfig = path.join(work, `kubeconfig-${server.url.split(":").pop()}`);
            fs.writeFileSync(
                kubeconfig,
                YAML.stringify({
                    apiVersion: "v1",
                    kind: "Config",
                    clusters: [{ name: "stand-in", cluster: { server: server.url } }],
                    users: [{ name: "admin", user: {} }],
                    contexts: [{ name: "stand-in", context: { cluster: "stand-in", user: "admin" } }],
                    "current-context": "stand-in",
                }),
            );
            const child = spawn("python3", [SCRIPT], {
                env: {
                    ...process.env,
                    APP_NAMESPACE: "argocd",
                    APP_NAME: "erp-uno",
                    TIMEOUT_SECONDS: String(timeoutSeconds),
                    POLL_SECONDS: "0.05",
                    KUBECTL: `${packagedBinary("kubectl")} --kubeconfig ${kubeconfig} --cache-dir ${path.join(work, "cache")}`,
                },
                stdio: ["ignore", "pipe", "pipe"],
            });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (chunk) => (stdout += chunk));
            child.stderr.on("data", (chunk) => (stderr += chunk));
            const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
            return { status, stdout, stderr, reads: server.reads() };
        } finally {
            await server.close();
        }
    }

    it("ends when the current spec is Synced and Healthy, not on the status the previous spec left", async () => {
        const outcome = await waitWith([SYNCED_PREVIOUS, SYNCED_PREVIOUS, SYNCING_CURRENT, SYNCED_CURRENT]);
        assert.equal(outcome.status, 0, outcome.stderr);
        assert.equal(outcome.reads, 4, "ended before the current spec was synced");
        assert.match(outcome.stdout, /argocd\/erp-uno: Synced and Healthy at 2026\.11\.0/);
        assert.match(outcome.stderr, /not compared the current spec yet/);
        assert.match(outcome.stderr, /sync operation Running: waiting for healthy state of apps\/Deployment\/n2o-server/);
        // Each status change says how long the wait has run.
        assert.match(outcome.stderr, /^\+0:00:\d\d argocd\/erp-uno: .*not compared the current spec yet/m);
    });

    it("accepts a spec whose manifests did not change: Synced and Healthy with no new sync operation", async () => {
        const unchanged = application(statusOf({ compared: CURRENT, sync: "Synced", health: "Healthy", operation: operation(PREVIOUS, "Succeeded", "successfully synced (all tasks run)") }));
        const outcome = await waitWith([unchanged]);
        assert.equal(outcome.status, 0, outcome.stderr);
        assert.equal(outcome.reads, 1);
    });

    it("fails at once with ArgoCD's reason when the sync operation failed after its retries: the message and the failed resource", async () => {
        const retrying = operation(CURRENT, "Running", "one or more synchronization tasks completed unsuccessfully due to application controller sync timeout. Retrying attempt #1 at 10:01AM.", PORTAL_CHECK_FAILED);
        const failed = operation(CURRENT, "Failed", "one or more synchronization tasks completed unsuccessfully (retried 5 times).", PORTAL_CHECK_FAILED);
        const outcome = await waitWith([
            application(statusOf({ compared: CURRENT, sync: "Synced", health: "Healthy", operation: retrying })),
            application(statusOf({ compared: CURRENT, sync: "Synced", health: "Healthy", operation: failed })),
            SYNCED_CURRENT,
        ]);
        assert.equal(outcome.status, 1, outcome.stderr);
        assert.equal(outcome.reads, 2, "a failed operation is final: no waiting until the limit");
        assert.match(outcome.stderr, /ArgoCD could not sync argocd\/erp-uno:/);
        assert.match(outcome.stderr, /does not retry a failed sync of the same spec by itself: once the cause is fixed, start a sync of erp-uno/);
        assert.match(outcome.stderr, /last sync operation: Failed: one or more synchronization tasks completed unsuccessfully \(retried 5 times\)\./);
        assert.match(outcome.stderr, /Job erp-services\/erp-uno-portal-check: SyncFailed: Job has reached the specified backoff limit/);
        assert.doesNotMatch(outcome.stderr, /nitro-portal: /, "a resource that synced is not named as a failure");
    });

    it("does not take the previous spec's failed operation for this one's", async () => {
        const oldFailure = application(statusOf({ compared: PREVIOUS, sync: "OutOfSync", health: "Degraded", operation: operation(PREVIOUS, "Failed", "one or more objects failed to apply") }));
        const outcome = await waitWith([oldFailure, SYNCING_CURRENT, SYNCED_CURRENT]);
        assert.equal(outcome.status, 0, outcome.stderr);
        assert.equal(outcome.reads, 3);
    });

    it("fails at the time limit with the health, the conditions and the resources that are not there yet", async () => {
        const stuck = application(
            statusOf({
                compared: CURRENT,
                sync: "OutOfSync",
                health: "Progressing",
                conditions: [{ type: "ComparisonError", message: "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = chart erp-uno 2026.11.0 not found" }],
                resources: [
                    { group: "apps", version: "v1", kind: "StatefulSet", namespace: "erp-services", name: "kvs-database", status: "OutOfSync", health: { status: "Progressing", message: "Waiting for 1 pods to be ready..." } },
                    { version: "v1", kind: "Service", namespace: "erp-services", name: "kvs-database", status: "Synced", health: { status: "Healthy" } },
                ],
            }),
        );
        const outcome = await waitWith([stuck], 1);
        assert.equal(outcome.status, 2, outcome.stderr);
        assert.ok(outcome.reads > 1, "gave up without waiting");
        assert.match(outcome.stderr, /argocd\/erp-uno is not Synced and Healthy after 1 s:/);
        assert.match(outcome.stderr, /health: Progressing/);
        assert.match(outcome.stderr, /condition ComparisonError: Failed to load target state: .*chart erp-uno 2026\.11\.0 not found/);
        assert.match(outcome.stderr, /StatefulSet erp-services\/kvs-database: OutOfSync, Progressing, Waiting for 1 pods to be ready\.\.\./);
        assert.doesNotMatch(outcome.stderr, /Service erp-services\/kvs-database/, "a healthy resource is not named");
    });

    it("keeps reading while the API server is unavailable, and says so if it never answers", async () => {
        const recovered = await waitWith(["unavailable", "unavailable", SYNCED_CURRENT]);
        assert.equal(recovered.status, 0, recovered.stderr);
        assert.match(recovered.stderr, /cannot read the Application: .*unable to handle the request/);
        const never = await waitWith(["unavailable"], 1);
        assert.equal(never.status, 2);
        assert.match(never.stderr, /the Application was never read\nlast read failed: .*unable to handle the request/);
    });
});
