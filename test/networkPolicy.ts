// Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), for the connectivity test: whether a
// flow between two endpoints is allowed by a set of rendered policies. A flow needs the source's
// egress and the destination's ingress; a pod that no policy of a direction selects is open in that
// direction; peers are namespace and pod selectors (ANDed when both are given) or ipBlocks; ports
// are numbers, ranges (endPort) or names of the destination pod's container ports.
//
// Two facts of the cluster's network plugin (Calico, as Kubespray installs it) are modelled:
// - a pod's own node reaches it whatever its ingress policy (kubelet probes): the Kubernetes docs
//   ("traffic to and from the node where a Pod is running is always allowed"), which Calico keeps;
// - a pod's egress policy does apply to traffic to host-network addresses, its own node's included
//   (Calico applies a workload's egress policy before the host sees the packet), so node-local DNS
//   and the API server need an explicit allow. This is the stricter reading; the test relies on it.
import ipaddr from "ipaddr.js";

export interface Pod {
    readonly kind: "pod";
    readonly name: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly ip: string;
    readonly node: string;
    readonly ports: readonly { readonly name?: string; readonly port: number; readonly protocol: string }[];
}

/** A node's host network: the kubelet, node-local DNS, the API server on a control-plane node. */
export interface Host {
    readonly kind: "host";
    readonly name: string;
    readonly ip: string;
    readonly node: string;
}

export interface External {
    readonly kind: "external";
    readonly name: string;
    readonly ip: string;
}

export type Endpoint = Pod | Host | External;

export interface Flow {
    readonly from: Endpoint;
    readonly to: Endpoint;
    readonly port: number;
    readonly protocol: "TCP" | "UDP";
}

interface LabelSelector {
    readonly matchLabels?: Record<string, string>;
    readonly matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

interface Peer {
    readonly podSelector?: LabelSelector;
    readonly namespaceSelector?: LabelSelector;
    readonly ipBlock?: { cidr: string; except?: string[] };
}

interface PolicyPort {
    readonly port?: number | string;
    readonly endPort?: number;
    readonly protocol?: string;
}

interface Rule {
    readonly to?: Peer[];
    readonly from?: Peer[];
    readonly ports?: PolicyPort[];
}

export interface NetworkPolicy {
    readonly metadata: { readonly name: string; readonly namespace: string };
    readonly spec: {
        readonly podSelector: LabelSelector;
        readonly policyTypes?: ("Ingress" | "Egress")[];
        readonly ingress?: Rule[] | null;
        readonly egress?: Rule[] | null;
    };
}

export function selectorMatches(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
    if (selector === undefined) return true;
    for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
        if (labels[key] !== value) return false;
    }
    for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
        const has = Object.prototype.hasOwnProperty.call(labels, key);
        const ok =
            operator === "In" ? has && values.includes(labels[key] as string)
            : operator === "NotIn" ? !has || !values.includes(labels[key] as string)
            : operator === "Exists" ? has
            : !has;
        if (!ok) return false;
    }
    return true;
}

function inCidr(ip: string, cidr: string): boolean {
    const address = ipaddr.parse(ip);
    const [range, bits] = ipaddr.parseCIDR(cidr);
    return address.kind() === range.kind() && address.match(range, bits);
}

export class PolicySet {
    constructor(
        private readonly policies: readonly NetworkPolicy[],
        /** Labels per namespace; every namespace has kubernetes.io/metadata.name (Kubernetes 1.22+). */
        private readonly namespaces: Readonly<Record<string, Readonly<Record<string, string>>>>,
    ) {}

    allows(flow: Flow): boolean {
        return this.egressAllows(flow) && this.ingressAllows(flow);
    }

    private selecting(pod: Pod, direction: "Ingress" | "Egress"): NetworkPolicy[] {
        return this.policies.filter((policy) => {
            // Without policyTypes, the API adds Egress only when the policy has egress rules.
            const types = policy.spec.policyTypes ?? ((policy.spec.egress?.length ?? 0) > 0 ? ["Ingress", "Egress"] : ["Ingress"]);
            return policy.metadata.namespace === pod.namespace && types.includes(direction) && selectorMatches(policy.spec.podSelector, pod.labels);
        });
    }

    private egressAllows(flow: Flow): boolean {
        if (flow.from.kind !== "pod") return true;
        const policies = this.selecting(flow.from, "Egress");
        if (policies.length === 0) return true;
        return policies.some((policy) => (policy.spec.egress ?? []).some((rule) => this.ruleMatches(rule, rule.to, flow.to, policy.metadata.namespace, flow)));
    }

    private ingressAllows(flow: Flow): boolean {
        if (flow.to.kind !== "pod") return true;
        if (flow.from.kind === "host" && flow.from.node === flow.to.node) return true;
        const policies = this.selecting(flow.to, "Ingress");
        if (policies.length === 0) return true;
        return policies.some((policy) => (policy.spec.ingress ?? []).some((rule) => this.ruleMatches(rule, rule.from, flow.from, policy.metadata.namespace, flow)));
    }

    private ruleMatches(rule: Rule, peers: Peer[] | undefined, other: Endpoint, policyNamespace: string, flow: Flow): boolean {
        const peerOk = peers === undefined || peers.length === 0 || peers.some((peer) => this.peerMatches(peer, other, policyNamespace));
        const portOk = rule.ports === undefined || rule.ports.length === 0 || rule.ports.some((port) => portMatches(port, flow));
        return peerOk && portOk;
    }

    private peerMatches(peer: Peer, endpoint: Endpoint, policyNamespace: string): boolean {
        if (peer.ipBlock) {
            return inCidr(endpoint.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((cidr) => inCidr(endpoint.ip, cidr));
        }
        if (endpoint.kind !== "pod") return false;
        const namespaceOk = peer.namespaceSelector
            ? selectorMatches(peer.namespaceSelector, this.namespaces[endpoint.namespace] ?? { "kubernetes.io/metadata.name": endpoint.namespace })
            : endpoint.namespace === policyNamespace;
        return namespaceOk && selectorMatches(peer.podSelector, endpoint.labels);
    }
}

function portMatches(port: PolicyPort, flow: Flow): boolean {
    if ((port.protocol ?? "TCP") !== flow.protocol) return false;
    if (port.port === undefined) return true;
    if (typeof port.port === "string") {
        // A named port is the destination pod's container port of that name.
        return flow.to.kind === "pod" && flow.to.ports.some((p) => p.name === port.port && p.port === flow.port && p.protocol === flow.protocol);
    }
    return flow.port >= port.port && flow.port <= (port.endPort ?? port.port);
}
