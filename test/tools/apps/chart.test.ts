// The erp-uno chart through real helm v4, with each stack's values: lint, template, Kubernetes
// OpenAPI validation of every object (kubernetes-models), and the platform's policies.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { CHART_DIR, loadChart } from "../../../apps/catalog";
import { effectiveValues } from "../../../apps/values";
import { CALVER } from "../../../lib/conventions";
import type { StackPlan } from "../../../plan";
import { helmBinary, templateChart } from "../../../render/helm";
import { plannedStack, STACKS } from "../../helpers";
import { run } from "../support";

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; spec?: any };

// kubernetes-models is ESM-only: load it with a native dynamic import from this CommonJS suite.
const importEsm = new Function("specifier", "return import(specifier)") as (specifier: string) => Promise<Record<string, any>>;
const MODEL_MODULES: Record<string, string> = {
    "apps/v1": "kubernetes-models/apps/v1",
    v1: "kubernetes-models/v1",
    "autoscaling/v2": "kubernetes-models/autoscaling/v2",
    "policy/v1": "kubernetes-models/policy/v1",
    "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
    "rbac.authorization.k8s.io/v1": "kubernetes-models/rbac.authorization.k8s.io/v1",
};

async function validate(object: K8sObject): Promise<void> {
    const module = MODEL_MODULES[object.apiVersion];
    assert.ok(module, `${object.kind} ${object.metadata.name}: unexpected apiVersion ${object.apiVersion}`);
    const Model = (await importEsm(module))[object.kind];
    assert.ok(Model, `${object.apiVersion} has no kind ${object.kind}`);
    new Model(object).validate();
}

const containersOf = (object: K8sObject): any[] =>
    object.kind === "Pod" ? object.spec.containers : ["Deployment", "StatefulSet"].includes(object.kind) ? object.spec.template.spec.containers : [];
const podSpecOf = (object: K8sObject): any => (object.kind === "Pod" ? object.spec : object.spec?.template?.spec);

