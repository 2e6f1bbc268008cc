// The Kubespray layer under the mock engine.
import { strict as assert } from "assert";
import YAML from "yaml";
import { SECRET_MARK, type RecordedResource } from "../../../render/engine";
import { blastRadius } from "../../../render/steps";
import { addProductionWorker, baselineRun, byType, find, runStackFile } from "../../helpers";

describe("cluster layer (production, update)", () => {
    let resources: readonly RecordedResource[];
    let run: Awaited<ReturnType<typeof runStackFile>>;
    before(async () => {
        run = await baselineRun("production");
        resources = run.resources;
    });

    it("runs Kubespray only after every VM booted, DNS serves the zone and the registry and files area run", () => {
        const kubespray = find(resources, "kubespray");
        assert.equal(kubespray.type, "command:remote:Command");
        const required = [
            ...byType(resources, "vmLegacy:VmLegacy").filter((r) => r.inputs.template !== true),
            ...resources.filter((r) => r.name.endsWith("-ready") || r.name.endsWith("-zone")),
            ...["infra1", "infra2"].flatMap((vm) => [find(resources, `${vm}-registry`), find(resources, `${vm}-nginx`)]),
        ];
        assert.equal(required.length, 8 + 8 + 2 + 4);
        for (const resource of required) {
            assert.ok(kubespray.dependencies.includes(resource.urn), `kubespray does not wait for ${resource.name}`);
        }
    });

    it("ships inventory, vars and the SSH key only as a secret, to the infra VM", () => {
        const kubespray = find(resources, "kubespray");
        assert.equal(kubespray.inputs.stdin, SECRET_MARK);
        assert.equal(kubespray.inputs.connection, SECRET_MARK);
        assert.match(kubespray.inputs.create as string, /python3 -c /);
    });

    it("gives the nodes the registry's pull account through Kubespray, in the secret bundle only, with containerd 1.7", async () => {
        const revealed = await runStackFile("production", { revealSecrets: true });
        const bundle = JSON.parse(String(find(revealed.resources, "kubespray").revealedInputs?.stdin));
        const auth = YAML.parse(bundle.files["group_vars/all/registry-auth.yml"]);
        const pullPassword = String(revealed.outputs.registryPullPassword?.value);
        assert.deepEqual(auth, { containerd_registry_auth: [{ registry: "registry.erp.uno", username: "erpdc-pull", password: pullPassword }] });
        assert.match(bundle.manifest.registryAuthDigest, /^[0-9a-f]{64}$/);
        // The same vars, as published for review, carry no password: the file is not among them.
        const artifacts = await revealed.artifacts.collect();
        assert.equal(artifacts.get("kubespray/inventory/group_vars/all/registry-auth.yml"), undefined);
        for (const content of artifacts.values()) assert.ok(!content.includes(pullPassword));
        assert.equal(YAML.parse(artifacts.get("kubespray/inventory/group_vars/k8s_cluster/k8s-cluster.yml") as string).containerd_version, "1.7.27");
    });

    it("returns the kubeconfig as a secret pointed at the API endpoint, and builds the Kubernetes provider from it", () => {
        assert.equal(run.outputs.kubeconfig?.secret, true);
        const kubeconfig = YAML.parse(String(run.outputs.kubeconfig?.value));
        assert.equal(kubeconfig.clusters[0].cluster.server, "https://api.erp.uno:6443");
        const provider = find(resources, "kubernetes");
        assert.equal(provider.type, "pulumi:providers:kubernetes");
        assert.equal(provider.inputs.kubeconfig, SECRET_MARK);
        const reader = find(resources, "kubeconfig");
        assert.ok(reader.dependencies.includes(find(resources, "kubespray").urn));
    });

    it("names the cluster for the provider with what is known before the kubeconfig, made anew only when a sole control-plane VM is rebuilt", async () => {
        const provider = find(resources, "kubernetes");
        const identity = find(resources, "cluster-identity");
        assert.match(String(provider.inputs.clusterIdentifier), /^erpdc\/production\/cluster\.local@https:\/\/api\.erp\.uno:6443\/[0-9a-f]{8}$/);
        // Three control-plane nodes: a rebuilt one rejoins etcd's running cluster, so nothing follows it.
        assert.deepEqual(identity.replaceWith, []);
        const preview = async (stack: string, vm: string) => {
            const state = (await runStackFile(stack, { revealSecrets: true })).resources;
            const rebuilt = await runStackFile(stack, { revealSecrets: true, previewAgainst: state, regenerate: [vm] });
            return blastRadius(state, rebuilt.resources, [vm]).replaced;
        };
        const production = await preview("production", "k8s-control1");
        assert.ok(!production.includes("kubernetes") && !production.includes("argocd"), production.join(", "));
        // Dev's only control-plane VM: etcd starts empty, the cluster is new, and the identifier is
        // unknown in the preview, so the provider and every object it manages are replaced.
        const dev = await preview("dev", "k8s-control1");
        assert.ok(["cluster-identity", "kubernetes", "argocd", "erp-uno"].every((name) => dev.includes(name)), dev.join(", "));
    });

    it("gives identical Kubespray inputs and triggers on a second run", async () => {
        const again = await runStackFile("production");
        for (const name of ["kubespray", "kubeconfig"]) {
            assert.deepEqual(find(again.resources, name).inputs, find(resources, name).inputs, name);
        }
    });

    it("gives new Kubespray inputs and triggers when a worker is added", async () => {
        const grown = await runStackFile("production", { edit: addProductionWorker });
        assert.notDeepEqual(find(grown.resources, "kubeconfig").inputs.triggers, find(resources, "kubeconfig").inputs.triggers);
        const before = JSON.parse((await run.artifacts.collect()).get("kubespray/manifest.json") as string);
        const after = JSON.parse((await grown.artifacts.collect()).get("kubespray/manifest.json") as string);
        assert.deepEqual(Object.keys(after.workers), [...Object.keys(before.workers), "k8s-worker4"]);
        // The new worker's VM is among what Kubespray waits for, so scale.yml finds it booted.
        assert.ok(find(grown.resources, "kubespray").dependencies.includes(find(grown.resources, "k8s-worker4").urn));
    });

    it("runs Ansible on the operator's machine when the runner is local", async () => {
        const local = await runStackFile("production", { edit: (d) => (d["erpdc:kubernetes"].runner = "local") });
        const kubespray = find(local.resources, "kubespray");
        assert.equal(kubespray.type, "command:local:Command");
        assert.equal(kubespray.inputs.stdin, SECRET_MARK);
    });
});

describe("cluster layer in preview", () => {
    it("stays preview-safe while the kubeconfig is unknown", async () => {
        const preview = await runStackFile("production", { preview: true });
        assert.equal(preview.outputs.kubeconfig?.known, false);
        assert.equal(preview.outputs.kubeconfig?.secret, true);
        assert.ok(find(preview.resources, "kubernetes"));
    });
});
