// The apps layer: publishes the erp-uno chart, installs ArgoCD from the internal chart server, and
// hands erp-uno to ArgoCD (automated sync, prune, self-heal) with this stack's values.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type * as tls from "@pulumi/tls";
import * as random from "@pulumi/random";
import YAML from "yaml";
import type { KubesprayCluster } from "../cluster";
import type { InfraServices } from "../infraServices";
import type { ArtifactSink } from "../lib/artifacts";
import { bcryptHash } from "../lib/bcrypt";
import { shellQuote } from "../lib/remote";
import type { LocalCa, ServerCertificate } from "../pki";
import type { ProxmoxLayer } from "../proxmox";
import { ARGOCD_REQUESTS } from "./capacity";
import { effectiveValues } from "./values";
import type { AppsPlan } from "./plan";

const PUBLISH_SCRIPT = fs.readFileSync(path.join(__dirname, "files", "publish-chart.sh"), "utf8");
/** Relative to the project directory, where Pulumi runs the program: the same on every machine. */
const CHART_PATH = "apps/charts/erp-uno";
const IN_CLUSTER = "https://kubernetes.default.svc";

export interface ErpAppsArgs {
    readonly plan: AppsPlan;
    readonly proxmox: ProxmoxLayer;
    readonly services: InfraServices;
    readonly ca: LocalCa;
    readonly cluster: KubesprayCluster;
    readonly artifacts: ArtifactSink;
}

/**
 * pulumi up ends when ArgoCD has synced the Application's current spec and it is healthy (the last
 * sync operation, with its PostSync portal check, succeeded), or fails with ArgoCD's reason: the
 * failed operation's message, or at this limit the status, conditions and resources not there yet.
 * Long enough for a first sync of 30 components pulling from the contour's registry.
 */
export const APPLICATION_TIMEOUT_SECONDS = 1800;
const APPLICATION_POLL_SECONDS = 10;
const WAIT_APPLICATION = fs.readFileSync(path.join(__dirname, "files", "wait_application.py"), "utf8");
/** Kubespray's kubectl and admin kubeconfig on a control-plane node (bin_dir /usr/local/bin, v2.28.0). */
const NODE_KUBECTL = "sudo /usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf";

export class ErpApps extends pulumi.ComponentResource {
    readonly argocdUrl: string;
    readonly portalUrl: string;
    /** Secret. */
    readonly argocdAdminPassword: pulumi.Output<string>;
    private readonly plan: AppsPlan;
    private readonly k8sOpts: pulumi.CustomResourceOptions;

    constructor(name: string, args: ErpAppsArgs, opts?: pulumi.ComponentResourceOptions) {
        // The type token is part of every URN in existing state: it never changes.
        super("erpdc:apps:ErpApps", name, {}, opts);
        const { plan, ca, artifacts } = args;
        this.plan = plan;
        this.k8sOpts = { parent: this, provider: args.cluster.provider };
        this.argocdUrl = `https://${plan.names.argocd}`;
        this.portalUrl = `https://${plan.names.portal}`;
        artifacts.add("apps/erp-uno-values.yaml", YAML.stringify(plan.values));

        const namespaces = this.createNamespaces();
        const argocdNamespace = new k8s.core.v1.Namespace("argocd-namespace", { metadata: { name: "argocd" } }, this.k8sOpts);
        const argocdTls = this.tlsSecret("argocd-server-tls", argocdNamespace, ca.serverCertificates.argocd);
        const portalTls = this.tlsSecret("erp-tls-cert", namespaces.get("erp-services") as k8s.core.v1.Namespace, ca.serverCertificates.portal);

        const password = new random.RandomPassword("argocd-admin-password", { length: 24, special: false }, { parent: this });
        this.argocdAdminPassword = pulumi.secret(password.result);

        const publish = this.publishChart(args);
        const argocd = this.installArgocd(args, argocdNamespace, argocdTls);
        // The AppProject's sourceRepos must equal the Application's repoURL, so both come from here.
        const sourceRepo = this.plan.gitRepoUrl ?? args.services.chartsUrl;
        const project = this.createProject(argocdNamespace, argocd, sourceRepo);
        const source = this.applicationSource(sourceRepo);
        const application = this.createApplication(argocdNamespace, [project, publish, portalTls, ...namespaces.values()], source);
        this.waitForSync(args, application, source);
        this.registerOutputs({ argocdUrl: this.argocdUrl, portalUrl: this.portalUrl });
    }

    /** The chart's namespaces in the brief's tier order, in that order. */
    private tiers(): string[] {
        return Object.entries(this.plan.chart.defaults.namespaces)
            .sort(([, a], [, b]) => a.tier - b.tier)
            .map(([namespace]) => namespace);
    }