describe("the erp-uno chart with each stack's values", function () {
    this.timeout(120000);

    it("passes `helm lint --strict` with its defaults", () => {
        run(helmBinary(), ["lint", "--strict", CHART_DIR]);
    });

    for (const stack of STACKS) {
        describe(stack, () => {
            let config: StackPlan;
            let objects: K8sObject[];
            before(() => {
                config = plannedStack(stack);
                objects = YAML.parseAllDocuments(templateChart(config.apps.values)).map((d) => d.toJS() as K8sObject).filter(Boolean);
            });

            it("passes `helm lint --strict` with the stack's values", () => {
                const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-lint-")), "values.yaml");
                fs.writeFileSync(file, YAML.stringify(config.apps.values));
                run(helmBinary(), ["lint", "--strict", CHART_DIR, "-f", file]);
            });

            it("renders objects that all validate against the Kubernetes OpenAPI schemas", async () => {
                assert.ok(objects.length > 40);
                for (const object of objects) await validate(object);
            });

            it("pulls every image from the internal registry with a calendar-version tag", () => {
                for (const container of objects.flatMap(containersOf)) {
                    const [repository, tag] = (container.image as string).split(/:(?=[^:]+$)/);
                    assert.ok(repository?.startsWith(`${config.dns.names.registry}/erpuno/`), container.image);
                    assert.match(tag ?? "", CALVER, container.image);
                }
            });

            it("gives every container limits and requests, probes (but the helm test pod), and a restricted security context but for the one declared exception", () => {
                const values = effectiveValues(loadChart(), config.apps.values);
                for (const object of objects.filter((o) => containersOf(o).length > 0)) {
                    const declared = object.metadata.namespace ? values.services[object.metadata.namespace]?.[object.metadata.name]?.privileges : undefined;
                    assert.equal(podSpecOf(object).securityContext.runAsNonRoot, !declared?.runAsRoot, object.metadata.name);
                    for (const container of containersOf(object)) {
                        assert.deepEqual(container.securityContext.capabilities.add ?? [], declared?.capabilities ?? [], `${object.metadata.name} adds capabilities it does not declare`);
                        const where = `${object.kind} ${object.metadata.name}`;
                        assert.ok(container.resources.limits.cpu && container.resources.limits.memory, where);
                        assert.ok(container.resources.requests.cpu && container.resources.requests.memory, where);
                        if (!object.metadata.annotations?.["helm.sh/hook"]) {
                            assert.ok(container.livenessProbe?.httpGet && container.readinessProbe?.httpGet, `${where} has no probes`);
                        }
                        assert.equal(container.securityContext.allowPrivilegeEscalation, false, where);
                        assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"], where);
                    }
                }
            });

            it("denies all traffic by default in each of the six namespaces", () => {
                const denied = objects
                    .filter((o) => o.kind === "NetworkPolicy" && o.metadata.name === "erp-deny-all")
                    .filter((o) => JSON.stringify(o.spec.podSelector) === "{}" && o.spec.policyTypes.includes("Ingress") && o.spec.policyTypes.includes("Egress"))
                    .map((o) => o.metadata.namespace)
                    .sort();
                assert.deepEqual(denied, ["erp-ai", "erp-apps", "erp-infra", "erp-security", "erp-services", "erp-telemetry"]);
            });

            it("makes the Pod Security exception narrow: one namespace, one component, each with its reason", () => {
                const chart = loadChart();
                const exceptions = Object.entries(chart.defaults.namespaces).filter(([, ns]) => (ns.podSecurity ?? "restricted") !== "restricted");
                assert.deepEqual(exceptions.map(([name]) => name), ["erp-security"]);
                assert.ok((exceptions[0]?.[1].podSecurityReason ?? "").includes("vpn-wireguard"));
                const privileged = Object.entries(chart.defaults.services).flatMap(([ns, members]) => Object.entries(members).filter(([, svc]) => svc.privileges).map(([name]) => `${ns}/${name}`));
                assert.deepEqual(privileged, ["erp-security/vpn-wireguard"]);
            });

            it("gives the slow starters a startup probe as long as their values say, and every pod a writable HOME", () => {
                const values = effectiveValues(loadChart(), config.apps.values);
                for (const workload of objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind))) {
                    const container = containersOf(workload)[0];
                    const seconds = values.services[workload.metadata.namespace as string]?.[workload.metadata.name]?.startupSeconds;
                    if (seconds === undefined) assert.equal(container.startupProbe, undefined, workload.metadata.name);
                    else assert.ok(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold >= seconds, workload.metadata.name);
                    const home = container.env.find((e: { name: string }) => e.name === "HOME")?.value;
                    const mounts = [...container.volumeMounts.map((m: { mountPath: string }) => m.mountPath)];
                    assert.ok(mounts.includes(home), `${workload.metadata.name}: HOME ${home} is not a mounted, writable volume`);
                }
                if (values.services["erp-services"]?.["kvs-database"]?.enabled) {
                    assert.ok(values.services["erp-services"]["kvs-database"].startupSeconds, "kvs-database, which loads Mnesia first, has a startup probe");
                }
            });

            it("gives no component API access: a ServiceAccount per namespace that mounts no token, and no Role or RoleBinding", () => {
                assert.deepEqual(objects.filter((o) => ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"].includes(o.kind)).map((o) => o.metadata.name), []);
                const accounts = objects.filter((o) => o.kind === "ServiceAccount");
                assert.equal(accounts.length, 6);
                for (const account of accounts) assert.equal((account as any).automountServiceAccountToken, false, account.metadata.name);
                for (const workload of objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind))) {
                    assert.equal(podSpecOf(workload).automountServiceAccountToken, false, workload.metadata.name);
                }
            });

            it("names the headless Service in ERP_SERVICE_DNS for StatefulSets only, which are the ones that have one", () => {
                for (const workload of objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind))) {
                    const dns = containersOf(workload)[0].env.find((e: { name: string }) => e.name === "ERP_SERVICE_DNS")?.value;
                    if (workload.kind === "StatefulSet") {
                        const [service, namespace] = String(dns).split(".");
                        assert.ok(objects.some((o) => o.kind === "Service" && o.metadata.name === service && o.metadata.namespace === namespace && o.spec.clusterIP === "None"), `${workload.metadata.name}: ${dns}`);
                    } else {
                        assert.equal(dns, undefined, workload.metadata.name);
                    }
                }
            });

            it("gives every StatefulSet a headless Service and a local-path volume at /data", () => {
                const sets = objects.filter((o) => o.kind === "StatefulSet");
                assert.ok(sets.length > 0);
                for (const set of sets) {
                    const headless = objects.find((o) => o.kind === "Service" && o.metadata.name === set.spec.serviceName && o.metadata.namespace === set.metadata.namespace);
                    assert.equal(headless?.spec.clusterIP, "None", set.metadata.name);
                    assert.equal(set.spec.volumeClaimTemplates[0].spec.storageClassName, "local-path");
                    assert.ok(containersOf(set)[0].volumeMounts.some((m: any) => m.mountPath === "/data"));
                }
            });

            it("renders exactly the components the stack's profile enables", () => {
                const workloads = objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind)).length;
                assert.equal(workloads, config.apps.profile === "full" ? 30 : 9);
            });
        });
    }

    it("kubernetes-models rejects a broken object (the validation can fail)", async () => {
        const broken = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { selector: {}, template: { spec: { containers: [{ name: "x", image: 5 }] } } } };
        await assert.rejects(validate(broken as unknown as K8sObject), /image must be string/);
    });

    describe("bad values fail `helm template` with a readable message", () => {
        const production = () => plannedStack("production").apps.values;
        const fails = (set: string, expected: RegExp) =>
            assert.throws(() => templateChart(production(), ["--set", set]), (error: { stderr?: string }) => {
                assert.match(String(error.stderr), expected);
                return true;
            });

        it("a latest tag", () => fails("services.erp-apps.crm-documents.image.tag=latest", /crm-documents\/image\/tag|image.*tag/i));
        it("an unknown component", () => fails("services.erp-apps.payroll.enabled=true", /payroll/));
        it("a negative replica count", () => fails("services.erp-services.nitro-portal.replicas=-1", /replicas.*minimum|minimum.*replicas|-1/i));
        it("a public registry", () => fails("global.registry=docker.io", /registry/));
        it("a capability outside the exception's namespace", () => fails("namespaces.erp-security.podSecurity=restricted", /vpn-wireguard\.privileges needs namespaces\.erp-security\.podSecurity privileged/));
        it("memory in milli-bytes", () => fails("services.erp-apps.crm-documents.resources.requests.memory=128m", /memory/));
        it("a call to a component that does not exist", () => fails("services.erp-apps.crm-documents.calls[0]=erp-apps/payroll:http", /erp-apps\/crm-documents calls erp-apps\/payroll:http, which is no component of the catalog/));
        it("a call to a port the component does not have", () => fails("services.erp-apps.crm-documents.calls[0]=erp-services/kvs-database:grpc", /kvs-database has no port named grpc/));
    });
});
