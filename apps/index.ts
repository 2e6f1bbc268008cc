// The apps layer: publishes the erp-uno chart, installs ArgoCD from the internal chart server, and
// hands erp-uno to ArgoCD (automated sync, prune, self-heal) with this stack's values.
import * as fs from "fs";
import * as path from "path";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import YAML from "yaml";
import type { KubesprayCluster } from "../cluster";
import type { StackConfig } from "../config";
import type { ProxmoxLayer } from "../infra";
import type { InfraServices } from "../infra/infraHost";
import type { LocalCa, ServerCertificate } from "../infra/pki";
import { bcryptHash } from "../infra/services";
import type { ArtifactSink } from "../render/artifacts";
import { loadChart } from "./catalog";

const PUBLISH_SCRIPT = fs.readFileSync(path.join(__dirname, "files", "publish-chart.sh"), "utf8");
/** Relative to the project directory, where Pulumi runs the program: the same on every machine. */
const CHART_PATH = "apps/charts/erp-uno";
const IN_CLUSTER = "https://kubernetes.default.svc";

export interface ErpAppsArgs {
    readonly config: StackConfig;
    readonly infra: ProxmoxLayer;
    readonly services: InfraServices;
    readonly ca: LocalCa;
    readonly cluster: KubesprayCluster;
    readonly artifacts: ArtifactSink;
}

export class ErpApps extends pulumi.ComponentResource {
    readonly argocdUrl: string;
    readonly portalUrl: string;
    /** Secret. */
    readonly argocdAdminPassword: pulumi.Output<string>;

