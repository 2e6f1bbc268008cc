// Day-2 edits of the production stack under the mock engine, and what `pulumi up` would do for each:
// the resources created, updated in place, replaced and deleted, and the commands that run again.
// The providers' replace rules are in render/steps.ts, with their sources; the README's day-2
// section follows this table.
import { strict as assert } from "assert";
import type { RecordedResource } from "../../render/engine";
import { find, runStackFile } from "../helpers";
import { blastRadius, type BlastRadius } from "../../render/steps";

type Doc = Record<string, any>;
const VM_FILES = (vm: string) => [`${vm}-host-key`, `${vm}-meta-data`, `${vm}-network-config`, `${vm}-user-data`, `${vm}-vendor-data`];
const VMS = ["infra1", "infra2", "k8s-control1", "k8s-control2", "k8s-control3", "k8s-worker1", "k8s-worker2", "k8s-worker3"];
const workers = (...addresses: string[]) => (d: Doc) => Object.assign(d["erpdc:vms"].workers, { count: addresses.length, addresses });

interface Row {
    readonly edit: string;
    readonly change?: (d: Doc) => void;
    /** The stack before the edit, when not the committed one. */
    readonly from?: (d: Doc) => void;
    /** Resources replaced on request (pulumi up --replace), whose new outputs the engine makes. */
    readonly replace?: string[];
    readonly expect: Partial<BlastRadius>;
    /** What `pulumi preview` shows differently, where it does (unknown outputs it cannot see past). */
    readonly preview?: Partial<BlastRadius>;
}

/** Kubespray ran, so the kubeconfig is unknown until it has been read: the preview shows the provider updated (not replaced: clusterIdentifier). */
const providerUpdated = (updated: string[]): Partial<BlastRadius> => ({ updated: [...updated, "kubernetes"].sort() });

const NOTHING: BlastRadius = { created: [], updated: [], replaced: [], deleted: [], commandsRun: [] };

/** A worker leaves: its VM and files go, both DNS servers get the zone, Kubespray runs (remove-node.yml). */
const workerRemoved = (vm: string): BlastRadius => ({
    created: [],
    updated: ["infra1-zone", "infra2-zone"],
    replaced: ["kubeconfig", "kubespray"],
    deleted: [vm, `${vm}-ca`, ...VM_FILES(vm), `${vm}-ready`].sort(),
    commandsRun: ["infra1-zone", "infra2-zone", "kubeconfig", "kubespray"],
});
const workerRemovedPreview = providerUpdated(["infra1-zone", "infra2-zone"]);

