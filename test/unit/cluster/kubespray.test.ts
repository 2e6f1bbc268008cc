import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import YAML from "yaml";
import { compatibilityProblems } from "../../../cluster/compatibility";
import { kubeconfigForEndpoint } from "../../../cluster";
import { groupVars, inventory, inventoryFiles, manifest, MIRRORED_REGISTRIES, type Manifest } from "../../../cluster/kubespray";
import type { ClusterPlan } from "../../../cluster/plan";
import { isInternalHost } from "../../../lib/net";
import { ROOT } from "../../../render/stackConfig";
import { plannedStack, STACKS } from "../../helpers";

const clusterPlan = (stack: string, edit?: (raw: Record<string, any>) => void): ClusterPlan => plannedStack(stack, edit).cluster;

const groupHosts = (config: ClusterPlan, group: string) =>
    Object.keys(((inventory(config) as any).all.children[group].hosts as Record<string, null>) ?? {}).sort();

describe("Kubespray inventory", () => {
    it("puts the production control plane in kube_control_plane and etcd, with member names, and the workers in kube_node", () => {
        const config = clusterPlan("production");
        assert.deepEqual(groupHosts(config, "kube_control_plane"), ["k8s-control1", "k8s-control2", "k8s-control3"]);
        assert.deepEqual(groupHosts(config, "etcd"), ["k8s-control1", "k8s-control2", "k8s-control3"]);
        assert.deepEqual(groupHosts(config, "kube_node"), ["k8s-worker1", "k8s-worker2", "k8s-worker3"]);
        const hosts = (inventory(config) as any).all.hosts;
        assert.deepEqual(hosts["k8s-control2"], { ansible_host: "10.0.0.12", ip: "10.0.0.12", access_ip: "10.0.0.12", etcd_member_name: "etcd2" });
        assert.equal(hosts.infra1, undefined);
    });

    it("puts the dev all-in-one node in every group", () => {
        const config = clusterPlan("dev");
        for (const group of ["kube_control_plane", "etcd", "kube_node"]) {
            assert.deepEqual(groupHosts(config, group), ["k8s-control1"], group);
        }
    });
});