    constructor(name: string, args: ErpAppsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("erpdc:apps:ErpApps", name, {}, opts);
        const { config, infra, services, ca, cluster, artifacts } = args;
        const { apps, domain } = config;
        const chart = loadChart();
        const k8sOpts = { parent: this, provider: cluster.provider };
        const argocdHost = `argocd.${domain}`;
        const portalHost = `portal.${domain}`;
        this.argocdUrl = `https://${argocdHost}`;
        this.portalUrl = `https://${portalHost}`;
        artifacts.add("apps/erp-uno-values.yaml", YAML.stringify(apps.values));

        // Namespaces in the brief's tier order, each after the one below it.
        const tiers = Object.entries(chart.defaults.namespaces).sort(([, a], [, b]) => a.tier - b.tier);
        const namespaces = new Map<string, k8s.core.v1.Namespace>();
        let below: k8s.core.v1.Namespace | undefined;
        for (const [namespace, { tier }] of tiers) {
            below = new k8s.core.v1.Namespace(
                namespace,
                {
                    metadata: {
                        name: namespace,
                        labels: { "app.kubernetes.io/part-of": "erp-uno", "erp.uno/tier": String(tier), "pod-security.kubernetes.io/enforce": "restricted" },
                    },
                },
                // Lower tiers never depend on upper ones, so they come up first.
                { ...k8sOpts, dependsOn: below ? [below] : [] },
            );
            namespaces.set(namespace, below);
        }
        const argocdNamespace = new k8s.core.v1.Namespace("argocd-namespace", { metadata: { name: "argocd" } }, k8sOpts);

        const tlsSecret = (secretName: string, namespace: k8s.core.v1.Namespace, certificate: ServerCertificate) =>
            new k8s.core.v1.Secret(
                secretName,
                {
                    metadata: { name: secretName, namespace: namespace.metadata.name },
                    type: "kubernetes.io/tls",
                    stringData: { "tls.crt": certificate.certificatePem, "tls.key": certificate.privateKeyPem },
                },
                k8sOpts,
            );
        const argocdTls = tlsSecret("argocd-server-tls", argocdNamespace, ca.issue("argocd", [argocdHost]));
        const portalTls = tlsSecret("erp-tls-cert", namespaces.get("erp-services") as k8s.core.v1.Namespace, ca.issue("portal", [portalHost]));

        const password = new random.RandomPassword("argocd-admin-password", { length: 24, special: false }, { parent: this });
        this.argocdAdminPassword = pulumi.secret(password.result);

        const publish = new command.local.Command(
            "publish-erp-uno",
            {
                create: PUBLISH_SCRIPT,
                interpreter: ["/bin/bash", "-c"],
                environment: {
                    CHART_DIR: CHART_PATH,
                    CHART_VERSION: chart.version,
                    // Changes exactly when a file of the chart changes: the chart is published again then.
                    CHART_SHA256: chart.contentSha256,
                    REGISTRY: services.registryHost,
                    REGISTRY_USER: services.registryUsername,
                    REGISTRY_PASSWORD: services.registryPassword,
                    CA_PEM: ca.certificatePem,
                    CHARTS_URL: services.chartsUrl,
                    INFRA_HOST: (config.vms.find((vm) => vm.role === "infra") as { address: string }).address,
                    ADMIN_USER: config.adminUser,
                    SSH_KEY: pulumi.secret(infra.adminKey.privateKeyOpenssh),
                },
            },
            // The registry and the chart server must serve before anything is pushed to them.
            { parent: this, dependsOn: [...services.ready] },
        );

        const registry = services.registryHost;
        const argocd = new k8s.helm.v3.Release(
            "argocd",
            {
                name: "argocd",
                chart: "argo-cd",
                version: apps.argocd.chartVersion,
                namespace: argocdNamespace.metadata.name,
                // The operator's helm trusts the local CA (README: prerequisites).
                repositoryOpts: { repo: services.chartsUrl },
                atomic: true,
                timeout: 900,
                values: {
                    global: { domain: argocdHost, image: { repository: `${registry}/argoproj/argocd`, tag: apps.argocd.imageTag } },
                    redis: { image: { repository: `${registry}/docker/library/redis`, tag: apps.argocd.redisImageTag } },
                    dex: { enabled: false },
                    configs: {
                        secret: {
                            argocdServerAdminPassword: this.argocdAdminPassword.apply((secret) => bcryptHash(secret, "argocd-admin")),
                            // Fixed, so that the values (and the release) only change with the password.
                            argocdServerAdminPasswordMtime: "2026-01-01T00:00:00Z",
                        },
                        // ArgoCD's repo server trusts the local CA for the internal chart server and Git.
                        tls: { certificates: { [config.services.charts]: ca.certificatePem } },
                        repositories: { "erp-charts": { name: "erp-charts", type: "helm", url: services.chartsUrl } },
                    },
                    server: {
                        ingress: {
                            enabled: true,
                            ingressClassName: "nginx",
                            hostname: argocdHost,
                            tls: true,
                            annotations: {
                                "nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
                                "nginx.ingress.kubernetes.io/ssl-redirect": "true",
                            },
                        },
                    },
                },
            },
            // The ingress serves argocd-server-tls, made from the local CA before the release.
            { ...k8sOpts, dependsOn: [argocdTls] },
        );

        const sourceRepo = apps.gitRepoUrl ?? services.chartsUrl;
        const project = new k8s.apiextensions.CustomResource(
            "erp-project",
            {
                apiVersion: "argoproj.io/v1alpha1",
                kind: "AppProject",
                metadata: { name: "erp", namespace: argocdNamespace.metadata.name },
                spec: {
                    description: "ERP/1: only the internal chart server or Git, only the six ERP namespaces",
                    sourceRepos: [sourceRepo],
                    destinations: tiers.map(([namespace]) => ({ server: IN_CLUSTER, namespace })),
                    // Namespaces come from Pulumi; the chart creates nothing cluster-wide.
                    clusterResourceWhitelist: [],
                },
            },
            // The AppProject kind exists once the ArgoCD release has installed its CRDs.
            { ...k8sOpts, dependsOn: [argocd] },
        );
        const source = apps.gitRepoUrl
            ? { repoURL: apps.gitRepoUrl, path: CHART_PATH, targetRevision: "main", helm: { releaseName: "erp-uno", valuesObject: apps.values } }
            : { repoURL: services.chartsUrl, chart: chart.name, targetRevision: chart.version, helm: { releaseName: "erp-uno", valuesObject: apps.values } };
        new k8s.apiextensions.CustomResource(
            "erp-uno",
            {
                apiVersion: "argoproj.io/v1alpha1",
                kind: "Application",
                metadata: {
                    name: "erp-uno",
                    namespace: argocdNamespace.metadata.name,
                    finalizers: ["resources-finalizer.argocd.argoproj.io"],
                },
                spec: {
                    project: "erp",
                    source,
                    destination: { server: IN_CLUSTER, namespace: "erp-services" },
                    syncPolicy: {
                        automated: { prune: true, selfHeal: true },
                        syncOptions: ["CreateNamespace=true"],
                        retry: { limit: 5, backoff: { duration: "10s", factor: 2, maxDuration: "3m" } },
                    },
                },
            },
            // The chart must be published, the project and namespaces there, and the portal's certificate in place.
            { ...k8sOpts, dependsOn: [project, publish, portalTls, ...namespaces.values()] },
        );
        this.registerOutputs({ argocdUrl: this.argocdUrl, portalUrl: this.portalUrl });
    }
}
