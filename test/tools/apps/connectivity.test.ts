// The connectivity test: the NetworkPolicies real helm renders for each stack, evaluated with
// Kubernetes NetworkPolicy semantics (test/networkPolicy.ts) against a table of flows that must work
// and flows that must not. The flows come from the declared calls in the values (the input the
// policies are made from), not from the rendered policies.
//
// Cluster facts assumed, with their sources (Kubespray v2.28.0, the tag the stacks pin):
// - node-local DNS listens on nodelocaldns_ip on every node's host network (enable_nodelocaldns:
//   true; the program sets nodelocaldns_ip from lib/conventions.ts NODE_LOCAL_DNS);
// - CoreDNS pods: kube-system, label k8s-app=kube-dns, port 53 (coredns-deployment.yml.j2);
// - ingress-nginx pods: namespace ingress-nginx, label app.kubernetes.io/name=ingress-nginx, on the
//   pod network (ds-ingress-nginx-controller.yml.j2; the program sets ingress_nginx_host_network false);
// - the API server: kubernetes.default is rewritten to each control-plane node's address, port 6443
//   (kube_apiserver_port), before policy sees the packet;
// - every namespace carries kubernetes.io/metadata.name (Kubernetes 1.22 and later).
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { loadChart } from "../../../apps/catalog";
import { effectiveValues } from "../../../apps/values";
import { groupVars } from "../../../cluster/kubespray";
import { NODE_LOCAL_DNS } from "../../../lib/conventions";
import type { StackPlan } from "../../../plan";
import { helmBinary, templateChart } from "../../../render/helm";
import { ROOT } from "../../../render/stackConfig";
import { plannedStack, STACKS } from "../../helpers";
import { PolicySet, type Endpoint, type Flow, type Host, type NetworkPolicy, type Pod } from "../../networkPolicy";
import { run } from "../support";

type K8sObject = { kind: string; metadata: { name: string; namespace: string }; spec: any };

const CORE_DNS: Pod = { kind: "pod", name: "coredns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" }, ip: "10.233.65.2", node: "node1", ports: [{ name: "dns", port: 53, protocol: "UDP" }] };
const INGRESS_CONTROLLER: Pod = { kind: "pod", name: "ingress-nginx", namespace: "ingress-nginx", labels: { "app.kubernetes.io/name": "ingress-nginx" }, ip: "10.233.65.3", node: "node1", ports: [] };
const INTERNET = { kind: "external", name: "a public host", ip: "93.184.216.34" } as const;
const MIRROR = { kind: "external", name: "the datacenter mirror", ip: "10.0.0.2" } as const;

/** The pods of the rendered workloads: two of a clustered service (on two nodes), one otherwise. */
function podsOf(objects: readonly K8sObject[]): Pod[] {
    const pods: Pod[] = [];
    for (const workload of objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")) {
        const template = workload.spec.template;
        const clustered = workload.kind === "StatefulSet" || (workload.spec.replicas ?? 2) > 1;
        for (let i = 0; i < (clustered ? 2 : 1); i++) {
            pods.push({
                kind: "pod",
                name: `${workload.metadata.name}-${i}`,
                namespace: workload.metadata.namespace,
                labels: template.metadata.labels,
                ip: `10.233.64.${pods.length + 2}`,
                node: `node${(i % 2) + 1}`,
                ports: template.spec.containers[0].ports.map((p: any) => ({ name: p.name, port: p.containerPort, protocol: p.protocol ?? "TCP" })),
            });
        }
    }
    return pods;
}

const nodeOf = (pod: Pod): Host => ({ kind: "host", name: `${pod.node} (kubelet)`, ip: pod.node === "node1" ? "10.0.0.21" : "10.0.0.22", node: pod.node });
const describe_ = (e: Endpoint) => (e.kind === "pod" ? `${e.namespace}/${e.name}` : e.name);
const show = (flow: Flow) => `${describe_(flow.from)} -> ${describe_(flow.to)}:${flow.port}/${flow.protocol}`;

interface Declared {
    readonly component: string;
    /** "<ns>/<name>:<port name>" */
    readonly calls: readonly string[];
}

