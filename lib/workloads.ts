// What the apps layer tells the Proxmox layer's topology report about the workloads: which keep
// their state on a node (apps/capacity.ts computes them, proxmox/topology.ts reports them).

/**
 * A component whose members are tied to nodes by local-path volumes (a volume stays on the node it
 * was made on): a StatefulSet's claim per member, or a Deployment's one claim, which holds all its pods.
 */
export interface NodeBoundWorkload {
    /** namespace/component */
    readonly name: string;
    readonly kind: "StatefulSet" | "Deployment";
    /** The most members it runs (an HPA's maximum), spread over the nodes by preference only: the chart's podAntiAffinity is "preferred". */
    readonly members: number;
    readonly volumeGiB: number;
}