const TABLE: Row[] = [
    { edit: "no change", expect: NOTHING },
    {
        edit: "add a worker",
        change: workers("10.0.0.21", "10.0.0.22", "10.0.0.23", "10.0.0.24"),
        expect: {
            created: ["k8s-worker4", "k8s-worker4-ca", ...VM_FILES("k8s-worker4"), "k8s-worker4-ready"].sort(),
            // Both DNS servers get the new zone.
            updated: ["infra1-zone", "infra2-zone"],
            // Every change runs Kubespray as a new resource (cluster/index.ts: runOnEveryChange).
            replaced: ["kubeconfig", "kubespray"],
            deleted: [],
            commandsRun: ["infra1-zone", "infra2-zone", "k8s-worker4-ca", "k8s-worker4-ready", "kubeconfig", "kubespray"],
        },
        preview: providerUpdated(["infra1-zone", "infra2-zone"]),
    },
    {
        edit: "remove the last worker",
        change: workers("10.0.0.21", "10.0.0.22"),
        expect: workerRemoved("k8s-worker3"),
        preview: workerRemovedPreview,
    },
    {
        edit: "name the workers in a map (the names they have)",
        change: (d) => (d["erpdc:vms"].workers.addresses = { "k8s-worker1": "10.0.0.21", "k8s-worker2": "10.0.0.22", "k8s-worker3": "10.0.0.23" }),
        expect: NOTHING,
    },
    {
        // Named in a map, the others keep their names, IDs, addresses and hosts: only k8s-worker2 goes.
        edit: "remove a middle worker (named in a map)",
        change: (d) => Object.assign(d["erpdc:vms"].workers, { count: 2, addresses: { "k8s-worker1": "10.0.0.21", "k8s-worker3": "10.0.0.23" } }),
        expect: workerRemoved("k8s-worker2"),
        preview: workerRemovedPreview,
    },
    {
        edit: "deploy a new ERP release (apps.imageVersion)",
        change: (d) => (d["erpdc:apps"].imageVersion = "2026.12.1"),
        // ArgoCD syncs the new values; pulumi up waits for that sync again, and nothing else moves.
        expect: { created: [], updated: ["erp-uno"], replaced: ["erp-uno-synced"], deleted: [], commandsRun: ["erp-uno-synced"] },
    },
    {
        edit: "add a DNS record",
        change: (d) => (d["erpdc:dns"].extraRecords = [{ name: "mail", type: "A", data: { ip: "10.0.0.40" } }]),
        expect: { created: [], updated: ["infra1-zone", "infra2-zone"], replaced: [], deleted: [], commandsRun: ["infra1-zone", "infra2-zone"] },
    },
    {
        edit: "a Kubernetes patch release (1.32.4 to 1.32.5)",
        from: (d) => (d["erpdc:kubernetes"].kubeVersion = "1.32.4"),
        change: (d) => (d["erpdc:kubernetes"].kubeVersion = "1.32.5"),
        // Kubespray upgrades the cluster and the admin kubeconfig is read again; no object moves.
        expect: { created: [], updated: [], replaced: ["kubeconfig", "kubespray"], deleted: [], commandsRun: ["kubeconfig", "kubespray"] },
        preview: providerUpdated([]),
    },
    {
        edit: "add a Proxmox host",
        change: (d) => d["erpdc:proxmox"].hosts.push({ name: "pve4", address: "10.0.1.14", cores: 32, memoryGiB: 256 }),
        // The new host gets its image and template; no VM moves, no file moves, nothing re-runs.
        expect: { created: ["template-pve4", "ubuntu-2404-image-pve4"], updated: ["proxmoxve"], replaced: [], deleted: [], commandsRun: [] },
    },
    { edit: "change clone tuning", change: (d) => Object.assign(d["erpdc:proxmox"].clones, { retries: 5, parallelPerHost: 1 }), expect: NOTHING },
    {
        edit: "bump the cloud image",
        change: (d) => Object.assign(d["erpdc:image"], { url: "http://10.0.0.2/files/cloud-images/noble/2026-09-01/noble-server-cloudimg-amd64.img", checksum: "e".repeat(64) }),
        // New images beside the old ones, templates rebuilt from them; running VMs keep their disks.
        expect: {
            created: [],
            updated: [],
            replaced: ["template-pve1", "template-pve2", "template-pve3", "ubuntu-2404-image-pve1", "ubuntu-2404-image-pve2", "ubuntu-2404-image-pve3"],
            deleted: [],
            commandsRun: [],
        },
    },
    {
        edit: "rotate the CA (pulumi up --replace ca-key)",
        replace: ["ca-key"],
        expect: {
            created: [],
            updated: ["argocd", "argocd-server-tls", "erp-tls-cert", ...VMS.map((vm) => `${vm}-ca`), "infra1-nginx", "infra2-nginx"].sort(),
            replaced: ["argocd-cert", "ca-cert", "ca-key", "charts-cert", "files-cert", "portal-cert", "registry-cert", ...VMS.map((vm) => `${vm}-user-data`)].sort(),
            deleted: [],
            commandsRun: [...VMS.map((vm) => `${vm}-ca`), "infra1-nginx", "infra2-nginx"].sort(),
        },
    },
    {
        edit: "rebuild one VM (pulumi up --replace k8s-worker2)",
        replace: ["k8s-worker2"],
        expect: { created: [], updated: [], replaced: ["k8s-worker2", "k8s-worker2-ca", "k8s-worker2-ready", "kubespray"], deleted: [], commandsRun: ["k8s-worker2-ca", "k8s-worker2-ready", "kubespray"] },
    },
    {
        edit: "rebuild the infra VM (pulumi up --replace infra1)",
        replace: ["infra1"],
        expect: {
            replaced: ["infra1", "infra1-ca", "infra1-nginx", "infra1-ready", "infra1-registry", "infra1-synrc-ns", "infra1-zone"],
            commandsRun: ["infra1-ca", "infra1-nginx", "infra1-ready", "infra1-registry", "infra1-synrc-ns", "infra1-zone"],
        },
    },
];

