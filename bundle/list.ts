// The contour bundle's list: everything a stack needs from outside, each item with where it comes
// from and where it goes inside the contour. Plain data in (the plan, the rendered files, what
// Kubespray itself lists for the stack, and the provider plugins of the installed packages), plain
// data out, sorted, the same for the same stack.
import { LOCAL_PATH_HELPER_TAG } from "../cluster/kubespray";
import type { StackPlan } from "../plan";
import { renderedChartImages } from "../render/audit";
import type { KubesprayDownloads } from "./kubespray";
import { pluginsFolder, providerPlugins } from "./plugins";
import { ROOT } from "../render/stackConfig";
import { requirementProject } from "./layout";

export type ItemKind = "file" | "image" | "chart" | "python" | "in-house";

export interface BundleItem {
    readonly kind: ItemKind;
    /** Outside: an URL, an image reference, `<chart repository>#<chart>@<version>`, a pip requirement. */
    readonly source: string;
    /**
     * Inside: the URL the contour serves it at, the image reference in the registry, the chart
     * repository's, the project's page of the Python index (PEP 503).
     */
    readonly destination: string;
    /** What it must match, where the stack pins it: `sha256:<hex>`. */
    readonly checksum?: string;
    /** Why the stack needs it. */
    readonly reason: string;
}

/**
 * Where the datacenter mirror's files come from: the stack names them by their place on the mirror
 * (image.url, kubernetes.kubespraySource.url), which keeps the upstream layout under a prefix.
 */
const MIRROR_LAYOUT: readonly { readonly prefix: string; readonly upstream: (rest: string) => string }[] = [
    // /files/cloud-images/noble/<YYYY-MM-DD>/<file>: Canonical's serial folder of that day,
    // cloud-images.ubuntu.com/noble/<YYYYMMDD>/<file>, with the SHA256SUMS the bundle checks it by.
    { prefix: "/files/cloud-images/", upstream: (rest) => `https://cloud-images.ubuntu.com/${rest.replace(/\/(\d{4})-(\d{2})-(\d{2})\//, "/$1$2$3/")}` },
    // /files/kubespray/kubespray-<version>.tar.gz: the tag's archive (kubespray-<version>/ inside, as README says).
    // GitHub makes it with git archive too, but its gzip bytes may differ from the pinned file's:
    // the pin decides, and the audit names a bundle holding other bytes.
    { prefix: "/files/kubespray/kubespray-", upstream: (rest) => `https://github.com/kubernetes-sigs/kubespray/archive/refs/tags/v${rest}` },
];

/** The upstream URL of a file on the datacenter mirror, by the mirror's layout. */
export function upstreamOf(mirrorUrl: string): string | undefined {
    const { pathname } = new URL(mirrorUrl);
    const layout = MIRROR_LAYOUT.find((entry) => pathname.startsWith(entry.prefix));
    return layout?.upstream(pathname.slice(layout.prefix.length));
}

/** How container tools read an image reference without a registry ("erpuno/x" is docker.io/erpuno/x). */
export function qualified(image: string): string {
    const first = image.split("/")[0] as string;
    const hasRegistry = image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
    return hasRegistry ? image : image.includes("/") ? `docker.io/${image}` : `docker.io/library/${image}`;
}