    private createNamespaces(): Map<string, k8s.core.v1.Namespace> {
        const namespaces = new Map<string, k8s.core.v1.Namespace>();
        const effective = effectiveValues(this.plan.chart, this.plan.values);
        let below: k8s.core.v1.Namespace | undefined;
        for (const namespace of this.tiers()) {
            const { tier, podSecurity = "restricted" } = this.plan.chart.defaults.namespaces[namespace] ?? { tier: 0 };
            // The exception holds only while a component that needs it runs there (the light profile has none).
            const members = Object.values(effective.services[namespace] ?? {});
            const enforce = members.some((svc) => svc.enabled && svc.privileges) ? podSecurity : "restricted";
            below = new k8s.core.v1.Namespace(
                namespace,
                {
                    metadata: {
                        name: namespace,
                        labels: {
                            "app.kubernetes.io/part-of": "erp-uno",
                            "erp.uno/tier": String(tier),
                            // The chart's values name the one exception and its reason (namespaces.<ns>.podSecurity);
                            // warn and audit stay at restricted, so any other pod that needs more shows up.
                            "pod-security.kubernetes.io/enforce": enforce,
                            "pod-security.kubernetes.io/warn": "restricted",
                            "pod-security.kubernetes.io/audit": "restricted",
                        },
                    },
                },
                // Lower tiers never depend on upper ones, so they come up first.
                { ...this.k8sOpts, dependsOn: below ? [below] : [] },
            );
            namespaces.set(namespace, below);
        }
        return namespaces;
    }

    private tlsSecret(secretName: string, namespace: k8s.core.v1.Namespace, certificate: ServerCertificate): k8s.core.v1.Secret {
        return new k8s.core.v1.Secret(
            secretName,
            {
                metadata: { name: secretName, namespace: namespace.metadata.name },
                type: "kubernetes.io/tls",
                stringData: { "tls.crt": certificate.certificatePem, "tls.key": certificate.privateKeyPem },
            },
            this.k8sOpts,
        );
    }

    /**
     * Pushes the chart to every infra VM's registry (OCI) and classic repository; again only when a
     * chart file changes, or after a run that missed a VM (a failed create is not kept in state).
     */
    private publishChart({ proxmox, services }: ErpAppsArgs): command.local.Command {
        const { chart, chartHosts, adminUser } = this.plan;
        const infraHosts = pulumi
            .all(chartHosts.map((vm) => (proxmox.hostKeys[vm.name] as tls.PrivateKey).publicKeyOpenssh.apply((hostKey) => ({ name: vm.name, address: vm.address, sshPort: 22, registry: services.registryListen, chartsRoot: services.chartsRoot, hostKey }))))
            .apply((hosts) => JSON.stringify(hosts));
        return new command.local.Command(
            "publish-erp-uno",
            {
                create: PUBLISH_SCRIPT,
                interpreter: ["/bin/bash", "-c"],
                environment: {
                    CHART_DIR: CHART_PATH,
                    CHART_VERSION: chart.version,
                    // Changes exactly when a file of the chart changes: the chart is published again then.
                    CHART_SHA256: chart.contentSha256,
                    CHARTS_URL: services.chartsUrl,
                    INFRA_HOSTS: infraHosts,
                    ADMIN_USER: adminUser,
                    SSH_KEY: pulumi.secret(proxmox.adminKey.privateKeyOpenssh),
                },
            },
            // The registry and the chart server must serve before anything is pushed to them.
            { parent: this, dependsOn: [...services.ready] },
        );
    }