/** The declared calls of every enabled component, from the stack's effective values (the policies' input). */
function declaredCalls(config: StackPlan): Declared[] {
    const values = effectiveValues(loadChart(), config.apps.values) as any;
    const result: Declared[] = [];
    for (const [namespace, members] of Object.entries<any>(values.services)) {
        if (!values.namespaces[namespace].enabled) continue;
        for (const [name, service] of Object.entries<any>(members)) {
            if (!service.enabled) continue;
            result.push({ component: `${namespace}/${name}`, calls: [...values.networkPolicy.everyComponentCalls, ...(service.calls ?? [])] });
        }
    }
    return result;
}

function renderPolicies(chartDir: string, values: Record<string, unknown>): { objects: K8sObject[]; policies: NetworkPolicy[] } {
    const objects = YAML.parseAllDocuments(templateChart(values, [], chartDir)).map((d) => d.toJS() as K8sObject).filter(Boolean);
    return { objects, policies: objects.filter((o) => o.kind === "NetworkPolicy") as unknown as NetworkPolicy[] };
}

function namespacesOf(pods: readonly Pod[]): Record<string, Record<string, string>> {
    return Object.fromEntries([...new Set([...pods.map((p) => p.namespace), "kube-system", "ingress-nginx"])].map((ns) => [ns, { "kubernetes.io/metadata.name": ns }]));
}

