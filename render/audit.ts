// The air-gap audit: every host the rendered files refer to must be inside the contour. And the
// list of what must be mirrored into the contour before a `pulumi up` of the stack.
import YAML from "yaml";
import { KUBESPRAY_RELEASES } from "../cluster/compatibility";
import { LOCAL_PATH_HELPER_TAG, MIRRORED_DOWNLOAD_BASES, MIRRORED_REGISTRIES } from "../cluster/kubespray";
import { CLUSTER_SUFFIXES, isInternalHost, referencedHosts } from "../lib/net";
import { PUBLIC_CALLERS } from "../proxmox/cloudInit";
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
                for (const host of new Set([...referencedHosts(key, value.trim()), ...referencedHosts("", text)])) {
                    if (!isInternalHost(host, [...internalDomains, ...CLUSTER_SUFFIXES])) {
                        findings.push({ file, line: index + 1, host, text: text.trim().slice(0, 120) });
                    }
                }
            }
        });
    }
    return findings;
}

/**
 * What a VM's first boot would reach on the internet unless its user-data turns it off: each
 * user-data must mask every public caller, empty the ESM/apt-news hook, turn off motd news and the
 * release-upgrade check, and (without NTP servers of its own) systemd-timesyncd's fallback servers.
 */
export function firstBootFindings(files: ReadonlyMap<string, string>): Finding[] {
    const findings: Finding[] = [];
    for (const [file, content] of files) {
        if (!/^cloud-init\/[^/]+\/user-data$/.test(file)) continue;
        const document = YAML.parse(content.replace(/^#cloud-config\n/, "")) as Record<string, any>;
        const finding = (host: string, text: string) => findings.push({ file, line: 1, host, text });
        // The units named by a `systemctl mask` (up to the next shell operator); a stop alone is not enough.
        const masked = new Set(
            (document.bootcmd ?? [])
                .flatMap((command: unknown) => [...String(command).matchAll(/systemctl mask ([^;&|]+)/g)])
                .flatMap((match: RegExpMatchArray) => (match[1] as string).trim().split(/\s+/)),
        );
        for (const unit of PUBLIC_CALLERS.filter((candidate) => !masked.has(candidate))) finding("(first boot)", `${unit} is not masked`);
        const written = new Map<string, string>((document.write_files ?? []).map((f: { path: string; content: string }) => [f.path, f.content]));
        if (written.get("/etc/apt/apt.conf.d/20apt-esm-hook.conf") !== "") finding("esm.ubuntu.com", "the ESM and apt news hook is not emptied");
        if (!/ENABLED=0/.test(written.get("/etc/default/motd-news") ?? "")) finding("motd.ubuntu.com", "motd news is not turned off");
        if (!/Prompt=never/.test(written.get("/etc/update-manager/release-upgrades") ?? "")) finding("changelogs.ubuntu.com", "the release-upgrade check is not turned off");
        if (document.ntp === undefined && !/FallbackNTP=\n/.test(written.get("/etc/systemd/timesyncd.conf.d/erpdc.conf") ?? "")) finding("ntp.ubuntu.com", "no NTP servers and timesyncd's fallback is not emptied");
    }
    return findings;
}

export interface MirrorList {
    readonly images: readonly string[];
    readonly charts: readonly string[];
    readonly files: readonly string[];
    readonly osImage: string;
    readonly pythonPackages: readonly string[];
    /**
     * The pinned files in `sha256sum -c` form, by their path under the mirror's web root: what the
     * program checks them against, so that the mirror can be checked before the first `pulumi up`.
     */
    readonly sha256sums: readonly string[];
}

/** The images the rendered erp-uno chart runs: every container and init container of its pods and pod templates. */
export function renderedChartImages(files: ReadonlyMap<string, string>): string[] {
    return YAML.parseAllDocuments(files.get("apps/erp-uno.rendered.yaml") ?? "")
        .map((document) => document.toJS() as Record<string, any> | null)
        .flatMap((object) => {
            const spec = object?.kind === "Pod" ? object.spec : object?.spec?.template?.spec;
            return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map((container: { image: string }) => container.image);
        });
}

/** What the stack pulls, so that the mirrors can be filled before the first `pulumi up`. */
export function mirrorList(plan: StackPlan, files: ReadonlyMap<string, string>): MirrorList {
    const chartImages = renderedChartImages(files);
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
                // Not in Kubespray's download list, so its offline list does not have it either.
                `${registry}/library/busybox:${LOCAL_PATH_HELPER_TAG} (the local-path provisioner's helper)`,
                // Enabled by this program (cluster/kubespray.ts); the autoscalers need it.
                `${registry}/metrics-server/metrics-server:${KUBESPRAY_RELEASES.find((release) => release.version === kubernetes.kubesprayVersion)?.metricsServerTag ?? "(the release's tag)"} (metrics-server, for the autoscalers)`,
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
        sha256sums: [
            ...(image.checksumAlgorithm === "sha256" && image.checksum ? [[image.checksum, image.url]] : []),
            ...(kubernetes.kubespraySource.sha256 ? [[kubernetes.kubespraySource.sha256, kubernetes.kubespraySource.url]] : []),
            ...(plan.dns.nsArtifact.sha256 ? [[plan.dns.nsArtifact.sha256, plan.dns.nsArtifact.url]] : []),
        ].map(([sha256, url]) => `${sha256}  ${new URL(url as string).pathname.slice(1)}`),
        pythonPackages: [`ansible-core==${kubernetes.ansibleCoreVersion}`, `Kubespray ${kubernetes.kubesprayVersion} requirements.txt`],
    };
}
