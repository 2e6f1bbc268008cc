// Which ArgoCD the contour may run: the argo-cd chart versions this program knows, each with the
// ArgoCD release it ships and the Kubernetes minors that release is tested on. Add a row, from the
// chart's and ArgoCD's own files, when a new chart is mirrored.

export interface ArgocdRelease {
    /** The argo-cd chart version (argo-helm tag argo-cd-<version>). */
    readonly chartVersion: string;
    /** The ArgoCD image tag the chart ships (its Chart.yaml appVersion). */
    readonly imageTag: string;
    /** The Redis image tag of the chart's values (redis.image.tag). */
    readonly redisImageTag: string;
    /** Kubernetes minors ArgoCD tests the release on (docs/operator-manual/tested-kubernetes-versions.md at its tag). */
    readonly kubeMinors: readonly number[];
}

export const ARGOCD_RELEASES: readonly ArgocdRelease[] = [
    // argo-cd-7.7.11: appVersion v2.13.2, redis 7.4.1-alpine; ArgoCD v2.13.2 tests v1.30, v1.29, v1.28, v1.27.
    { chartVersion: "7.7.11", imageTag: "v2.13.2", redisImageTag: "7.4.1-alpine", kubeMinors: [27, 28, 29, 30] },
    // argo-cd-8.6.4: appVersion v3.1.8, redis 7.2.11-alpine; ArgoCD v3.1.8 tests v1.33, v1.32, v1.31, v1.30.
    { chartVersion: "8.6.4", imageTag: "v3.1.8", redisImageTag: "7.2.11-alpine", kubeMinors: [30, 31, 32, 33] },
];

/** Problems with the ArgoCD settings against the table and the cluster's Kubernetes version, as [key, value, fix]. */
export function argocdProblems(argocd: { chartVersion: string; imageTag: string; redisImageTag: string }, kubeVersion: string): [string, string, string][] {
    const release = ARGOCD_RELEASES.find((candidate) => candidate.chartVersion === argocd.chartVersion);
    if (release === undefined) {
        return [["apps.argocd.chartVersion", argocd.chartVersion, `is not in apps/argocd.ts (${ARGOCD_RELEASES.map((r) => r.chartVersion).join(", ")}); add its row from the chart's and ArgoCD's files first`]];
    }
    const problems: [string, string, string][] = [];
    if (!samePatchLine(argocd.imageTag, release.imageTag)) {
        problems.push(["apps.argocd.imageTag", argocd.imageTag, `argo-cd ${release.chartVersion} ships ArgoCD ${release.imageTag}; use it or a later patch of ${minorOf(release.imageTag)}`]);
    }
    if (!samePatchLine(argocd.redisImageTag, release.redisImageTag)) {
        problems.push(["apps.argocd.redisImageTag", argocd.redisImageTag, `argo-cd ${release.chartVersion} runs Redis ${release.redisImageTag}; use it or a later patch of ${minorOf(release.redisImageTag)} with the same variant`]);
    }
    const minor = Number(kubeVersion.split(".")[1]);
    if (!release.kubeMinors.includes(minor)) {
        const fitting = ARGOCD_RELEASES.filter((r) => r.kubeMinors.includes(minor)).map(
            (r) => `chartVersion ${r.chartVersion} with imageTag ${r.imageTag} and redisImageTag ${r.redisImageTag}`,
        );
        problems.push([
            "apps.argocd.chartVersion",
            argocd.chartVersion,
            `ArgoCD ${release.imageTag} is tested on Kubernetes 1.${release.kubeMinors.join(", 1.")}, not on the cluster's ${kubeVersion}; ${fitting.length > 0 ? `use ${fitting.join(" or ")}` : "add a release that is tested on it to apps/argocd.ts"}`,
        ]);
    }
    return problems;
}

/** "v3.1.8" -> "v3.1", "7.2.11-alpine" -> "7.2". */
function minorOf(tag: string): string {
    return tag.split(/[.-]/).slice(0, 2).join(".");
}

/** The same major.minor (and variant), at the same or a later patch: what a chart's templates expect. */
function samePatchLine(tag: string, shipped: string): boolean {
    const parse = (text: string) => /^(v?\d+\.\d+)\.(\d+)(-.*)?$/.exec(text);
    const [a, b] = [parse(tag), parse(shipped)];
    return a !== null && b !== null && a[1] === b[1] && (a[3] ?? "") === (b[3] ?? "") && Number(a[2]) >= Number(b[2]);
}
