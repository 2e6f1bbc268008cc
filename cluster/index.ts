// The cluster layer: Kubespray from a command resource, once every VM has booted and DNS and the
// registry serve; then the kubeconfig (a secret) and the Kubernetes provider built from it.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import YAML from "yaml";
import type { SynrcNs } from "../dns";
import type { InfraServices } from "../infraServices";
import type { ArtifactSink } from "../lib/artifacts";
import { shellQuote } from "../lib/remote";
import type { ProxmoxLayer } from "../proxmox";
import { inventoryFiles, manifest, REGISTRY_AUTH_FILE, registryAuthVars } from "./kubespray";
import type { ClusterPlan } from "./plan";

const RUNNER = fs.readFileSync(path.join(__dirname, "files", "kubespray_run.py"), "utf8");

/**
 * @pulumi/command logs a command's stdout and stderr as it runs unless `logging` says otherwise
 * (node_modules/@pulumi/command/remote/command.d.ts, `logging`: "If there might be secrets in the
 * output, you can disable logging here"); additionalSecretOutputs hides them from the state only.
 * The runner writes Ansible's whole output to stdout (secret in state, and in its log on the runner
 * VM) and only its progress lines to stderr: where it is, the play and task, the time taken.
 */
const RUNNER_LOGGING = "stderr";

export interface KubesprayClusterArgs {
    readonly plan: ClusterPlan;
    readonly proxmox: ProxmoxLayer;
    readonly dns: SynrcNs;
    readonly services: InfraServices;
    readonly artifacts: ArtifactSink;
}

/** Points an admin.conf at the API endpoint (the virtual IP's name) instead of a node. */
export function kubeconfigForEndpoint(adminConf: string, server: string): string {
    const document = YAML.parse(adminConf) as { clusters?: { cluster?: { server?: string } }[] } | null;
    if (!document || !Array.isArray(document.clusters) || document.clusters.length === 0) {
        throw new Error("the control-plane node returned no kubeconfig (is /etc/kubernetes/admin.conf there?)");
    }
    for (const entry of document.clusters) {
        if (entry.cluster) entry.cluster.server = server;
    }
    return YAML.stringify(document);
}

export class KubesprayCluster extends pulumi.ComponentResource {
    /** Secret. */
    readonly kubeconfig: pulumi.Output<string>;
    readonly provider: k8s.Provider;
    readonly apiEndpoint: string;
    /** The control-plane VM whose admin kubeconfig and kubectl (both Kubespray's) the program uses. */
    readonly adminNode: string;