describe("Kubespray group_vars", () => {
    const config = clusterPlan("production");
    const vars = groupVars(config);
    const offline = vars["all/offline.yml"] as Record<string, any>;
    const cluster = vars["k8s_cluster/k8s-cluster.yml"] as Record<string, any>;
    const addons = vars["k8s_cluster/addons.yml"] as Record<string, any>;

    it("points every image and download at the contour, and no value names a public host", () => {
        const substitute = (text: string) => text.replace(/\{\{ files_repo \}\}/g, offline.files_repo).replace(/\{\{ registry_host \}\}/g, offline.registry_host);
        const text = substitute(Object.values(inventoryFiles(config)).join("\n"));
        const urls = [...text.matchAll(/https?:\/\/([^/\s"':]+)/g)].map((m) => m[1] as string);
        assert.ok(urls.length >= 5);
        for (const host of urls) {
            assert.ok(isInternalHost(host, ["erp.uno"]), `public host ${host} in group_vars`);
        }
        for (const key of ["kube_image_repo", "gcr_image_repo", "github_image_repo", "docker_image_repo", "quay_image_repo"]) {
            assert.equal(substitute(offline[key]), "registry.erp.uno", key);
        }
        for (const key of ["github_url", "dl_k8s_io_url", "storage_googleapis_url", "get_helm_url"]) {
            assert.match(substitute(offline[key]), /^https:\/\/files\.erp\.uno\/[a-z0-9.]+$/, key);
        }
    });

    it("sends every upstream registry through the internal registry, verifying TLS", () => {
        assert.deepEqual(offline.containerd_registries_mirrors.map((m: any) => m.prefix), [...MIRRORED_REGISTRIES]);
        for (const mirror of offline.containerd_registries_mirrors) {
            assert.deepEqual(mirror.mirrors, [{ host: "https://registry.erp.uno", capabilities: ["pull", "resolve"], skip_verify: false }]);
        }
    });

    it("installs containerd, Calico, the API behind kube-vip with its name in the certificate, MetalLB L2, ingress-nginx and local-path", () => {
        assert.equal(cluster.container_manager, "containerd");
        assert.equal(cluster.kube_network_plugin, "calico");
        assert.equal(cluster.kube_version, "1.32.5");
        assert.equal(cluster.kube_vip_address, "10.0.0.10");
        assert.ok(cluster.supplementary_addresses_in_ssl_keys.includes("api.erp.uno"));
        assert.equal(cluster.kube_proxy_strict_arp, true);
        assert.deepEqual(addons.metallb_config.address_pools.primary.ip_range, ["10.0.0.30-10.0.0.49"]);
        assert.equal(addons.local_path_provisioner_storage_class, "local-path");
        assert.equal(addons.ingress_nginx_enabled, true);
        assert.equal(addons.cert_manager_enabled, false);
    });

    it("asks MetalLB 0.13.9 for the ingress address with the annotation it reads, and pins local-path's helper image in the contour", () => {
        assert.deepEqual(addons.ingress_nginx_service_annotations, { "metallb.universe.tf/loadBalancerIPs": "10.0.0.30" });
        assert.equal(addons.local_path_provisioner_helper_image_repo, "{{ docker_image_repo }}/library/busybox");
        assert.match(addons.local_path_provisioner_helper_image_tag, /^\d+\.\d+\.\d+$/);
    });

    it("writes kube_version with a v for Kubespray before v2.28 and without from v2.28", () => {
        const old = clusterPlan("production", (raw) => {
            raw.kubernetes.kubesprayVersion = "v2.27.0";
            raw.kubernetes.kubeVersion = "1.31.4";
            raw.kubernetes.kubespraySource.url = "http://10.0.0.2/files/kubespray/kubespray-2.27.0.tar.gz";
        });
        assert.equal((groupVars(old)["k8s_cluster/k8s-cluster.yml"] as any).kube_version, "v1.31.4");
    });
});

describe("Kubespray compatibility table", () => {
    for (const stack of STACKS) {
        it(`has the ${stack} stack's ansible-core inside its Kubespray tag's gate`, () => {
            const { kubesprayVersion, kubeVersion, ansibleCoreVersion } = clusterPlan(stack).kubernetes;
            assert.deepEqual(compatibilityProblems(kubesprayVersion, kubeVersion, ansibleCoreVersion), []);
        });
    }

    it("accepts the stacks' combination and refuses unsupported ones with the fix", () => {
        assert.deepEqual(compatibilityProblems("v2.28.0", "1.32.5", "2.16.14"), []);
        assert.match(compatibilityProblems("v2.25.0", "1.29.0", "2.16.14").join(), /Ubuntu 24\.04, which Kubespray supports from v2\.26\.0/);
        assert.match(compatibilityProblems("v2.30.0", "1.32.5", "2.16.14").join(), /not in the compatibility table/);
        assert.match(compatibilityProblems("v2.28.0", "1.29.3", "2.16.14").join(), /supports Kubernetes 1\.30 to 1\.32/);
        assert.match(compatibilityProblems("v2.28.0", "v1.32.5", "2.16.14").join(), /write it without the "v"/);
        assert.match(compatibilityProblems("v2.28.0", "1.32.5", "2.18.1").join(), /needs ansible-core >= 2\.16\.14 and < 2\.17\.0/);
        assert.match(compatibilityProblems("v2.28.0", "1.32.5", "2.16.13").join(), /needs ansible-core >= 2\.16\.14/);
        // A patch release the tag has no checksums for cannot be downloaded.
        assert.match(compatibilityProblems("v2.28.0", "1.32.6", "2.16.14").join(), /has no checksums for it .* knows 1\.32\.0 to 1\.32\.5/);
        assert.match(compatibilityProblems("v2.27.0", "1.31.5", "2.16.14").join(), /knows 1\.31\.0 to 1\.31\.4/);
        assert.deepEqual(compatibilityProblems("v2.26.0", "1.30.4", "2.16.9"), []);
    });
});

describe("kubeconfig", () => {
    it("points the admin kubeconfig at the API endpoint and refuses an empty answer", () => {
        const conf = "apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: https://10.0.0.11:6443\n";
        assert.equal(YAML.parse(kubeconfigForEndpoint(conf, "https://api.erp.uno:6443")).clusters[0].cluster.server, "https://api.erp.uno:6443");
        assert.throws(() => kubeconfigForEndpoint("", "https://api.erp.uno:6443"), /returned no kubeconfig/);
    });
});

/**
 * Calls a function of the runner (Python, on the Ansible host) with the JSON sent on stdin as
 * `data`, and returns `{result}` or, when it raises `refusal` (e.g. kubespray_run.PlanError), `{error}`:
 * the tables below drive the runner's own code with the inputs the program makes.
 */
function callRunner(call: string, refusal: string, data: unknown): { result?: any; error?: string } {
    const script = [
        "import json, sys",
        `sys.path.insert(0, ${JSON.stringify(path.join(ROOT, "cluster", "files"))})`,
        "import kubespray_run",
        "data = json.load(sys.stdin)",
        `try: print(json.dumps({'result': ${call}}))`,
        `except ${refusal} as e: print(json.dumps({'error': str(e)}))`,
    ].join("\n");
    // No bytecode cache written into the source tree.
    const env = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };
    return JSON.parse(execFileSync("python3", ["-c", script], { input: JSON.stringify(data), encoding: "utf8", env }));
}

function plan(previous: Manifest | null, current: Manifest, fresh: string[] = [], unreachable: string[] = []): { runs?: any[]; error?: string } {
    const { result, error } = callRunner("kubespray_run.plan_runs(data['previous'], data['current'], data['fresh'], data['unreachable'])", "kubespray_run.PlanError", { previous, current, fresh, unreachable });
    return error === undefined ? { runs: result } : { error };
}
const playbooks = (result: { runs?: any[] }) =>
    (result.runs ?? []).map((run) => (run.taint ? ["taint", run.taint.join(","), null] : [run.playbook, run.limit ?? null, run.extraVars?.node ?? null]));

describe("lifecycle: which playbook runs for which change", () => {
    const base = manifest(clusterPlan("production"));
    const edited = (edit: (raw: Record<string, any>) => void) => manifest(clusterPlan("production", edit));
    const withWorkers = (addresses: string[]) => edited((raw) => Object.assign(raw.vms.workers, { count: addresses.length, addresses }));

    const table: [string, Manifest | null, Manifest, (string | null)[][] | RegExp][] = [
        ["a new cluster", null, base, [["cluster.yml", null, null]]],
        ["nothing relevant changed", base, manifest(clusterPlan("production", (raw) => (raw.dns.ttl = 600))), []],
        ["a worker added", base, withWorkers(["10.0.0.21", "10.0.0.22", "10.0.0.23", "10.0.0.24"]), [["playbooks/facts.yml", null, null], ["scale.yml", "k8s-worker4", null]]],
        ["two workers added", base, withWorkers(["10.0.0.21", "10.0.0.22", "10.0.0.23", "10.0.0.24", "10.0.0.25"]), [["playbooks/facts.yml", null, null], ["scale.yml", "k8s-worker4,k8s-worker5", null]]],
        ["a worker removed", base, withWorkers(["10.0.0.21", "10.0.0.22"]), [["remove-node.yml", null, "k8s-worker3"]]],
        ["the middle worker removed (workers named in a map)", base, edited((raw) => Object.assign(raw.vms.workers, { count: 2, addresses: { "k8s-worker1": "10.0.0.21", "k8s-worker3": "10.0.0.23" } })), [["remove-node.yml", null, "k8s-worker2"]]],
        ["a worker moved to another address", base, withWorkers(["10.0.0.21", "10.0.0.22", "10.0.0.53"]), [["remove-node.yml", null, "k8s-worker3"], ["playbooks/facts.yml", null, null], ["scale.yml", "k8s-worker3", null]]],
        ["a patch upgrade of Kubernetes", edited((raw) => (raw.kubernetes.kubeVersion = "1.32.4")), base, [["upgrade-cluster.yml", null, null]]],
        ["the next Kubespray release", { ...base, kubesprayVersion: "v2.27.0", kubeVersion: "1.31.4" }, base, [["upgrade-cluster.yml", null, null]]],
        ["a Kubespray release skipped", { ...base, kubesprayVersion: "v2.26.0", kubeVersion: "1.30.4" }, { ...base, kubeVersion: "1.31.4" }, /skips a minor release from v2\.26\.0: upgrade one minor release at a time \(v2\.26\.0 -> v2\.27\.0 -> v2\.28\.0\)/],
        ["a patch release skipped (allowed)", { ...base, kubesprayVersion: "v2.27.0", kubesprayReleases: [...base.kubesprayReleases, "v2.27.1"] }, { ...base, kubesprayReleases: [...base.kubesprayReleases, "v2.27.1"] }, [["upgrade-cluster.yml", null, null]]],
        ["an older Kubespray release", base, { ...base, kubesprayVersion: "v2.27.0" }, /Kubespray cannot go back/],
        ["a cluster setting changed", base, edited((raw) => (raw.kubernetes.certManager = true)), [["cluster.yml", null, null]]],
        ["an all-in-one cluster gets its first workers", { ...base, workers: {}, controlPlaneSchedulable: true }, base, [["cluster.yml", null, null], ["playbooks/facts.yml", null, null], ["scale.yml", "k8s-worker1,k8s-worker2,k8s-worker3", null], ["taint", "k8s-control1,k8s-control2,k8s-control3", null]]],
        ["the last workers go and the control plane takes the workloads", base, { ...base, workers: {}, controlPlaneSchedulable: true }, [["remove-node.yml", null, "k8s-worker1,k8s-worker2,k8s-worker3"], ["cluster.yml", null, null]]],
        ["a record from before the schedulable flag, nothing changed", (({ controlPlaneSchedulable: _dropped, ...rest }) => rest)(base) as Manifest, base, []],
        ["the nodes' registry account rotated", { ...base, registryAuthDigest: "a".repeat(64) } as Manifest, { ...base, registryAuthDigest: "b".repeat(64) } as Manifest, [["cluster.yml", null, null]]],
        ["a record from before the registry account", base, { ...base, registryAuthDigest: "b".repeat(64) } as Manifest, [["cluster.yml", null, null]]],
        ["an upgrade and a new worker together", base, { ...withWorkers(["10.0.0.21", "10.0.0.22", "10.0.0.23", "10.0.0.24"]), kubeVersion: "1.32.7" }, [["upgrade-cluster.yml", null, null], ["playbooks/facts.yml", null, null], ["scale.yml", "k8s-worker4", null]]],
        ["a downgrade", base, edited((raw) => (raw.kubernetes.kubeVersion = "1.32.4")), /cannot be downgraded/],
        ["a skipped minor version", { ...base, kubeVersion: "1.30.2" }, base, /upgrade one minor version at a time/],
        ["a control-plane change", base, { ...base, controlPlane: { ...base.controlPlane, "k8s-control4": "10.0.0.14" } }, /manual procedure/],
    ];

    for (const [change, previous, current, expected] of table) {
        it(`${change}: ${expected instanceof RegExp ? "refused" : JSON.stringify(expected.map((e) => e.filter(Boolean).join(" ")))}`, () => {
            const result = plan(previous, current);
            if (expected instanceof RegExp) {
                assert.match(result.error ?? "", expected);
            } else {
                assert.equal(result.error, undefined);
                assert.deepEqual(playbooks(result), expected);
            }
        });
    }

    it("joins a worker whose VM was rebuilt (it has no kubelet.conf) again, and refuses a rebuilt control-plane node", () => {
        assert.deepEqual(playbooks(plan(base, base, ["k8s-worker2"])), [["playbooks/facts.yml", null, null], ["scale.yml", "k8s-worker2", null]]);
        assert.match(plan(base, base, ["k8s-control2"]).error ?? "", /k8s-control2 were rebuilt and have not joined: .*manual procedure/);
        assert.deepEqual(playbooks(plan(null, base, ["k8s-worker2"])), [["cluster.yml", null, null]]);
        // An added control-plane node is fresh too; it is refused as a change, not as a rebuild.
        const grown = { ...base, controlPlane: { ...base.controlPlane, "k8s-control4": "10.0.0.14" } };
        assert.doesNotMatch(plan(base, grown, ["k8s-control4"]).error ?? "", /rebuilt/);
        assert.match(plan(base, grown, ["k8s-control4"]).error ?? "", /manual procedure/);
    });

    it("removes a worker that does not answer without resetting it (Kubespray's path for nodes not online), and resets one that answers", () => {
        // Manifests only: production with one worker would not pass the apps' capacity check.
        const twoGone = { ...base, workers: { "k8s-worker1": "10.0.0.21" } };
        const result = plan(base, twoGone, [], ["k8s-worker3"]);
        assert.deepEqual(
            result.runs?.map((run) => run.extraVars),
            [
                { node: "k8s-worker2", skip_confirmation: "yes" },
                { node: "k8s-worker3", skip_confirmation: "yes", reset_nodes: "false", allow_ungraceful_removal: "true" },
            ],
        );
        assert.deepEqual(result.runs?.[1].removedHosts, { "k8s-worker3": "10.0.0.23" });
    });

    it("gives remove-node the removed worker's address, which the new inventory no longer has", () => {
        const result = plan(base, withWorkers(["10.0.0.21", "10.0.0.22"]));
        assert.deepEqual(result.runs?.[0].removedHosts, { "k8s-worker3": "10.0.0.23" });
    });

    it("keeps the versions out of the configuration hash", () => {
        assert.equal(edited((raw) => (raw.kubernetes.kubeVersion = "1.32.4")).varsHash, base.varsHash);
        assert.notEqual(edited((raw) => (raw.kubernetes.podCidr = "10.240.0.0/16")).varsHash, base.varsHash);
    });

    it("reads the committed stacks' manifests: the same one again runs nothing, an older patch upgrades", () => {
        for (const stack of STACKS) {
            const current = manifest(clusterPlan(stack));
            assert.deepEqual(plan(current, current), { runs: [] }, stack);
            const [major, minor, patch = 0] = current.kubeVersion.split(".").map(Number);
            assert.ok(patch > 0, `${stack}: the table needs a patch below ${current.kubeVersion}`);
            assert.deepEqual(playbooks(plan({ ...current, kubeVersion: `${major}.${minor}.${patch - 1}` }, current)), [["upgrade-cluster.yml", null, null]], stack);
        }
    });
});

// The record of the last applied manifest, read from every control-plane node.
function chooseRecord(answers: Record<string, [number, string]>): { manifest?: unknown; knownHosts?: string; error?: string } {
    const { result, error } = callRunner("kubespray_run.choose_record({node: tuple(answer) for node, answer in data.items()})", "SystemExit", answers);
    return error !== undefined ? { error } : result === null ? { manifest: null } : { manifest: result.manifest, ...(result.knownHosts ? { knownHosts: result.knownHosts } : {}) };
}

describe("the applied record: no record is not the same as no answer", () => {
    const manifest = { kubeVersion: "1.32.5" };
    const record = (appliedAt: string, kubeVersion: string) => JSON.stringify({ format: 1, appliedAt, manifest: { kubeVersion } });

    it("takes a cluster for new only when every control-plane node says it has no record", () => {
        assert.deepEqual(chooseRecord({ "k8s-control1": [3, ""], "k8s-control2": [3, ""] }), { manifest: null });
    });

    it("refuses to guess when a node cannot be read, rather than run cluster.yml on a live cluster", () => {
        assert.match(chooseRecord({ "k8s-control1": [255, "ssh: connect to host 10.0.0.11 port 22: No route to host"], "k8s-control2": [3, ""] }).error ?? "", /could not read the applied record on k8s-control1 \(exit 255: ssh: connect/);
        assert.match(chooseRecord({ "k8s-control1": [1, "sudo: a password is required"] }).error ?? "", /refusing to take the cluster for a new one/);
    });

    it("reads the record from any node that has it, the newest when they differ, and a record from before the format", () => {
        assert.deepEqual(chooseRecord({ "k8s-control1": [3, ""], "k8s-control2": [0, record("2026-11-20T10:00:00Z", "1.32.4")] }), { manifest: { kubeVersion: "1.32.4" } });
        assert.deepEqual(chooseRecord({ "k8s-control1": [0, record("2026-11-20T10:00:00Z", "1.32.4")], "k8s-control2": [0, record("2026-11-21T10:00:00Z", "1.32.5")] }), { manifest: { kubeVersion: "1.32.5" } });
        assert.deepEqual(chooseRecord({ "k8s-control1": [0, JSON.stringify(manifest)] }), { manifest });
        assert.match(chooseRecord({ "k8s-control1": [0, JSON.stringify({ format: 3, appliedAt: "", manifest })] }).error ?? "", /newer format/);
    });

    it("keeps the nodes' pinned host keys with the record, for the workers that leave later", () => {
        const knownHosts = "10.0.0.23,k8s-worker3,k8s-worker3.erp.uno ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample\n";
        assert.deepEqual(chooseRecord({ "k8s-control1": [0, JSON.stringify({ format: 2, appliedAt: "2026-11-22T10:00:00Z", manifest, knownHosts })] }), { manifest, knownHosts });
    });
});

// The journal of a run in progress, on every control-plane node: resumed, or refused when the config moved on.
describe("the run journal: a run that stopped midway is finished, or refused", () => {
    const base = manifest(clusterPlan("production"));
    const older = { ...base, kubeVersion: "1.32.4" };
    const upgradeWithWorker = plan(older, { ...base, workers: { ...base.workers, "k8s-worker4": "10.0.0.24" } }).runs as any[];
    const journal = (target: Manifest, finished: number, startedAt = "2026-11-22T10:00:00Z") => ({ format: 1, startedAt, target, runs: upgradeWithWorker, finished, knownHosts: "" });
    const target = { ...base, workers: { ...base.workers, "k8s-worker4": "10.0.0.24" } };
    const resume = (j: unknown, current: Manifest) => {
        const { result, error } = callRunner("kubespray_run.resume_runs(data['journal'], data['current'])", "kubespray_run.PlanError", { journal: j, current });
        return error === undefined ? { runs: result as any[] } : { error };
    };
    const chooseJournal = (answers: Record<string, [number, string]>) => callRunner("kubespray_run.choose_journal({node: tuple(answer) for node, answer in data.items()})", "SystemExit", answers);

    it("is a plan of three steps here: the upgrade, the facts, the new worker", () => {
        assert.deepEqual(upgradeWithWorker.map((run) => run.playbook), ["upgrade-cluster.yml", "playbooks/facts.yml", "scale.yml"]);
    });

    it("resumes with the steps not yet finished when the config still asks for the run's target", () => {
        assert.deepEqual(resume(journal(target, 1), target).runs?.map((run) => run.playbook), ["playbooks/facts.yml", "scale.yml"]);
        assert.deepEqual(resume(journal(target, 0), target).runs?.map((run) => run.playbook), ["upgrade-cluster.yml", "playbooks/facts.yml", "scale.yml"]);
    });

    it("refuses a reverted config after a partial upgrade, naming what differs and how to finish", () => {
        const { error } = resume(journal(target, 1), older);
        assert.match(error ?? "", /stopped after upgrade-cluster\.yml, before playbooks\/facts\.yml, scale\.yml, so the cluster is partly changed/);
        assert.match(error ?? "", /kubernetes\.kubeVersion \(the run's "1\.32\.5", now "1\.32\.4"\)/);
        assert.match(error ?? "", /the workers \(the run's .*k8s-worker4.*, now .*\)/);
        assert.match(error ?? "", /Set those keys back to the run's values and run pulumi up again/);
    });

    it("ignores the list of known Kubespray tags, which is not part of a run's target", () => {
        assert.equal(resume(journal(target, 1), { ...target, kubesprayReleases: [...target.kubesprayReleases, "v2.29.0"] }).error, undefined);
    });

    it("reads the newest journal, finds none when every node says so, and stops when a node cannot be read", () => {
        const text = (finished: number, startedAt?: string) => JSON.stringify(journal(target, finished, startedAt));
        assert.equal(chooseJournal({ "k8s-control1": [3, ""], "k8s-control2": [3, ""] }).result, null);
        assert.equal(chooseJournal({ "k8s-control1": [0, text(1)], "k8s-control2": [0, text(2)] }).result.finished, 2);
        assert.equal(chooseJournal({ "k8s-control1": [0, text(2)], "k8s-control2": [0, text(0, "2026-11-22T11:00:00Z")] }).result.startedAt, "2026-11-22T11:00:00Z");
        assert.match(chooseJournal({ "k8s-control1": [3, ""], "k8s-control2": [255, "ssh: connect to host 10.0.0.12 port 22: No route to host"] }).error ?? "", /could not read the run journal on k8s-control2/);
    });

    it("merges known_hosts so that a leaving worker keeps the key it joined with, and a reused address only the current VM's", () => {
        const { result } = callRunner("kubespray_run.merged_known_hosts(*data)", "SystemExit", ["10.0.0.21,k8s-worker1 ssh-ed25519 AAAA1\n", "10.0.0.21,k8s-worker1 ssh-ed25519 OLD\n10.0.0.23,k8s-worker3 ssh-ed25519 AAAA3\n"]);
        assert.equal(result, "10.0.0.21,k8s-worker1 ssh-ed25519 AAAA1\n10.0.0.23,k8s-worker3 ssh-ed25519 AAAA3\n");
        // k8s-worker2 left and k8s-worker4 took its address: the address is pinned to k8s-worker4's key alone.
        const reused = callRunner("kubespray_run.merged_known_hosts(*data)", "SystemExit", ["10.0.0.22,k8s-worker4 ssh-ed25519 KEY4\n", "10.0.0.22,k8s-worker2 ssh-ed25519 KEY2\n"]).result;
        assert.equal(reused, "10.0.0.22,k8s-worker4 ssh-ed25519 KEY4\n");
    });

    it("turns an unfinished graceful removal ungraceful when its worker stopped answering while the run was stopped", () => {
        const removal = plan(base, { ...base, workers: { "k8s-worker1": "10.0.0.21", "k8s-worker2": "10.0.0.22" } }).runs as any[];
        const check = (gone: string[]) =>
            callRunner("(lambda j: (kubespray_run.recheck_removals(j, lambda a: a not in data['gone']), j['runs'][0]['extraVars']))(data['journal'])", "SystemExit", { journal: { runs: removal, finished: 0 }, gone }).result;
        assert.deepEqual(check([]), [[], { node: "k8s-worker3", skip_confirmation: "yes" }]);
        assert.deepEqual(check(["10.0.0.23"]), [["k8s-worker3"], { node: "k8s-worker3", skip_confirmation: "yes", reset_nodes: "false", allow_ungraceful_removal: "true" }]);
        // Two leave in one run and one of them is gone: the other is still drained and reset; only
        // the gone one moves to an ungraceful run right after.
        const two = plan(base, { ...base, workers: { "k8s-worker1": "10.0.0.21" } }).runs as any[];
        const split = callRunner(
            "(lambda j: (kubespray_run.recheck_removals(j, lambda a: a not in data['gone']), [(r['extraVars'], sorted(r['removedHosts'])) for r in j['runs']]))(data['journal'])",
            "SystemExit",
            { journal: { runs: two, finished: 0 }, gone: ["10.0.0.23"] },
        ).result;
        assert.deepEqual(split, [
            ["k8s-worker3"],
            [
                [{ node: "k8s-worker2", skip_confirmation: "yes" }, ["k8s-worker2"]],
                [{ node: "k8s-worker3", skip_confirmation: "yes", reset_nodes: "false", allow_ungraceful_removal: "true" }, ["k8s-worker3"]],
            ],
        ]);
    });
});
