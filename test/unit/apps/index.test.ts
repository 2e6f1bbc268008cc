// The apps layer under the mock engine, and the pure value composition and capacity check.
import { strict as assert } from "assert";
import bcrypt from "bcryptjs";
import { loadChart } from "../../../apps/catalog";
import { allocatable, capacityProblem, componentDemand } from "../../../apps/capacity";
import { composeValues, cpuMillis, effectiveValues, memoryMiB } from "../../../apps/values";
import { ConfigError } from "../../../config";
import { SECRET_MARK, runStack, type RecordedResource } from "../../../render/engine";
import { fromConfigMap } from "../../../render/stackConfig";
import { bcryptHash } from "../../../lib/bcrypt";
import { baselineRun, dependsOn, find, runStackFile, stackDocument } from "../../helpers";


describe("apps layer (production, update)", () => {
    let run: Awaited<ReturnType<typeof runStackFile>>;
    before(async () => (run = await baselineRun("production")));

    it("installs ArgoCD from the internal chart server, pinned, with every image from the internal registry, after the cluster is up", () => {
        const release = find(run.resources, "argocd");
        assert.equal(release.type, "kubernetes:helm.sh/v3:Release");
        assert.equal(release.inputs.chart, "argo-cd");
        assert.equal(release.inputs.version, "8.6.4");
        assert.deepEqual(release.inputs.repositoryOpts, { repo: "https://charts.erp.uno" });
        const values = release.inputs.values as any;
        assert.equal(values.global.image.repository, "registry.erp.uno/argoproj/argocd");
        assert.equal(values.redis.image.repository, "registry.erp.uno/docker/library/redis");
        assert.equal(values.server.ingress.hostname, "argocd.erp.uno");
        assert.equal(values.configs.secret.argocdServerAdminPassword, SECRET_MARK);
        assert.equal(release.provider, find(run.resources, "kubernetes").urn);
        assert.ok(dependsOn(run.resources, "argocd", "kubespray"), "the release does not wait for Kubespray");
        assert.ok(release.dependencies.includes(find(run.resources, "argocd-server-tls").urn));
    });

    it("limits the AppProject to the internal chart server and the six ERP namespaces", () => {
        const project = find(run.resources, "erp-project");
        const spec = project.inputs.spec as any;
        assert.deepEqual(spec.sourceRepos, ["https://charts.erp.uno"]);
        assert.deepEqual(spec.destinations.map((d: any) => d.namespace), ["erp-infra", "erp-telemetry", "erp-security", "erp-ai", "erp-services", "erp-apps"]);
        assert.deepEqual(spec.clusterResourceWhitelist, []);
        assert.ok(project.dependencies.includes(find(run.resources, "argocd").urn));
    });

    it("syncs erp-uno automatically with prune, self-heal and retries, from the published chart, into the namespaces Pulumi made", () => {
        const application = find(run.resources, "erp-uno");
        const spec = application.inputs.spec as any;
        const chart = loadChart();
        assert.deepEqual(spec.source.repoURL, "https://charts.erp.uno");
        assert.equal(spec.source.chart, "erp-uno");
        assert.equal(spec.source.targetRevision, chart.version);
        assert.deepEqual(spec.syncPolicy.automated, { prune: true, selfHeal: true });
        // The project allows no cluster-scoped resource, so ArgoCD must not create namespaces.
        assert.equal((spec.syncPolicy.syncOptions ?? []).includes("CreateNamespace=true"), false);
        assert.deepEqual((find(run.resources, "erp-project").inputs.spec as any).clusterResourceWhitelist, []);
        // Waiting is the erp-uno-synced step's (below), not the provider's await, whose timeout names no reason.
        assert.equal((application.inputs.metadata as any).annotations?.["pulumi.com/waitFor"], undefined);
        assert.equal(spec.syncPolicy.retry.limit, 5);
        assert.equal(spec.source.helm.valuesObject.global.registry, "registry.erp.uno");
        for (const name of ["publish-erp-uno", "erp-project", "erp-tls-cert", "erp-apps"]) {
            assert.ok(application.dependencies.includes(find(run.resources, name).urn), `Application does not wait for ${name}`);
        }
    });

    it("ends pulumi up with a wait on the first control-plane node for the Application's current spec, within 30 minutes", async () => {
        const wait = find(run.resources, "erp-uno-synced");
        const application = find(run.resources, "erp-uno");
        assert.equal(wait.type, "command:remote:Command");
        assert.ok(wait.dependencies.includes(application.urn), "the wait does not follow the Application");
        assert.deepEqual(wait.replaceWith, [application.urn]);
        const revealed = await runStackFile("production", { revealSecrets: true });
        assert.equal((find(revealed.resources, "erp-uno-synced").revealedInputs?.connection as { host: string }).host, "10.0.0.11", "not k8s-control1");
        const create = String(wait.inputs.create);
        assert.match(create, /APP_NAMESPACE='argocd' APP_NAME='erp-uno' TIMEOUT_SECONDS='1800' /);
        assert.match(create, /KUBECTL='sudo \/usr\/local\/bin\/kubectl --kubeconfig \/etc\/kubernetes\/admin.conf' python3 -c /);
        // Waits again when what ArgoCD deploys changes, and only then.
        const same = await runStackFile("production", {});
        assert.deepEqual(find(same.resources, "erp-uno-synced").inputs.triggers, wait.inputs.triggers);
        const release = await runStackFile("production", { edit: (d) => (d["erpdc:apps"].imageVersion = "2026.12.1") });
        assert.notDeepEqual(find(release.resources, "erp-uno-synced").inputs.triggers, wait.inputs.triggers);
    });

    it("labels every namespace restricted for Pod Security, but the one exception the chart declares (erp-security), which still warns and audits at restricted", () => {
        for (const namespace of ["erp-infra", "erp-telemetry", "erp-security", "erp-ai", "erp-services", "erp-apps"]) {
            const labels = (find(run.resources, namespace).inputs.metadata as any).labels;
            assert.equal(labels["pod-security.kubernetes.io/enforce"], namespace === "erp-security" ? "privileged" : "restricted", namespace);
            assert.equal(labels["pod-security.kubernetes.io/warn"], "restricted", namespace);
            assert.equal(labels["pod-security.kubernetes.io/audit"], "restricted", namespace);
        }
    });

    it("deploys from Git at the pinned revision, with the Git server's certificate trusted by ArgoCD", async () => {
        const fromGit = await runStackFile("production", {
            edit: (d) => Object.assign(d["erpdc:apps"], { gitRepoUrl: "https://git.erp.uno/erp/erp-uno.git", gitRevision: "v2026.11.1" }),
        });
        const source = (find(fromGit.resources, "erp-uno").inputs.spec as any).source;
        assert.deepEqual([source.repoURL, source.path, source.targetRevision], ["https://git.erp.uno/erp/erp-uno.git", "apps/charts/erp-uno", "v2026.11.1"]);
        const certificates = (find(fromGit.resources, "argocd").inputs.values as any).configs.tls.certificates;
        assert.deepEqual(Object.keys(certificates).sort(), ["charts.erp.uno", "git.erp.uno"]);
        assert.equal(certificates["git.erp.uno"], certificates["charts.erp.uno"]);
    });

    it("keeps erp-security restricted where no component needs the exception (dev's light profile has no vpn-wireguard)", async () => {
        const dev = await baselineRun("dev");
        assert.equal((find(dev.resources, "erp-security").inputs.metadata as any).labels["pod-security.kubernetes.io/enforce"], "restricted");
    });

    it("brings the namespaces up in tier order", () => {
        const order = ["erp-infra", "erp-telemetry", "erp-security", "erp-ai", "erp-services", "erp-apps"];
        for (let i = 1; i < order.length; i++) {
            assert.ok(find(run.resources, order[i] as string).dependencies.includes(find(run.resources, order[i - 1] as string).urn), order[i]);
        }
    });

    it("publishes the chart to every infra VM only when its content changes, with the key as a secret", async () => {
        const publish = find(run.resources, "publish-erp-uno");
        const environment = publish.inputs.environment as Record<string, string>;
        assert.equal(environment.CHART_SHA256, loadChart().contentSha256);
        assert.deepEqual((JSON.parse(environment.INFRA_HOSTS as string) as { name: string }[]).map((host) => host.name), ["infra1", "infra2"]);
        assert.equal(environment.SSH_KEY, SECRET_MARK);
        for (const name of ["infra1-registry", "infra1-nginx", "infra2-registry", "infra2-nginx"]) {
            assert.ok(publish.dependencies.includes(find(run.resources, name).urn), `publishing does not wait for ${name}`);
        }
        const again = await runStackFile("production");
        assert.deepEqual(find(again.resources, "publish-erp-uno").inputs, publish.inputs);
    });

    it("exports the ArgoCD admin password only as a secret", () => {
        assert.equal(run.outputs.argocdAdminPassword?.secret, true);
        assert.equal(run.outputs.argocdUrl?.value, "https://argocd.erp.uno");
    });
});

