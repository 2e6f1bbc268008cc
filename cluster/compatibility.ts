// Which Kubespray release supports what, taken from each tag's own files. Refusing an unsupported
// combination at plan time is much cheaper than a playbook failing twenty minutes in. Add a row,
// from the tag's files, when a new release is mirrored.

export interface KubesprayRelease {
    readonly version: string;
    /**
     * The Kubernetes versions the release has kubelet/kubeadm/kubectl checksums for (amd64), as
     * "minor: first-last patch": Kubespray downloads only those. Sources: v2.26.0/v2.27.0
     * roles/kubespray-defaults/defaults/main/checksums.yml, v2.28.0
     * roles/kubespray_defaults/vars/main/checksums.yml (kubelet_checksums.amd64).
     */
    readonly kubePatches: Readonly<Record<number, readonly [number, number]>>;
    /**
     * ansible-core, minimum inclusive and maximum exclusive: the tag's playbooks/ansible_version.yml
     * gate (>= 2.16.4, < 2.17.0 at all three tags) narrowed by the `ansible==` pin of its
     * requirements.txt (ansible 9.8.0 needs ansible-core ~= 2.16.9; ansible 9.13.0 needs ~= 2.16.14).
     */
    readonly ansibleCore: readonly [string, string];
    /** kube_version with a "v" before v2.28 (their checksum keys have one), without from v2.28. */
    readonly kubeVersionPrefix: "v" | "";
    /**
     * The metrics-server image tag the release pulls (roles/kubespray[-_]defaults/defaults/main/download.yml:
     * metrics_server_version "v0.7.0" at v2.26.0 and v2.27.0, "0.7.0" with a "v" in the tag at v2.28.0).
     */
    readonly metricsServerTag: string;
}

export const KUBESPRAY_RELEASES: readonly KubesprayRelease[] = [
    // v2.26.0 = f9ebd45c; kube_version default v1.30.4, kube_version_min_required v1.28.0; requirements.txt ansible==9.8.0.
    { version: "v2.26.0", kubePatches: { 28: [0, 12], 29: [0, 7], 30: [0, 4] }, ansibleCore: ["2.16.9", "2.17.0"], kubeVersionPrefix: "v", metricsServerTag: "v0.7.0" },
    // v2.27.0 = 9ec9b3a2; default v1.31.4, minimum v1.29.0; ansible==9.13.0.
    { version: "v2.27.0", kubePatches: { 29: [0, 12], 30: [0, 8], 31: [0, 4] }, ansibleCore: ["2.16.14", "2.17.0"], kubeVersionPrefix: "v", metricsServerTag: "v0.7.0" },
    // v2.28.0 = 63cdf879; default 1.32.5, minimum 1.30.0 (roles/kubespray_defaults/defaults/main/main.yml); ansible==9.13.0.
    { version: "v2.28.0", kubePatches: { 30: [0, 13], 31: [0, 9], 32: [0, 5] }, ansibleCore: ["2.16.14", "2.17.0"], kubeVersionPrefix: "", metricsServerTag: "v0.7.0" },
];

/** Ubuntu 24.04 (noble) is supported from this release on. */
export const MIN_KUBESPRAY_FOR_NOBLE = "v2.26.0";

export function compareVersions(left: string, right: string): number {
    const parts = (v: string) => v.replace(/^v/, "").split(".").map(Number);
    const [a, b] = [parts(left), parts(right)];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
        const difference = (a[i] ?? 0) - (b[i] ?? 0);
        if (difference !== 0) return difference;
    }
    return 0;
}

/** kube_version as the Kubespray release expects it: with a "v" before v2.28, without from v2.28. */
export function kubeVersionFor(kubesprayVersion: string, kubeVersion: string): string {
    const release = KUBESPRAY_RELEASES.find((candidate) => candidate.version === kubesprayVersion);
    return `${release?.kubeVersionPrefix ?? ""}${kubeVersion}`;
}

/** "1.30.0-1.30.13, 1.31.0-1.31.9, 1.32.0-1.32.5" */
export function kubeVersionsOf(release: KubesprayRelease): string {
    return Object.entries(release.kubePatches)
        .map(([minor, [first, last]]) => `1.${minor}.${first}-1.${minor}.${last}`)
        .join(", ");
}

/** Problems with a version combination, as "<key> is <value>: <why>; <fix>" texts. */
export function compatibilityProblems(kubesprayVersion: string, kubeVersion: string, ansibleCoreVersion: string): string[] {
    const problems: string[] = [];
    const known = KUBESPRAY_RELEASES.map((release) => release.version).join(", ");
    if (!/^v\d+\.\d+\.\d+$/.test(kubesprayVersion)) {
        return [`kubernetes.kubesprayVersion is ${JSON.stringify(kubesprayVersion)}: use a release tag such as v2.28.0`];
    }
    if (compareVersions(kubesprayVersion, MIN_KUBESPRAY_FOR_NOBLE) < 0) {
        return [`kubernetes.kubesprayVersion is "${kubesprayVersion}": the VMs run Ubuntu 24.04, which Kubespray supports from ${MIN_KUBESPRAY_FOR_NOBLE}; use one of ${known}`];
    }
    const release = KUBESPRAY_RELEASES.find((candidate) => candidate.version === kubesprayVersion);
    if (release === undefined) {
        return [`kubernetes.kubesprayVersion is "${kubesprayVersion}": not in the compatibility table (${known}); use one of them, or add the release to cluster/compatibility.ts from its tag's files`];
    }
    if (kubeVersion.startsWith("v")) {
        problems.push(`kubernetes.kubeVersion is "${kubeVersion}": write it without the "v" (${kubeVersion.slice(1)}); the program adds it where Kubespray ${kubesprayVersion} expects one`);
    } else if (!/^\d+\.\d+\.\d+$/.test(kubeVersion)) {
        problems.push(`kubernetes.kubeVersion is ${JSON.stringify(kubeVersion)}: use a Kubernetes patch version such as 1.32.5`);
    } else {
        const [, minor, patch] = kubeVersion.split(".").map(Number) as [number, number, number];
        const range = release.kubePatches[minor];
        const minors = Object.keys(release.kubePatches).map(Number);
        if (range === undefined) {
            problems.push(
                `kubernetes.kubeVersion is "${kubeVersion}": Kubespray ${kubesprayVersion} supports Kubernetes 1.${Math.min(...minors)} to 1.${Math.max(...minors)}; ` +
                    `pick a version in that range (${kubeVersionsOf(release)}) or another Kubespray release`,
            );
        } else if (patch < range[0] || patch > range[1]) {
            problems.push(
                `kubernetes.kubeVersion is "${kubeVersion}": Kubespray ${kubesprayVersion} has no checksums for it and so cannot download it; ` +
                    `it knows 1.${minor}.${range[0]} to 1.${minor}.${range[1]} (all: ${kubeVersionsOf(release)})`,
            );
        }
    }
    const [minimum, maximum] = release.ansibleCore;
    if (!/^\d+\.\d+\.\d+$/.test(ansibleCoreVersion) || compareVersions(ansibleCoreVersion, minimum) < 0 || compareVersions(ansibleCoreVersion, maximum) >= 0) {
        problems.push(`kubernetes.ansibleCoreVersion is ${JSON.stringify(ansibleCoreVersion)}: Kubespray ${kubesprayVersion} needs ansible-core >= ${minimum} and < ${maximum}`);
    }
    return problems;
}