    private installArgocd({ services, ca }: ErpAppsArgs, namespace: k8s.core.v1.Namespace, serverTls: k8s.core.v1.Secret): k8s.helm.v3.Release {
        const { argocd, names, gitRepoUrl } = this.plan;
        const gitHost = gitRepoUrl === undefined ? undefined : new URL(gitRepoUrl).hostname;
        const registry = names.registry;
        return new k8s.helm.v3.Release(
            "argocd",
            {
                name: "argocd",
                chart: "argo-cd",
                version: argocd.chartVersion,
                namespace: namespace.metadata.name,
                // The operator's helm trusts the local CA (README: prerequisites).
                repositoryOpts: { repo: services.chartsUrl },
                atomic: true,
                timeout: 900,
                values: {
                    global: { domain: names.argocd, image: { repository: `${registry}/argoproj/argocd`, tag: argocd.imageTag } },
                    redis: { image: { repository: `${registry}/docker/library/redis`, tag: argocd.redisImageTag }, resources: { requests: ARGOCD_REQUESTS.redis } },
                    dex: { enabled: false },
                    // The chart sets no requests; these are the ones the capacity check counts (apps/capacity.ts).
                    controller: { resources: { requests: ARGOCD_REQUESTS.controller } },
                    repoServer: { resources: { requests: ARGOCD_REQUESTS.repoServer } },
                    applicationSet: { resources: { requests: ARGOCD_REQUESTS.applicationSet } },
                    notifications: { resources: { requests: ARGOCD_REQUESTS.notifications } },
                    configs: {
                        secret: {
                            argocdServerAdminPassword: this.argocdAdminPassword.apply((secret) => bcryptHash(secret, "argocd-admin")),
                            // Fixed, so that the values (and the release) only change with the password.
                            argocdServerAdminPasswordMtime: "2026-01-01T00:00:00Z",
                        },
                        // ArgoCD's repo server trusts the local CA for the internal chart server, and for the Git server when the chart comes from Git.
                        tls: { certificates: Object.fromEntries([names.charts, ...(gitHost ? [gitHost] : [])].map((host) => [host, ca.certificatePem])) },
                        repositories: { "erp-charts": { name: "erp-charts", type: "helm", url: services.chartsUrl } },
                    },
                    server: {
                        resources: { requests: ARGOCD_REQUESTS.server },
                        ingress: {
                            enabled: true,
                            ingressClassName: "nginx",
                            hostname: names.argocd,
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
            { ...this.k8sOpts, dependsOn: [serverTls] },
        );
    }

    private createProject(namespace: k8s.core.v1.Namespace, argocd: k8s.helm.v3.Release, sourceRepo: string): k8s.apiextensions.CustomResource {
        return new k8s.apiextensions.CustomResource(
            "erp-project",
            {
                apiVersion: "argoproj.io/v1alpha1",
                kind: "AppProject",
                metadata: { name: "erp", namespace: namespace.metadata.name },
                spec: {
                    description: "ERP/1: only the internal chart server or Git, only the six ERP namespaces",
                    sourceRepos: [sourceRepo],
                    destinations: this.tiers().map((tier) => ({ server: IN_CLUSTER, namespace: tier })),
                    // Namespaces come from Pulumi; the chart creates nothing cluster-wide.
                    clusterResourceWhitelist: [],
                },
            },
            // The AppProject kind exists once the ArgoCD release has installed its CRDs.
            { ...this.k8sOpts, dependsOn: [argocd] },
        );
    }

    /** What ArgoCD deploys: the published chart at its version, or the chart's path in Git at the pinned revision. */
    private applicationSource(sourceRepo: string): Record<string, unknown> {
        const { chart, values, gitRepoUrl, gitRevision } = this.plan;
        const helm = { releaseName: "erp-uno", valuesObject: values };
        return gitRepoUrl
            ? { repoURL: gitRepoUrl, path: CHART_PATH, targetRevision: gitRevision, helm }
            : { repoURL: sourceRepo, chart: chart.name, targetRevision: chart.version, helm };
    }

    private createApplication(namespace: k8s.core.v1.Namespace, prerequisites: pulumi.Resource[], source: Record<string, unknown>): k8s.apiextensions.CustomResource {
        return new k8s.apiextensions.CustomResource(
            "erp-uno",
            {
                apiVersion: "argoproj.io/v1alpha1",
                kind: "Application",
                metadata: {
                    name: "erp-uno",
                    namespace: namespace.metadata.name,
                    finalizers: ["resources-finalizer.argocd.argoproj.io"],
                },
                spec: {
                    project: "erp",
                    source,
                    destination: { server: IN_CLUSTER, namespace: "erp-services" },
                    syncPolicy: {
                        automated: { prune: true, selfHeal: true },
                        // No CreateNamespace: the namespaces are Pulumi's (with their Pod Security
                        // labels), and the project allows ArgoCD no cluster-scoped resource.
                        retry: { limit: 5, backoff: { duration: "10s", factor: 2, maxDuration: "3m" } },
                    },
                },
            },
            // The chart must be published, the project and namespaces there, and the portal's certificate in place.
            { ...this.k8sOpts, dependsOn: prerequisites },
        );
    }

    /**
     * The step pulumi up ends with: waits on the first control-plane node until the Application is
     * Synced and Healthy for its current spec, or fails with ArgoCD's reason (apps/files/wait_application.py).
     * Not the provider's pulumi.com/waitFor, whose timeout names only the condition that did not hold.
     */
    private waitForSync({ proxmox, cluster }: ErpAppsArgs, application: k8s.apiextensions.CustomResource, source: Record<string, unknown>): command.remote.Command {
        const settings = {
            APP_NAMESPACE: "argocd",
            APP_NAME: "erp-uno",
            TIMEOUT_SECONDS: String(APPLICATION_TIMEOUT_SECONDS),
            POLL_SECONDS: String(APPLICATION_POLL_SECONDS),
            KUBECTL: NODE_KUBECTL,
        };
        const assignments = Object.entries(settings).map(([key, value]) => `${key}=${shellQuote(value)}`);
        return new command.remote.Command(
            "erp-uno-synced",
            {
                connection: proxmox.connection(cluster.adminNode),
                create: `${assignments.join(" ")} python3 -c ${shellQuote(WAIT_APPLICATION)}`,
                // Waits again exactly when what the Application deploys changes (its source and values).
                triggers: [createHash("sha256").update(JSON.stringify(source)).digest("hex")],
            },
            // Reads the Application's status, so it runs once Pulumi has applied its spec; a recreated
            // Application syncs from scratch, so it is waited for again.
            { parent: this, dependsOn: [application], replaceWith: [application] },
        );
    }
}
