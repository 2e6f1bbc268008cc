// The apps layer's plan: the erp-uno chart and this stack's values, whether they fit on the
// Kubernetes nodes, and the ArgoCD settings.
import type { Environment, StackConfig } from "../config";
import type { Problems } from "../config/problems";
import type { ServiceNames } from "../dns/plan";
import { CALVER } from "../lib/conventions";
import type { ProxmoxPlan, VmSpec } from "../proxmox/plan";
import type { NodeBoundWorkload } from "../lib/workloads";
import { argocdProblems } from "./argocd";
import { loadChart, type Chart } from "./catalog";
import { capacityProblem, componentDemand, nodeBoundWorkloads } from "./capacity";
import { composeValues, effectiveValues, type Profile } from "./values";

export interface AppsPlan {
    readonly environment: Environment;
    readonly chart: Chart;
    readonly profile: Profile;
    readonly imageVersion: string;
    /** The erp-uno values of this stack (overrides of the chart's defaults). */
    readonly values: Record<string, unknown>;
    readonly argocd: StackConfig["apps"]["argocd"];
    readonly gitRepoUrl?: string;
    /** The pinned commit or release tag of gitRepoUrl. */
    readonly gitRevision?: string;
    readonly names: ServiceNames;
    /** The infra VMs the chart is published to (each has its registry and chart repository). */
    readonly chartHosts: readonly VmSpec[];
    readonly adminUser: string;
    /** The components whose state is on local-path volumes (what topology.md says a host loss takes). */
    readonly nodeBound: readonly NodeBoundWorkload[];
}

/**
 * What the apps plan reads of the configuration, and the cluster's Kubernetes version when the
 * cluster stage accepted it (the ArgoCD release must be tested on it).
 */
export type AppsConfig = Pick<StackConfig, "environment" | "domain" | "apps"> & { readonly kubernetes?: Pick<StackConfig["kubernetes"], "kubeVersion"> | undefined };

/** A commit id or a release tag: what a Git source is pinned to (a branch moves). */
const GIT_REVISION = /^([0-9a-f]{40}|v?\d+\.\d+\.\d+)$/;

/** Redis image tags as the argo-cd chart pins them, e.g. 7.2.11-alpine (argo-helm argo-cd-8.6.4 values.yaml). */
const REDIS_TAG = /^\d+\.\d+\.\d+(-[a-z0-9]+(\.[0-9]+)*)?$/;

export function planApps(config: AppsConfig, proxmox: ProxmoxPlan | undefined, names: ServiceNames | undefined, problems: Problems): AppsPlan | undefined {
    const scope = problems.scope();
    problems = scope;
    const { apps, environment, domain } = config;
    const chart = loadChart();
    const profile: Profile = apps.profile ?? (environment === "dev" ? "light" : "full");
    const imageVersion = apps.imageVersion ?? chart.appVersion;
    if (!CALVER.test(imageVersion)) {
        problems.fail("apps.imageVersion", imageVersion, "images carry calendar versions X.Y.Z (month 1-12), never latest; e.g. 2026.11.1");
    }
    if (!CALVER.test(chart.version)) {
        problems.add(`apps/charts/erp-uno/Chart.yaml version is "${chart.version}": the chart carries a calendar version X.Y.Z`);
    }
    if (apps.gitRepoUrl !== undefined) {
        problems.requireInternalUrl("apps.gitRepoUrl", apps.gitRepoUrl, "use the http(s) URL of the repository on the internal Git server", { path: /^\/.+/, pathText: "a repository's path" });
        if (apps.gitRevision === undefined) {
            problems.fail("apps.gitRevision", undefined, "pin what ArgoCD deploys from apps.gitRepoUrl: a commit (40 hex digits) or a release tag (X.Y.Z or vX.Y.Z)");
        }
    }
    if (apps.gitRevision !== undefined) {
        if (apps.gitRepoUrl === undefined) {
            problems.fail("apps.gitRevision", apps.gitRevision, "applies only with apps.gitRepoUrl (the chart server's chart is pinned by its version); set apps.gitRepoUrl or delete the key");
        } else if (!GIT_REVISION.test(apps.gitRevision)) {
            problems.fail("apps.gitRevision", apps.gitRevision, "is neither a commit (40 hex digits) nor a release tag (X.Y.Z or vX.Y.Z); a branch would deploy whatever is pushed next");
        }
    }
    if (!/^v\d+\.\d+\.\d+$/.test(apps.argocd.imageTag)) {
        problems.fail("apps.argocd.imageTag", apps.argocd.imageTag, "use the ArgoCD release tag mirrored into the registry, e.g. v3.1.8");
    }
    if (!/^\d+\.\d+\.\d+$/.test(apps.argocd.chartVersion)) {
        problems.fail("apps.argocd.chartVersion", apps.argocd.chartVersion, "use the argo-cd chart version published on the chart server, e.g. 8.6.4");
    }
    if (!REDIS_TAG.test(apps.argocd.redisImageTag)) {
        problems.fail("apps.argocd.redisImageTag", apps.argocd.redisImageTag, "use the Redis release tag mirrored into the registry, e.g. 7.2.11-alpine (never latest)");
    }
    if (scope.count === 0 && config.kubernetes !== undefined && /^\d+\.\d+\.\d+$/.test(config.kubernetes.kubeVersion)) {
        // The chart, its images and the cluster's Kubernetes version must agree (apps/argocd.ts).
        for (const [key, value, fix] of argocdProblems(apps.argocd, config.kubernetes.kubeVersion)) problems.fail(key, value, fix);
    }
    if (proxmox === undefined || names === undefined || scope.count > 0) {
        return undefined;
    }
    const values = composeValues(chart, { domain, portalHost: names.portal, environment, registry: names.registry, imageVersion, profile });
    const hasWorkers = proxmox.vms.some((vm) => vm.role === "workers");
    const nodes = proxmox.vms.filter((vm) => vm.role === (hasWorkers ? "workers" : "controlPlane"));
    const effective = effectiveValues(chart, values);
    const shortfall = capacityProblem(componentDemand(effective, "maximum"), nodes, profile, hasWorkers ? "workers" : "controlPlane");
    if (shortfall !== undefined) {
        problems.add(shortfall);
        return undefined;
    }
    return {
        environment,
        chart,
        profile,
        imageVersion,
        values,
        argocd: apps.argocd,
        ...(apps.gitRepoUrl === undefined ? {} : { gitRepoUrl: apps.gitRepoUrl }),
        ...(apps.gitRevision === undefined ? {} : { gitRevision: apps.gitRevision }),
        names,
        chartHosts: names.servers,
        adminUser: proxmox.adminUser,
        nodeBound: nodeBoundWorkloads(effective),
    };
}
