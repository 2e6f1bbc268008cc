// The apps layer's plan: the erp-uno chart and this stack's values, whether they fit on the
// Kubernetes nodes, and the ArgoCD settings.
import type { Environment, StackConfig } from "../config";
import type { Problems } from "../config/problems";
import type { DnsPlan, ServiceNames } from "../dns/plan";
import { CALVER } from "../lib/conventions";
import type { ProxmoxPlan, VmSpec } from "../proxmox/plan";
import { loadChart, type Chart } from "./catalog";
import { capacityProblem, composeValues, effectiveValues, requested, type Profile } from "./values";

export interface AppsPlan {
    readonly environment: Environment;
    readonly chart: Chart;
    readonly profile: Profile;
    readonly imageVersion: string;
    /** The erp-uno values of this stack (overrides of the chart's defaults). */
    readonly values: Record<string, unknown>;
    readonly argocd: StackConfig["apps"]["argocd"];
    readonly gitRepoUrl?: string;
    readonly names: ServiceNames;
    /** The infra VM whose chart repository the chart is uploaded to. */
    readonly chartHost: VmSpec;
    readonly adminUser: string;
}

export function planApps(config: StackConfig, proxmox: ProxmoxPlan, dns: DnsPlan, problems: Problems): AppsPlan | undefined {
    const before = problems.count;
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
        problems.requireInternalUrl("apps.gitRepoUrl", apps.gitRepoUrl, "use the http(s) URL of the repository on the internal Git server", /^https?:\/\/[^/\s]+\/.+/);
    }
    if (!/^v\d+\.\d+\.\d+$/.test(apps.argocd.imageTag)) {
        problems.fail("apps.argocd.imageTag", apps.argocd.imageTag, "use the ArgoCD release tag mirrored into the registry, e.g. v2.13.3");
    }
    if (!/^\d+\.\d+\.\d+$/.test(apps.argocd.chartVersion)) {
        problems.fail("apps.argocd.chartVersion", apps.argocd.chartVersion, "use the argo-cd chart version published on the chart server, e.g. 7.7.11");
    }
    const values = composeValues(chart, { domain, portalHost: dns.names.portal, environment, registry: dns.names.registry, imageVersion, profile });
    const nodes = proxmox.vms.filter((vm) => (config.vms.workers.count > 0 ? vm.role === "workers" : vm.role === "controlPlane"));
    const shortfall = capacityProblem(requested(effectiveValues(chart, values)), nodes, profile);
    if (shortfall !== undefined) {
        problems.add(shortfall);
    }
    if (problems.count > before) {
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
        names: dns.names,
        chartHost: dns.serviceHost,
        adminUser: proxmox.adminUser,
    };
}
