// Debian's ansible-inventory reads every stack's generated inventory with its group_vars.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderStack } from "../../../render/render";
import { ROOT } from "../../../render/stackConfig";
import { plannedStack, STACKS } from "../../helpers";
import { run } from "../support";

describe("Kubespray inventory accepted by ansible-inventory", () => {
    let work: string;
    before(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-ansible-"))));
    after(() => fs.rmSync(work, { recursive: true, force: true }));

    for (const stack of STACKS) {
        it(`${stack}: --list and --graph show every node in its groups, with the group_vars applied`, async () => {
            const config = plannedStack(stack);
            const dir = path.join(work, stack);
            for (const [file, content] of (await renderStack(stack)).files) {
                if (!file.startsWith("kubespray/inventory/")) continue;
                const target = path.join(dir, file.slice("kubespray/inventory/".length));
                fs.mkdirSync(path.dirname(target), { recursive: true });
                fs.writeFileSync(target, content);
            }
            const hostsFile = path.join(dir, "hosts.yaml");
            const env = { ANSIBLE_INVENTORY_UNPARSED_FAILED: "True", ANSIBLE_LOCALHOST_WARNING: "False" };
            const listed = JSON.parse(run("ansible-inventory", ["-i", hostsFile, "--list"], { env }).replace(/^[^{]*/, ""));
            const members = (group: string) => [...(listed[group]?.hosts ?? [])].sort();
            const controlPlane = config.proxmox.vms.filter((vm) => vm.role === "controlPlane").map((vm) => vm.name).sort();
            const workers = config.proxmox.vms.filter((vm) => vm.role === "workers").map((vm) => vm.name).sort();
            assert.deepEqual(members("kube_control_plane"), controlPlane);
            assert.deepEqual(members("etcd"), controlPlane);
            assert.deepEqual(members("kube_node"), workers.length > 0 ? workers : controlPlane);
            assert.equal(controlPlane.length % 2, 1);
            const hostvars = listed._meta.hostvars as Record<string, Record<string, unknown>>;
            for (const vm of config.proxmox.vms.filter((candidate) => candidate.role !== "infra")) {
                assert.equal(hostvars[vm.name]?.ansible_host, vm.address, vm.name);
                assert.equal(hostvars[vm.name]?.container_manager, "containerd", `${vm.name} lacks the k8s_cluster group_vars`);
                assert.equal(hostvars[vm.name]?.registry_host, config.dns.names.registry, `${vm.name} lacks the all group_vars`);
            }
            const graph = run("ansible-inventory", ["-i", hostsFile, "--graph"], { env });
            assert.match(graph, /@k8s_cluster:\n[ |]+--@kube_control_plane:/);
            for (const name of [...controlPlane, ...workers]) assert.ok(graph.includes(`|--${name}`), name);
        });
    }

    it("ansible-inventory rejects a broken inventory (the check can fail)", () => {
        const broken = path.join(work, "broken.yaml");
        fs.writeFileSync(broken, "all:\n  hosts: [not, a, map]\n  children: 7\n");
        assert.throws(() => run("ansible-inventory", ["-i", broken, "--list"], { env: { ANSIBLE_INVENTORY_UNPARSED_FAILED: "True" } }));
    });

    it("the Kubespray runner is valid Python", () => {
        // compile() in memory: py_compile would leave bytecode in the source tree.
        run("python3", ["-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')", path.join(ROOT, "cluster", "files", "kubespray_run.py")]);
    });
});
