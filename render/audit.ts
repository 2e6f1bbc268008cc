// The air-gap audit: every host the rendered files refer to must be inside the contour. And the
// list of what must be mirrored into the contour before a `pulumi up` of the stack.
import YAML from "yaml";
import { MIRRORED_DOWNLOAD_BASES, MIRRORED_REGISTRIES } from "../cluster/kubespray";
import { CLUSTER_SUFFIXES, isInternalHost, referencedHost } from "../lib/net";
import type { StackPlan } from "../plan";

export interface Finding {
    readonly file: string;
    readonly line: number;
    readonly host: string;
    readonly text: string;
}

/** Lines of the files that refer to a host outside `internalDomains` and private networks. */
export function auditFiles(files: ReadonlyMap<string, string>, internalDomains: readonly string[]): Finding[] {
    const findings: Finding[] = [];
    for (const [file, content] of files) {
        content.split("\n").forEach((text, index) => {
            const keyed = /^\s*-?\s*"?([A-Za-z0-9_.-]+)"?\s*:\s*"?([^"]*)"?,?\s*$/.exec(text);
            const candidates = keyed ? [[keyed[1] as string, keyed[2] as string]] : [["", text]];
            for (const [key, value] of candidates as [string, string][]) {
                for (const host of new Set([referencedHost(key, value.trim()), referencedHost("", text)].filter((h): h is string => h !== undefined))) {
                    if (!isInternalHost(host, [...internalDomains, ...CLUSTER_SUFFIXES])) {
                        findings.push({ file, line: index + 1, host, text: text.trim().slice(0, 120) });
                    }
                }
            }
        });
    }
    return findings;
}

export interface MirrorList {
    readonly images: readonly string[];
    readonly charts: readonly string[];
    readonly files: readonly string[];
    readonly osImage: string;
    readonly pythonPackages: readonly string[];
}

/** What the stack pulls, so that the mirrors can be filled before the first `pulumi up`. */
export function mirrorList(plan: StackPlan, files: ReadonlyMap<string, string>): MirrorList {
    const rendered = files.get("apps/erp-uno.rendered.yaml") ?? "";
    const chartImages = YAML.parseAllDocuments(rendered)
        .map((document) => document.toJS() as Record<string, any> | null)
        .flatMap((object) => {
            const spec = object?.kind === "Pod" ? object.spec : object?.spec?.template?.spec;
            return (spec?.containers ?? []).map((container: { image: string }) => container.image);
        });
    const { names } = plan.dns;
    const registry = names.registry;
    const { argocd, chart } = plan.apps;
    const { kubernetes } = plan.cluster;
    const { image } = plan.proxmox;
    return {
        images: [
            ...new Set([
                ...chartImages,
                `${registry}/argoproj/argocd:${argocd.imageTag}`,
                `${registry}/docker/library/redis:${argocd.redisImageTag}`,
                `the images Kubespray ${kubernetes.kubesprayVersion} pulls for Kubernetes ${kubernetes.kubeVersion} from ${MIRRORED_REGISTRIES.join(", ")} (contrib/offline/generate_list.sh lists them), under the same paths in ${registry}`,
            ]),
        ].sort(),
        charts: [`erp-uno ${chart.version} (published by this program)`, `argo-cd ${argocd.chartVersion} at https://${names.charts}`],
        files: [
            plan.dns.nsArtifact.url,
            kubernetes.kubespraySource.url,
            `Kubespray's offline files under https://${names.files}/ for ${Object.values(MIRRORED_DOWNLOAD_BASES).join(", ")} (contrib/offline/generate_list.sh)`,
        ],
        osImage: `${image.url} (${image.checksumAlgorithm} ${image.checksum})`,
        pythonPackages: [`ansible-core==${kubernetes.ansibleCoreVersion}`, `Kubespray ${kubernetes.kubesprayVersion} requirements.txt`],
    };
}