export function bundleList(plan: StackPlan, files: ReadonlyMap<string, string>, kubespray: KubesprayDownloads): BundleItem[] {
    const registry = plan.dns.names.registry;
    // The index the runner's pip reads; with a trailing slash, so project pages resolve under it.
    const pythonIndex = plan.cluster.kubernetes.pythonIndexUrl.replace(/\/*$/, "/");
    const { image } = plan.proxmox;
    const { kubernetes } = plan.cluster;
    const { argocd } = plan.apps;
    const pinned = (sha256: string | undefined) => (sha256 ? { checksum: `sha256:${sha256}` } : {});
    const mirrorFile = (url: string, sha256: string | undefined, reason: string): BundleItem => {
        const source = upstreamOf(url);
        return source === undefined
            ? { kind: "in-house", source: "npm run synrc-ns (dns/release/build-synrc-ns.sh, from the sources SOURCES.tsv pins)", destination: url, ...pinned(sha256), reason }
            : { kind: "file", source, destination: url, ...pinned(sha256), reason };
    };
    /** An image at the same path in the contour's registry. */
    const mirrored = (source: string, reason: string): BundleItem => ({
        kind: "image",
        source,
        destination: `${registry}/${source.split("/").slice(1).join("/")}`,
        reason,
    });

    const items: BundleItem[] = [
        mirrorFile(image.url, image.checksumAlgorithm === "sha256" ? image.checksum : undefined, "the VMs' OS: each Proxmox host downloads it (image.url)"),
        mirrorFile(kubernetes.kubespraySource.url, kubernetes.kubespraySource.sha256, `Kubespray ${kubernetes.kubesprayVersion}, which the runner unpacks (kubernetes.kubespraySource)`),
        mirrorFile(plan.dns.nsArtifact.url, plan.dns.nsArtifact.sha256, "the synrc/ns release the infra VMs run, with its own Erlang runtime (dns.nsArtifact)"),
        ...kubespray.files.map(({ source, destination }): BundleItem => ({ kind: "file", source, destination, reason: `Kubespray ${kubernetes.kubesprayVersion} downloads it (contrib/offline/generate_list.sh)` })),
        ...kubespray.images.map(({ source, destination }): BundleItem => ({ kind: "image", source, destination, reason: `Kubespray ${kubernetes.kubesprayVersion} pulls it (contrib/offline/generate_list.sh)` })),
        mirrored(`docker.io/library/busybox:${LOCAL_PATH_HELPER_TAG}`, "the local-path provisioner's helper pod (not in Kubespray's download list)"),
        mirrored(`quay.io/argoproj/argocd:${argocd.imageTag}`, "ArgoCD (apps.argocd.imageTag)"),
        // Where the argo-cd chart takes Redis from (redis.image.repository, argo-helm charts/argo-cd/values.yaml at argo-cd-8.6.4).
        mirrored(`ecr-public.aws.com/docker/library/redis:${argocd.redisImageTag}`, "ArgoCD's Redis (apps.argocd.redisImageTag)"),
        {
            kind: "chart",
            source: `https://argoproj.github.io/argo-helm#argo-cd@${argocd.chartVersion}`,
            destination: `https://${plan.dns.names.charts}#argo-cd@${argocd.chartVersion}`,
            reason: "the ArgoCD release (apps.argocd.chartVersion)",
        },
        // The machine that runs pulumi installs them from the datacenter mirror before the first up.
        ...providerPlugins(ROOT).map(
            (plugin): BundleItem => ({
                kind: "file",
                source: plugin.source,
                destination: `${pluginsFolder(plan.proxmox.aptMirror)}${plugin.asset}`,
                reason: `the provider plugin ${plugin.name} ${plugin.version} of ${plugin.package} (pulumi plugin install resource ${plugin.name} ${plugin.version} --server ${pluginsFolder(plan.proxmox.aptMirror)})`,
            }),
        ),
        ...[`ansible-core==${kubernetes.ansibleCoreVersion}`, ...kubespray.pythonRequirements].map(
            (requirement): BundleItem => ({
                kind: "python",
                source: requirement,
                destination: new URL(`${requirementProject(requirement)}/`, pythonIndex).href,
                reason: "the Kubespray runner's Python environment (kubernetes.pythonIndexUrl)",
            }),
        ),
    ];
    for (const reference of renderedChartImages(files)) {
        // The chart names them in the contour's registry; outside they are the chart's own repositories.
        const path = reference.startsWith(`${registry}/`) ? reference.slice(registry.length + 1) : reference;
        items.push({ kind: "image", source: qualified(path), destination: reference, reason: "an erp-uno component (the chart's values)" });
    }
    // Each item once: Kubespray lists some images twice, and an image the program adds may be there already.
    const unique = new Map<string, BundleItem>();
    for (const item of items) {
        const key = `${item.kind} ${item.destination} ${item.source}`;
        if (!unique.has(key)) unique.set(key, item);
    }
    return [...unique.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.destination.localeCompare(b.destination) || a.source.localeCompare(b.source));
}

/** Two sources for one destination: the contour could hold only one of them. */
export function destinationClashes(items: readonly BundleItem[]): string[] {
    const sources = new Map<string, Set<string>>();
    for (const item of items.filter((i) => i.kind === "image" || i.kind === "file")) {
        sources.set(item.destination, (sources.get(item.destination) ?? new Set()).add(item.source));
    }
    return [...sources].filter(([, from]) => from.size > 1).map(([destination, from]) => `${destination} <- ${[...from].sort().join(", ")}`);
}