describe("connectivity under the rendered NetworkPolicies", function () {
    this.timeout(120000);

    it("assumes the node-local DNS address the stacks give Kubespray", () => {
        for (const stack of STACKS) {
            assert.equal((groupVars(plannedStack(stack).cluster)["k8s_cluster/k8s-cluster.yml"] as any).nodelocaldns_ip, NODE_LOCAL_DNS, stack);
        }
    });

    for (const stack of STACKS) {
        describe(stack, () => {
            let pods: Pod[];
            let policies: PolicySet;
            let declared: Declared[];
            let controlPlane: Host[];
            let portalCheck: Pod;
            const byComponent = (component: string) => pods.filter((p) => `${p.namespace}/${p.labels["app.kubernetes.io/name"]}` === component);
            const portOf = (pod: Pod, name: string) => pod.ports.find((p) => p.name === name) as { port: number; protocol: string };

            before(() => {
                const config = plannedStack(stack);
                const rendered = renderPolicies(path.join(ROOT, "apps", "charts", "erp-uno"), config.apps.values);
                pods = podsOf(rendered.objects);
                const test = rendered.objects.find((o) => o.kind === "Pod") as K8sObject & { metadata: { labels: Record<string, string> } };
                portalCheck = { kind: "pod", name: test.metadata.name, namespace: test.metadata.namespace, labels: test.metadata.labels, ip: "10.233.66.2", node: "node2", ports: [] };
                policies = new PolicySet(rendered.policies, namespacesOf(pods));
                declared = declaredCalls(config);
                controlPlane = config.cluster.controlPlane.map((vm) => ({ kind: "host", name: `${vm.name} (API server)`, ip: vm.address, node: vm.name }));
            });

            const mustAllow = (flows: Flow[]) => {
                const denied = flows.filter((flow) => !policies.allows(flow)).map(show);
                assert.deepEqual(denied, [], "flows that must work are denied");
                assert.ok(flows.length > 0);
            };
            const mustDeny = (flows: Flow[]) => {
                const allowed = flows.filter((flow) => policies.allows(flow)).map(show);
                assert.deepEqual(allowed, [], "flows that must not happen are allowed");
                assert.ok(flows.length > 0);
            };

            it("lets every declared call through, on the called port", () => {
                const flows: Flow[] = [];
                for (const { component, calls } of declared) {
                    for (const call of calls) {
                        const [target, portName] = call.split(":") as [string, string];
                        if (target === component) continue;
                        for (const to of byComponent(target)) {
                            const port = portOf(to, portName);
                            for (const from of byComponent(component)) flows.push({ from, to, port: port.port, protocol: port.protocol as "TCP" | "UDP" });
                        }
                    }
                }
                mustAllow(flows);
            });

            it("lets every pod resolve names through node-local DNS (a host-network address) and CoreDNS", () => {
                mustAllow(
                    pods.flatMap((from) => [
                        { from, to: { kind: "host", name: "node-local DNS", ip: NODE_LOCAL_DNS, node: from.node } as Host, port: 53, protocol: "UDP" as const },
                        { from, to: { kind: "host", name: "node-local DNS", ip: NODE_LOCAL_DNS, node: from.node } as Host, port: 53, protocol: "TCP" as const },
                        { from, to: CORE_DNS, port: 53, protocol: "UDP" as const },
                    ]),
                );
            });

            it("lets the ingress controller reach the portal, the scraper every http port, the kubelet every probe, and a service's members each other", () => {
                const http = (pod: Pod) => portOf(pod, "http").port;
                const portal = byComponent("erp-services/nitro-portal");
                const scraper = byComponent("erp-telemetry/prometheus");
                const clustered = pods.filter((pod) => pods.some((other) => other !== pod && other.labels["app.kubernetes.io/name"] === pod.labels["app.kubernetes.io/name"] && other.namespace === pod.namespace));
                mustAllow([
                    ...portal.map((to) => ({ from: INGRESS_CONTROLLER, to, port: http(to), protocol: "TCP" as const })),
                    ...scraper.flatMap((from) => pods.filter((to) => !scraper.includes(to)).map((to) => ({ from, to, port: http(to), protocol: "TCP" as const }))),
                    ...pods.map((to) => ({ from: nodeOf(to), to, port: http(to), protocol: "TCP" as const })),
                    ...clustered.flatMap((from) =>
                        clustered
                            .filter((to) => to !== from && to.namespace === from.namespace && to.labels["app.kubernetes.io/name"] === from.labels["app.kubernetes.io/name"])
                            .flatMap((to) => [4369, 9100, 9115].map((port) => ({ from, to, port, protocol: "TCP" as const }))),
                    ),
                ]);
            });

            it("lets the portal check (the chart's test pod, an ArgoCD PostSync hook) reach the portal and nothing else", () => {
                const check = portalCheck;
                assert.ok(check, "the chart renders its portal check");
                const portal = byComponent("erp-services/nitro-portal");
                mustAllow(portal.map((to) => ({ from: check, to, port: portOf(to, "http").port, protocol: "TCP" as const })));
                mustDeny(pods.filter((to) => !portal.includes(to)).flatMap((to) => to.ports.map((p) => ({ from: check, to, port: p.port, protocol: p.protocol as "TCP" | "UDP" }))));
            });

            it("allows between components exactly the declared calls on the called ports, the scrapes, and the members' own ports: nothing else on any port", () => {
                const ERLANG = [4369, 9100, 9115];
                const scrapePorts = (pod: Pod) => pod.ports.filter((p) => p.name === "http" || p.name === "metrics").map((p) => p.port);
                const wrong: string[] = [];
                for (const from of pods) {
                    const fromComponent = `${from.namespace}/${from.labels["app.kubernetes.io/name"]}`;
                    const calls = declared.find((d) => d.component === fromComponent)?.calls ?? [];
                    for (const to of pods) {
                        if (to === from) continue;
                        const toComponent = `${to.namespace}/${to.labels["app.kubernetes.io/name"]}`;
                        const candidates = [...new Set([...to.ports.map((p) => `${p.port}/${p.protocol}`), ...ERLANG.map((port) => `${port}/TCP`)])];
                        for (const candidate of candidates) {
                            const [port, protocol] = [Number(candidate.split("/")[0]), candidate.split("/")[1] as "TCP" | "UDP"];
                            // A component's calls to itself (everyComponentCalls includes the collector) are no flow between its members.
                            const called = toComponent !== fromComponent && calls.some((call) => {
                                const [target, portName] = call.split(":");
                                const p = to.ports.find((q) => q.name === portName);
                                return target === toComponent && p?.port === port && p.protocol === protocol;
                            });
                            const scraped = fromComponent === "erp-telemetry/prometheus" && toComponent !== fromComponent && protocol === "TCP" && scrapePorts(to).includes(port);
                            const member = fromComponent === toComponent && protocol === "TCP" && (port === 4369 || (port >= 9100 && port <= 9115));
                            const expected = called || scraped || member;
                            if (policies.allows({ from, to, port, protocol }) !== expected) wrong.push(`${show({ from, to, port, protocol })} ${expected ? "denied" : "allowed"}`);
                        }
                    }
                }
                assert.deepEqual(wrong, [], "flows that the declared calls do not account for");
            });

            it("lets only a pod's own node reach it outside the policies (kubelet probes), not another node", () => {
                const other = (pod: Pod): Host => ({ kind: "host", name: "another node", ip: "10.0.0.99", node: "node9" });
                mustDeny(pods.flatMap((to) => to.ports.map((p) => ({ from: other(to), to, port: p.port, protocol: p.protocol as "TCP" | "UDP" }))));
            });

            it("denies pods the internet, the mirrors, the API server and the ingress controller's other targets", () => {
                mustDeny(
                    pods.flatMap((from) => [
                        { from, to: INTERNET, port: 443, protocol: "TCP" as const },
                        { from, to: INTERNET, port: 80, protocol: "TCP" as const },
                        { from, to: INTERNET, port: 53, protocol: "UDP" as const },
                        { from, to: MIRROR, port: 443, protocol: "TCP" as const },
                        ...controlPlane.map((to) => ({ from, to, port: 6443, protocol: "TCP" as const })),
                        // kubernetes.default itself, should the rewrite come after policy somewhere.
                        { from, to: { kind: "external", name: "kubernetes.default", ip: "10.233.0.1" } as const, port: 443, protocol: "TCP" as const },
                    ]),
                );
                const portalPods = new Set(byComponent("erp-services/nitro-portal"));
                mustDeny(pods.filter((to) => !portalPods.has(to)).flatMap((to) => to.ports.map((p) => ({ from: INGRESS_CONTROLLER, to, port: p.port, protocol: p.protocol as "TCP" | "UDP" }))));
            });
        });
    }

    it("the policies written from the handbook's namespace table (the chart before this change) deny the six flows item 2 of issue 15 lists, which these allow", function () {
        // The chart as it was at 6b134fb, from the repository's history.
        const old = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-old-chart-"));
        const archive = execFileSync("git", ["-C", ROOT, "archive", "6b134fb", "apps/charts/erp-uno"]);
        execFileSync("tar", ["-x", "-C", old], { input: archive });
        const config = plannedStack("production");
        const current = renderPolicies(path.join(ROOT, "apps", "charts", "erp-uno"), config.apps.values);
        const before = renderPolicies(path.join(old, "apps", "charts", "erp-uno"), { global: (config.apps.values as any).global });
        fs.rmSync(old, { recursive: true, force: true });
        const pods = podsOf(current.objects);
        const pod = (component: string) => pods.find((p) => `${p.namespace}/${p.labels["app.kubernetes.io/name"]}` === component) as Pod;
        const flows: Flow[] = [
            { from: pod("erp-apps/crm-documents"), to: pod("erp-services/kvs-database"), port: 8301, protocol: "TCP" },
            { from: pod("erp-ai/ai-generation"), to: pod("erp-services/kvs-database"), port: 8301, protocol: "TCP" },
            { from: pod("erp-services/nitro-portal"), to: pod("erp-apps/crm-documents"), port: 8503, protocol: "TCP" },
            { from: pod("erp-apps/crm-documents"), to: pod("erp-telemetry/otel-collector"), port: 8405, protocol: "TCP" },
            { from: pod("erp-apps/crm-documents"), to: pod("erp-telemetry/loki"), port: 8403, protocol: "TCP" },
            { from: pod("erp-apps/crm-documents"), to: pod("erp-security/ldap-directory"), port: 1389, protocol: "TCP" },
        ];
        const oldSet = new PolicySet(before.policies, namespacesOf(pods));
        const newSet = new PolicySet(current.policies, namespacesOf(pods));
        assert.deepEqual(flows.filter((flow) => oldSet.allows(flow)).map(show), [], "the old policies allow a flow item 2 says they deny");
        assert.deepEqual(flows.filter((flow) => !newSet.allows(flow)).map(show), []);
        // The old table also let every pod out to any host on 443, which these do not.
        const internet: Flow = { from: pod("erp-apps/crm-documents"), to: INTERNET, port: 443, protocol: "TCP" };
        assert.equal(oldSet.allows(internet), true);
        assert.equal(newSet.allows(internet), false);
        run(helmBinary(), ["version", "--short"]);
    });
});