    constructor(name: string, args: KubesprayClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        // The type token is part of every URN in existing state: it never changes.
        super("erpdc:cluster:Kubespray", name, {}, opts);
        const { plan, proxmox, dns, services, artifacts } = args;
        const { runnerHost, kubernetes } = plan;
        const first = plan.controlPlane[0];
        if (first === undefined) {
            throw new Error("Kubespray needs a control-plane node; the Proxmox plan guarantees one");
        }
        this.apiEndpoint = plan.apiEndpoint;
        this.adminNode = first.name;

        const files = inventoryFiles(plan);
        const applied = manifest(plan);
        for (const [file, content] of Object.entries(files)) {
            artifacts.add(`kubespray/inventory/${file}`, content);
        }
        artifacts.add("kubespray/manifest.json", `${JSON.stringify(applied, null, 2)}\n`);

        // The nodes' registry account travels only here: a group_vars file of its own, and a digest in
        // the manifest the runner compares, so that a rotated password re-applies the configuration.
        // The nodes' pinned host keys: the runner's ssh and Ansible accept no other.
        const nodes = [...plan.controlPlane, ...plan.workers];
        const bundle = pulumi.all([pulumi.secret(proxmox.adminKey.privateKeyOpenssh), services.registryPullPassword, proxmox.knownHosts(nodes)]).apply(([privateKey, pullPassword, knownHosts]) =>
            JSON.stringify({
                files: { ...files, [REGISTRY_AUTH_FILE]: registryAuthVars(plan, pullPassword) },
                privateKey,
                knownHosts,
                manifest: { ...applied, registryAuthDigest: createHash("sha256").update(`${plan.registryPullUsername}:${pullPassword}`).digest("hex") },
                settings: {
                    adminUser: plan.adminUser,
                    kubesprayVersion: kubernetes.kubesprayVersion,
                    kubesprayUrl: kubernetes.kubespraySource.url,
                    kubespraySha256: kubernetes.kubespraySource.sha256,
                    ansibleCore: kubernetes.ansibleCoreVersion,
                    pythonIndexUrl: kubernetes.pythonIndexUrl,
                },
            }),
        );
        const runner = `python3 -c ${shellQuote(RUNNER)}`;
        // Any change runs the runner as a new resource, and the old one is forgotten first
        // (replaceOnChanges + deleteBeforeReplace): a run that fails midway then leaves no kubespray
        // resource in state, so the next pulumi up runs the runner again whatever the config says,
        // and the runner's journal resumes or refuses. As an update, a failure would keep the old
        // inputs in state (pulumi-go-provider infer saves state only on ResourceInitFailedError), and a
        // reverted config would plan nothing on a half-upgraded cluster.
        const runOnEveryChange = { replaceOnChanges: ["*"], deleteBeforeReplace: true };
        // Every VM booted, DNS answers with the current zone, and the registry and files area serve.
        const prerequisites: pulumi.Resource[] = [
            ...Object.values(proxmox.vms),
            ...Object.values(proxmox.ready),
            // Nodes trust the current CA before they pull from the registry.
            ...Object.values(proxmox.trust),
            ...Object.values(dns.zones),
            ...services.ready,
        ];
        // A rebuilt node VM runs Kubespray again, whose runner finds the node fresh and joins it.
        const controlPlaneVms = plan.controlPlane.map((vm) => proxmox.vms[vm.name] as pulumi.Resource);
        const nodeVms = [...controlPlaneVms, ...plan.workers.map((vm) => proxmox.vms[vm.name] as pulumi.Resource)];
        const kubespray =
            kubernetes.runner === "local"
                ? new command.local.Command(
                      "kubespray",
                      // No delete: destroying the stack destroys the VMs; there is nothing to reset.
                      { create: runner, stdin: bundle, logging: RUNNER_LOGGING },
                      // Ansible's output is kept in state: encrypted there, like the bundle it ran from.
                      { parent: this, dependsOn: prerequisites, replaceWith: nodeVms, additionalSecretOutputs: ["stdout"], ...runOnEveryChange },
                  )
                : new command.remote.Command(
                      "kubespray",
                      {
                          connection: proxmox.connection(runnerHost.name),
                          // The runner reads the bundle from stdin: apt-get must not consume it.
                          create: `dpkg -s python3-venv >/dev/null 2>&1 || sudo DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv </dev/null\n${runner}`,
                          stdin: bundle,
                          logging: RUNNER_LOGGING,
                      },
                      // Ansible's output is kept in state: encrypted there, like the bundle it ran from.
                      { parent: this, dependsOn: prerequisites, replaceWith: nodeVms, additionalSecretOutputs: ["stdout"], ...runOnEveryChange },
                  );

        const adminConf = new command.remote.Command(
            "kubeconfig",
            {
                connection: proxmox.connection(first.name),
                create: "sudo cat /etc/kubernetes/admin.conf",
                // The admin kubeconfig is its stdout: never in pulumi up's output or a CI log.
                logging: "stderr",
                // Read again after every change Kubespray applied (an upgrade renews the certificates).
                triggers: [createHash("sha256").update(JSON.stringify(applied)).digest("hex")],
            },
            // replaceWith: a rebuilt control-plane VM can mean a new cluster (all-in-one) with a new CA and admin.conf.
            { parent: this, dependsOn: [kubespray], replaceWith: controlPlaneVms, additionalSecretOutputs: ["stdout"] },
        );
        this.kubeconfig = pulumi.secret(adminConf.stdout.apply((text) => kubeconfigForEndpoint(text, this.apiEndpoint)));
        // The provider's identity is the cluster's, known before the kubeconfig is read: a preview in
        // which Kubespray runs again (so the kubeconfig is unknown until it has) updates the provider
        // instead of replacing it and every Kubernetes object with it (pulumi-kubernetes DiffConfig,
        // provider/pkg/provider/provider.go). It changes with the stack, the cluster domain, the API
        // endpoint, and when the only control-plane VM is rebuilt (replaceWith): then etcd starts
        // empty, the cluster is a new one, and every object is made again on it. With several, the
        // others keep etcd (and the runner refuses a rebuilt one: Kubespray's manual procedure).
        const soleControlPlane = controlPlaneVms.length === 1 ? controlPlaneVms : [];
        const generation = new random.RandomId("cluster-identity", { byteLength: 4 }, { parent: this, replaceWith: soleControlPlane });
        const clusterIdentifier = pulumi.interpolate`erpdc/${pulumi.getStack()}/${plan.kubernetes.clusterDomain}@${this.apiEndpoint}/${generation.hex}`;
        this.provider = new k8s.Provider("kubernetes", { kubeconfig: this.kubeconfig, clusterIdentifier }, { parent: this });
        this.registerOutputs({ apiEndpoint: this.apiEndpoint });
    }
}
