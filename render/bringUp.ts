// The first `pulumi up` of a stack, step by step: the order its command resources can run in, the
// phases an operator watches (each with what it prints when it worked and what to do when it
// fails), and estimated durations along the longest dependency chain. The README's guide is made
// from this (npm run docs), `npm run bench` prints the chain, and the box tier's rehearsal runs the
// steps in this order, so the three say the same.
import type { RecordedResource } from "./engine";

const COMMAND_TYPES = new Set(["command:remote:Command", "command:local:Command"]);

/**
 * Estimated durations on a real contour, in seconds, by what a resource does (estimates for the
 * chain's shape, not measurements): a full clone and start, a first boot that installs packages
 * from the mirror, loading the bundle (some GB to each infra VM over the LAN), Kubespray's
 * cluster.yml, ArgoCD's first sync of erp-uno.
 */
export function estimateSeconds(resource: RecordedResource): number {
    const { type, name } = resource;
    if (type === "proxmoxve:download/fileLegacy:FileLegacy") return 300;
    if (type === "proxmoxve:index/vmLegacy:VmLegacy") return name.startsWith("template-") ? 60 : 90;
    if (COMMAND_TYPES.has(type)) {
        if (name === "kubespray") return 2400;
        if (name === "bundle-load") return 600;
        if (name.endsWith("-ready")) return 300;
        if (name === "erp-uno-synced") return 900;
        if (/-(registry|nginx|synrc-ns)$/.test(name)) return 60;
        if (name.startsWith("publish-")) return 30;
        return 5;
    }
    if (type === "kubernetes:helm.sh/v3:Release") return 180;
    if (type.startsWith("kubernetes:")) return 2;
    if (type.startsWith("proxmoxve:")) return 2;
    return 0;
}

/** The longest chain of custom resources through their dependencies (a component stands for every resource in it). */
export function longestChain(resources: readonly RecordedResource[]): { byCount: RecordedResource[]; bySeconds: RecordedResource[]; seconds: number } {
    const custom = resources.filter((r) => r.custom);
    const children = new Map<string, string[]>();
    for (const r of resources) if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]);
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const customUnder = (urn: string): string[] => {
        const r = byUrn.get(urn);
        if (r?.custom) return [urn];
        return (children.get(urn) ?? []).flatMap(customUnder);
    };
    // A resource waits for its provider too (the Kubernetes objects for the provider built from the kubeconfig).
    const deps = new Map(custom.map((r) => [r.urn, [...new Set([...r.dependencies, ...(r.provider ? [r.provider] : [])].flatMap(customUnder))].filter((d) => d !== r.urn)]));
    const best = (weight: (r: RecordedResource) => number) => {
        const memo = new Map<string, { total: number; chain: string[] }>();
        const visit = (urn: string): { total: number; chain: string[] } => {
            const known = memo.get(urn);
            if (known) return known;
            let longest = { total: 0, chain: [] as string[] };
            for (const dep of deps.get(urn) ?? []) {
                const candidate = visit(dep);
                if (candidate.total > longest.total) longest = candidate;
            }
            const result = { total: longest.total + weight(byUrn.get(urn) as RecordedResource), chain: [...longest.chain, urn] };
            memo.set(urn, result);
            return result;
        };
        return custom.map((r) => visit(r.urn)).reduce((a, b) => (b.total > a.total ? b : a));
    };
    const byCount = best(() => 1);
    const bySeconds = best(estimateSeconds);
    const resolve = (chain: string[]) => chain.map((urn) => byUrn.get(urn) as RecordedResource);
    return { byCount: resolve(byCount.chain), bySeconds: resolve(bySeconds.chain), seconds: bySeconds.total };
}

/** Every resource `resource` waits for, directly or through others (its provider included). */
function waitsFor(resource: RecordedResource, byUrn: ReadonlyMap<string, RecordedResource>): Set<string> {
    const seen = new Set<string>();
    const walk = (urn: string) => {
        const current = byUrn.get(urn);
        for (const dep of [...(current?.dependencies ?? []), ...(current?.provider ? [current.provider] : [])]) {
            if (seen.has(dep)) continue;
            seen.add(dep);
            walk(dep);
        }
    };
    walk(resource.urn);
    return seen;
}

/**
 * The command resources in an order the engine could run them: each after every command it waits
 * for (directly or through other resources), ties in registration order. The engine runs what is
 * ready in parallel; any run keeps this order's constraints.
 */
export function commandOrder(resources: readonly RecordedResource[]): RecordedResource[] {
    const commands = resources.filter((r) => COMMAND_TYPES.has(r.type));
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const before = new Map(commands.map((command) => [command.urn, [...waitsFor(command, byUrn)].filter((urn) => COMMAND_TYPES.has(byUrn.get(urn)?.type ?? ""))]));
    const ordered: RecordedResource[] = [];
    const done = new Set<string>();
    while (ordered.length < commands.length) {
        const next = commands.find((c) => !done.has(c.urn) && (before.get(c.urn) ?? []).every((urn) => done.has(urn)));
        if (next === undefined) throw new Error("the command resources' dependencies form a cycle");
        ordered.push(next);
        done.add(next.urn);
    }
    return ordered;
}

export interface Phase {
    readonly id: string;
    readonly title: string;
    /** What the operator sees when it worked. */
    readonly prints: string;
    readonly onFailure: string;
    readonly has: (resource: RecordedResource) => boolean;
}

