// Which Kubespray release supports what. Refusing an unsupported combination at plan time is much
// cheaper than a playbook failing twenty minutes in. Sources: each release's
// playbooks/ansible_version.yml (ansible-core range) and release notes (Kubernetes minors, OS).
// Add a row when a new release is mirrored.

export interface KubesprayRelease {
    readonly version: string;
    /** Inclusive range of supported Kubernetes minor versions, e.g. [30, 32] for 1.30-1.32. */
    readonly kubeMinors: readonly [number, number];
    /** ansible-core: minimum inclusive, maximum exclusive. */
    readonly ansibleCore: readonly [string, string];
    /** From v2.28 kube_version is written without the "v". */
    readonly kubeVersionPrefix: "v" | "";
}

export const KUBESPRAY_RELEASES: readonly KubesprayRelease[] = [
    { version: "v2.26.0", kubeMinors: [28, 30], ansibleCore: ["2.16.4", "2.17.0"], kubeVersionPrefix: "v" },
    { version: "v2.27.0", kubeMinors: [29, 31], ansibleCore: ["2.16.4", "2.17.0"], kubeVersionPrefix: "v" },
    { version: "v2.28.0", kubeMinors: [30, 32], ansibleCore: ["2.16.4", "2.17.5"], kubeVersionPrefix: "" },
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
        return [`kubernetes.kubesprayVersion is "${kubesprayVersion}": not in the compatibility table (${known}); use one of them, or add the release to cluster/compatibility.ts after checking its notes`];
    }
    if (kubeVersion.startsWith("v")) {
        problems.push(`kubernetes.kubeVersion is "${kubeVersion}": write it without the "v" (${kubeVersion.slice(1)}); the program adds it where Kubespray ${kubesprayVersion} expects one`);
    } else if (!/^\d+\.\d+\.\d+$/.test(kubeVersion)) {
        problems.push(`kubernetes.kubeVersion is ${JSON.stringify(kubeVersion)}: use a Kubernetes patch version such as 1.32.5`);
    } else {
        const minor = Number(kubeVersion.split(".")[1]);
        const [low, high] = release.kubeMinors;
        if (minor < low || minor > high) {
            problems.push(`kubernetes.kubeVersion is "${kubeVersion}": Kubespray ${kubesprayVersion} supports Kubernetes 1.${low} to 1.${high}; pick a version in that range or another Kubespray release`);
        }
    }
    const [minimum, maximum] = release.ansibleCore;
    if (!/^\d+\.\d+\.\d+$/.test(ansibleCoreVersion) || compareVersions(ansibleCoreVersion, minimum) < 0 || compareVersions(ansibleCoreVersion, maximum) >= 0) {
        problems.push(`kubernetes.ansibleCoreVersion is ${JSON.stringify(ansibleCoreVersion)}: Kubespray ${kubesprayVersion} needs ansible-core >= ${minimum} and < ${maximum}`);
    }
    return problems;
}