describe("the NetworkPolicy evaluator follows the API's semantics", () => {
    const pod = (namespace: string, name: string, ports: Pod["ports"] = [{ name: "http", port: 8080, protocol: "TCP" }]): Pod => ({ kind: "pod", name, namespace, labels: { app: name }, ip: `10.233.64.${name.length + 10}`, node: "node1", ports });
    const a = pod("one", "a");
    const b = pod("two", "bb");
    const flow = (port = 8080, protocol: "TCP" | "UDP" = "TCP"): Flow => ({ from: a, to: b, port, protocol });
    const namespaces = { one: { "kubernetes.io/metadata.name": "one", team: "x" }, two: { "kubernetes.io/metadata.name": "two" } };
    const policy = (namespace: string, spec: any): NetworkPolicy => ({ metadata: { name: "p", namespace }, spec });
    const denyAll = (namespace: string) => policy(namespace, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });

    it("allows what no policy selects, and nothing once deny-all selects both ends", () => {
        assert.equal(new PolicySet([], namespaces).allows(flow()), true);
        assert.equal(new PolicySet([denyAll("one")], namespaces).allows(flow()), false);
        assert.equal(new PolicySet([denyAll("two")], namespaces).allows(flow()), false);
    });

    it("needs the source's egress and the destination's ingress, with namespace and pod selectors ANDed in one peer", () => {
        const egress = policy("one", { podSelector: { matchLabels: { app: "a" } }, policyTypes: ["Egress"], egress: [{ to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "two" } }, podSelector: { matchLabels: { app: "bb" } } }], ports: [{ port: 8080 }] }] });
        const ingress = policy("two", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "x" } } }] }] });
        const set = new PolicySet([denyAll("one"), denyAll("two"), egress, ingress], namespaces);
        assert.equal(set.allows(flow()), true);
        assert.equal(set.allows(flow(8081)), false);
        assert.equal(set.allows(flow(8080, "UDP")), false);
        // A pod selector alone means the policy's own namespace.
        const wrongNamespace = policy("one", { podSelector: {}, policyTypes: ["Egress"], egress: [{ to: [{ podSelector: { matchLabels: { app: "bb" } } }] }] });
        assert.equal(new PolicySet([denyAll("one"), wrongNamespace], namespaces).allows(flow()), false);
    });

    it("reads port ranges, named ports, ipBlocks with exceptions, and lets a node reach its own pods", () => {
        const range = policy("one", { podSelector: {}, policyTypes: ["Egress"], egress: [{ ports: [{ port: 9100, endPort: 9115 }, { port: "http" }] }] });
        const set = new PolicySet([denyAll("one"), range], namespaces);
        assert.equal(set.allows(flow(9115)), true);
        assert.equal(set.allows(flow(9116)), false);
        assert.equal(set.allows(flow(8080)), true);
        const block = policy("one", { podSelector: {}, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.0.0.0/24"] } }] }] });
        const blocked = new PolicySet([denyAll("one"), block], namespaces);
        assert.equal(blocked.allows({ from: a, to: { kind: "external", name: "x", ip: "10.1.0.1" }, port: 1, protocol: "TCP" }), true);
        assert.equal(blocked.allows({ from: a, to: { kind: "external", name: "y", ip: "10.0.0.9" }, port: 1, protocol: "TCP" }), false);
        assert.equal(new PolicySet([denyAll("two")], namespaces).allows({ from: { kind: "host", name: "kubelet", ip: "10.0.0.21", node: "node1" }, to: b, port: 8080, protocol: "TCP" }), true);
        assert.equal(new PolicySet([denyAll("two")], namespaces).allows({ from: { kind: "host", name: "kubelet", ip: "10.0.0.22", node: "node2" }, to: b, port: 8080, protocol: "TCP" }), false);
    });
});