/** One table of the phases of a first `pulumi up`: each resource belongs to the first phase that has it. */
export const PHASES: readonly Phase[] = [
    {
        id: "proxmox",
        title: "Proxmox: the cloud image on every host, a template per host, every VM cloned and started",
        prints: "`template-pve1`, `infra1`, … `created`",
        onFailure: "the provider's error names the host and the VM; a failed clone is retried (`proxmox.clones.retries`), then fix what it names and run `pulumi up` again",
        has: (r) => r.type.startsWith("proxmoxve:"),
    },
    {
        id: "infra",
        title: "Infra VMs: first boot, the local CA, synrc/ns with the zone (one VM after the other), the registry, nginx",
        prints: "`synrc-ns: release <sha256> installed`, `synrc-ns: restarted; answers SOA serial …`",
        onFailure: "`infraN-ready` prints cloud-init's warnings; `infraN-synrc-ns` names the sha256 or the journal; fix and run `pulumi up` again",
        has: (r) => COMMAND_TYPES.has(r.type) && /^infra\d+-/.test(r.name),
    },
    {
        id: "bundle",
        title: "`bundle-load`: the bundle checked against the stack, then loaded into every infra VM",
        prints: "`[i/N +H:MM:SS] loaded …` per item, then `Loaded N, already present M, failed 0 (infra1, infra2)`",
        onFailure: "a refused bundle is named item by item and nothing is loaded (fill it again); a failed item names its VM: `pulumi up` again loads only what is missing",
        has: (r) => r.name === "bundle-load",
    },
    {
        id: "publish",
        title: "Chart publishing: erp-uno to the registry and the classic repository of every infra VM",
        prints: "`infraN: erp-uno <version> is in the chart repository`",
        onFailure: "a version published with other content is refused: raise `version` in the chart's Chart.yaml",
        has: (r) => COMMAND_TYPES.has(r.type) && r.name.startsWith("publish-"),
    },
    {
        id: "nodes",
        title: "Kubernetes nodes: first boot, the local CA",
        prints: "`k8s-…-ready`, `k8s-…-ca` `created`",
        onFailure: "`…-ready` prints cloud-init's warnings of that node",
        has: (r) => COMMAND_TYPES.has(r.type) && /-(ready|ca)$/.test(r.name),
    },
    {
        id: "kubespray",
        title: "Kubespray: the runner on the runner VM unpacks the release, installs Ansible from the files area and runs cluster.yml",
        prints: "`erpdc: +H:MM:SS running … cluster.yml`, Ansible's `+H:MM:SS TASK […]` lines, `erpdc: +H:MM:SS applied cluster.yml`",
        onFailure: "the runner names the playbook and its log on the runner VM; `pulumi up` again resumes the run at the step that failed",
        has: (r) => r.name === "kubespray",
    },
    {
        id: "apps",
        title: "The kubeconfig, then ArgoCD and erp-uno: the Helm release, the Application, the wait until it is Synced and Healthy",
        prints: "`+H:MM:SS argocd/erp-uno: …` on each status change, then `argocd/erp-uno: Synced and Healthy at <version>`",
        onFailure: "the wait names the resources that are not healthy; after a failed sync, start one in ArgoCD, then `pulumi up` again",
        has: (r) => ["kubeconfig", "erp-uno-synced"].includes(r.name) || r.type.startsWith("kubernetes:"),
    },
];

export function phaseOf(resource: RecordedResource): Phase | undefined {
    return PHASES.find((phase) => phase.has(resource));
}

export interface GuideRow {
    readonly phase: Phase;
    /** Its resources on the longest chain, and their estimated seconds. */
    readonly onChain: readonly string[];
    readonly chainSeconds: number;
}

/**
 * The phases of a first `pulumi up` in the order they start: a phase starts with its first command
 * (commandOrder), or, for one without commands (Proxmox), with the first command that waits for it.
 */
export function firstUpGuide(resources: readonly RecordedResource[]): GuideRow[] {
    const order = commandOrder(resources);
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const waits = order.map((command) => waitsFor(command, byUrn));
    const start = (phase: Phase): number => {
        const own = order.findIndex((command) => phaseOf(command) === phase);
        if (own >= 0) return own;
        const members = resources.filter((r) => phaseOf(r) === phase).map((r) => r.urn);
        const first = waits.findIndex((set) => members.some((urn) => set.has(urn)));
        return first < 0 ? Number.POSITIVE_INFINITY : first - 0.5;
    };
    const { bySeconds } = longestChain(resources);
    return PHASES.filter((phase) => resources.some((r) => phaseOf(r) === phase))
        .map((phase) => ({ phase, at: start(phase) }))
        .sort((a, b) => a.at - b.at)
        .map(({ phase }) => {
            const onChain = bySeconds.filter((r) => phaseOf(r) === phase);
            return { phase, onChain: onChain.map((r) => r.name), chainSeconds: onChain.reduce((sum, r) => sum + estimateSeconds(r), 0) };
        });
}

/** The guide as the README's table. */
export function firstUpGuideMarkdown(rows: readonly GuideRow[]): string {
    const total = rows.reduce((sum, row) => sum + row.chainSeconds, 0);
    const minutes = (seconds: number) => (seconds === 0 ? "alongside" : `~${Math.max(1, Math.round(seconds / 60))} min`);
    return [
        "| # | phase | when it worked | on the longest chain | when it fails |",
        "|---|---|---|---|---|",
        ...rows.map((row, i) => `| 6.${i + 1} | ${row.phase.title} | ${row.phase.prints} | ${minutes(row.chainSeconds)} | ${row.phase.onFailure} |`),
        "",
        `Longest chain of production: ~${Math.round(total / 60)} min (estimates in render/bringUp.ts, not measurements; \`npm run bench\` prints the chain).`,
    ].join("\n");
}