describe("day-2 edits of production: what pulumi up does, and what pulumi preview shows", () => {
    const bases = new Map<Row["from"], Promise<readonly RecordedResource[]>>();
    const baseFor = (row: Row) => {
        if (!bases.has(row.from)) bases.set(row.from, runStackFile("production", { revealSecrets: true, ...(row.from ? { edit: row.from } : {}) }).then((run) => run.resources));
        return bases.get(row.from) as Promise<readonly RecordedResource[]>;
    };
    let base: readonly RecordedResource[];
    before(async () => {
        base = await baseFor({ edit: "the committed stack", expect: {} });
    });

    for (const row of TABLE) {
        const edit = (d: Doc) => {
            row.from?.(d);
            row.change?.(d);
        };
        it(`${row.edit}: pulumi up`, async () => {
            const after = await runStackFile("production", { revealSecrets: true, edit, ...(row.replace ? { regenerate: row.replace } : {}) });
            const radius = blastRadius(await baseFor(row), after.resources, row.replace ?? []);
            for (const [kind, names] of Object.entries(row.expect)) {
                assert.deepEqual(radius[kind as keyof BlastRadius], names, `${row.edit}: ${kind}`);
            }
        });
        // The same edit previewed against the state the first run left: what changes has unknown
        // outputs, as in the PR review's `pulumi preview`, and the radius must still be the same.
        it(`${row.edit}: pulumi preview`, async () => {
            const state = await baseFor(row);
            const after = await runStackFile("production", { revealSecrets: true, edit, previewAgainst: state, ...(row.replace ? { regenerate: row.replace } : {}) });
            const radius = blastRadius(state, after.resources, row.replace ?? []);
            for (const [kind, names] of Object.entries({ ...row.expect, ...row.preview })) {
                assert.deepEqual(radius[kind as keyof BlastRadius], names, `${row.edit} (preview): ${kind}`);
            }
            // No Kubernetes object is replaced by an edit that does not rename it.
            const kubernetesReplaced = radius.replaced.filter((name) => after.resources.find((r) => r.name === name)?.type.startsWith("kubernetes:"));
            assert.deepEqual(kubernetesReplaced, [], row.edit);
        });
    }

    it("refuses to rotate the admin SSH key by --replace: the key is protected, since VMs learn it at first boot only", () => {
        assert.equal(find(base, "admin-ssh").protect, true);
    });

    it("lets a decommissioned production VM go: both protections off, updated in place, then deletable", async () => {
        const after = await runStackFile("production", { revealSecrets: true, edit: (d) => (d["erpdc:vms"].decommission = ["k8s-worker3"]) });
        const radius = blastRadius(base, after.resources);
        assert.deepEqual(radius.updated, ["k8s-worker3"]);
        assert.deepEqual(radius.replaced, []);
        const vm = find(after.resources, "k8s-worker3");
        assert.equal(vm.protect, false);
        assert.equal((vm.inputs as { protection: boolean }).protection, false);
        assert.equal(find(after.resources, "k8s-worker2").protect, true);
    });
});