describe("apps values and capacity", () => {
    const chart = loadChart();
    const input = { domain: "erp.uno", portalHost: "portal.erp.uno", environment: "production", registry: "registry.erp.uno", imageVersion: "2026.11.1" };

    it("enables the whole catalog in full and a light subset in dev, one replica each", () => {
        const full = effectiveValues(chart, composeValues(chart, { ...input, profile: "full" }));
        const enabled = (values: typeof full) => Object.values(values.services).flatMap((members) => Object.entries(members).filter(([, s]) => s.enabled));
        assert.equal(enabled(full).length, 30);
        assert.equal(full.services["erp-services"]?.["nitro-portal"]?.replicas, 2);
        const light = effectiveValues(chart, composeValues(chart, { ...input, profile: "light" }));
        assert.equal(enabled(light).length, 9);
        for (const [, service] of enabled(light) as [string, { replicas: number; hpa: unknown }][]) {
            assert.equal(service.replicas, 1);
            assert.equal(service.hpa, null);
        }
    });

    it("counts every replica an autoscaler may add, and the local-path volumes of each", () => {
        const values = effectiveValues(chart, composeValues(chart, { ...input, profile: "full" }));
        const min = componentDemand(values, "minimum");
        const max = componentDemand(values, "maximum");
        // The three HPAs of the catalog go from 2 to 6, 10 and 6 (values.yaml): 16 more pods, each a StatefulSet member with a 10Gi claim.
        const hpas = Object.values(values.services).flatMap((members) => Object.values(members)).filter((svc) => svc.enabled && svc.hpa);
        const extra = hpas.reduce((sum, svc) => sum + ((svc.hpa?.maxReplicas ?? 0) - (svc.hpa?.minReplicas ?? 0)), 0);
        assert.equal(extra, 16);
        assert.equal(max.pods - min.pods, extra);
        assert.equal(max.storageGiB - min.storageGiB, extra * 10);
        assert.equal([min.storageGiB, max.storageGiB].join("/"), "260/420");
    });

    it("leaves room on each node for the kubelet, calico-node and nodelocaldns, and once for CoreDNS and its autoscaler, calico-kube-controllers, metrics-server and ArgoCD", () => {
        const one = allocatable([{ cores: 8, memoryMiB: 32768, diskGiB: 200 }]);
        // 8000m - 250 (kubelet) - 150 (calico-node) - 100 (nodelocaldns) - 200 (CoreDNS x2) - 20 (its autoscaler) - 30 - 100 (metrics-server) - 550 (ArgoCD's six parts)
        assert.equal(one.cpuMillis, 8000 - 250 - 150 - 100 - 200 - 20 - 30 - 100 - 550);
        assert.equal(one.memoryMiB, 32768 - 1024 - 61 - 70 - 140 - 10 - 61 - 200 - (512 + 256 + 128 + 64 + 64 + 64));
        assert.equal(one.storageGiB, 170);
    });

    it("refuses nodes that cannot hold the components at their HPA maxima, naming what is short and the keys to grow", () => {
        const need = componentDemand(effectiveValues(chart, composeValues(chart, { ...input, profile: "full" })), "maximum");
        assert.equal(capacityProblem(need, [{ cores: 8, memoryMiB: 32768, diskGiB: 500 }], "full"), undefined);
        assert.match(capacityProblem(need, [{ cores: 2, memoryMiB: 4096, diskGiB: 500 }], "full") ?? "", /request [\d.]+ CPU, [\d.]+ GiB of memory .* can give [\d.-]+ CPU, .* CPU and [\d.]+ GiB of memory short; add workers/);
        const disk = capacityProblem(need, [{ cores: 8, memoryMiB: 32768, diskGiB: 100 }, { cores: 8, memoryMiB: 32768, diskGiB: 100 }], "full") ?? "";
        assert.match(disk, /420 GiB of local-path volumes .* 140 GiB .* 280 GiB of disk short; .*vms\.workers\.diskGiB/);
    });

    it("reads quantities as the chart's schema allows them, and refuses the rest instead of computing NaN", () => {
        assert.deepEqual([cpuMillis("500m"), cpuMillis("0.5"), cpuMillis("2")], [500, 500, 2000]);
        assert.deepEqual([memoryMiB("128Mi"), memoryMiB("1Gi"), memoryMiB("512Ki")], [128, 1024, 0.5]);
        assert.throws(() => memoryMiB("128m"), /memory quantity "128m": use Ki, Mi, Gi or Ti/);
        assert.throws(() => memoryMiB("128"), /use Ki, Mi, Gi or Ti/);
        assert.throws(() => cpuMillis("1.5m"), /CPU quantity "1.5m"/);
    });

    it("stops a stack whose workers are too small before any resource is registered", async () => {
        const document = stackDocument("production");
        Object.assign((document["erpdc:vms"] as { workers: object }).workers, { cores: 1, memoryMiB: 2048 });
        const offline = fromConfigMap(document);
        const recorded: RecordedResource[] = [];
        await assert.rejects(runStack({ stack: "production", config: offline.config, secretKeys: offline.secretKeys }, recorded), (error: unknown) => {
            assert.ok(error instanceof ConfigError);
            assert.match(error.message, /apps: at their HPA maxima the full profile's components request .* add workers/);
            return true;
        });
        assert.equal(recorded.length, 0);
    });

    it("hashes the admin password with bcrypt, the same way every time", () => {
        const hash = bcryptHash("s3cret", "argocd-admin");
        assert.ok(bcrypt.compareSync("s3cret", hash));
        assert.equal(bcryptHash("s3cret", "argocd-admin"), hash);
    });
});
