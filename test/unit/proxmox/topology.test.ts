import { strict as assert } from "assert";
import { hostLosses, topologyMarkdown } from "../../../proxmox/topology";
import { plannedStack } from "../../helpers";

describe("topology", () => {
    const productionPlan = plannedStack("production");
    const production = productionPlan.proxmox;

    it("keeps etcd quorum through the loss of any one production host", () => {
        const losses = hostLosses(production.hosts, production.vms);
        assert.equal(losses.length, 3);
        for (const loss of losses) {
            assert.equal(loss.controlPlaneTotal, 3);
            assert.equal(loss.controlPlaneLeft, 2, `losing ${loss.host}`);
            assert.equal(loss.quorum, true);
            assert.ok(loss.workersLeft >= 2);
        }
    });

    it("keeps DNS, the registry, the charts, the files, the API and the ingress through every single-host loss in production", () => {
        const losses = hostLosses(production.hosts, production.vms, production);
        for (const loss of losses) {
            assert.equal(loss.infraServices, true, `losing ${loss.host}`);
            assert.ok(loss.infraLeft >= 1, `losing ${loss.host}`);
            assert.equal(loss.api, true, `losing ${loss.host}`);
            assert.equal(loss.quorum, true, `losing ${loss.host}`);
            assert.equal(loss.ingress, true, `losing ${loss.host}`);
        }
        // The two infra VMs are on different hosts, so some host loss takes one of them.
        assert.deepEqual(losses.map((loss) => loss.infraLeft).sort(), [1, 1, 2]);
        const markdown = topologyMarkdown(production);
        const rows = [...markdown.matchAll(/^\| (pve\d) \| .* \|$/gm)].map((row) => row[0]).filter((row) => row.split("|").length === 13);
        assert.equal(rows.length, 3);
        for (const row of rows) {
            const cells = row.split("|").map((cell) => cell.trim());
            // API, ingress and DNS/registry/charts/files serve; no HA restarts (haMode none in production).
            assert.deepEqual([cells[5], cells[7], cells[9]], ["serves", "serves", "serves"], row);
            assert.match(cells[10] as string, /^(\S+: no(; )?)+$/, row);
        }
        assert.match(markdown, /HA: none \(proxmox\.haMode\), so a lost VM waits for its host/);
    });

    it("names, per host loss, the workers whose local-path volumes go with it, and what each stateful erp-uno component then loses", () => {
        const markdown = topologyMarkdown(production, productionPlan.apps.nodeBound);
        const rows = [...markdown.matchAll(/^\| (pve\d) \| .* \|$/gm)].map((row) => row[0].split("|").map((cell) => cell.trim())).filter((cells) => cells.length === 13);
        assert.equal(rows.length, 3);
        for (const cells of rows) {
            const workers = production.vms.filter((vm) => vm.host === cells[1] && vm.role === "workers").map((vm) => vm.name);
            assert.equal(cells[11], `volumes on ${workers.join(", ")}`, cells.join(" | "));
        }
        // From the chart's values: kvs-database is one StatefulSet member, hl7-health an HPA of 2 to 6
        // (each member it scaled to keeps its claim), grafana a Deployment with a volume.
        const component = (name: string) => markdown.split("\n").find((line) => line.startsWith(`| ${name} |`))?.split("|").map((cell) => cell.trim());
        assert.deepEqual(component("erp-services/kvs-database")?.slice(2, 5), ["StatefulSet", "1", "10"]);
        assert.match(component("erp-services/kvs-database")?.[5] ?? "", /^stops/);
        assert.deepEqual(component("erp-apps/hl7-health")?.slice(2, 4), ["StatefulSet", "6"]);
        assert.match(component("erp-apps/hl7-health")?.[5] ?? "", /^keeps its members on other nodes; stops if all 6 landed there/);
        assert.deepEqual(component("erp-telemetry/grafana")?.slice(2, 4), ["Deployment", "1"]);
        // Stateless components hold nothing on a node.
        assert.equal(component("erp-services/rest-bpe"), undefined);
        // Without stateful workloads (the report of the Proxmox layer alone) the column says none.
        const bare = topologyMarkdown(production).split("\n").filter((line) => /^\| pve\d \|/.test(line) && line.split("|").length === 13);
        assert.equal(bare.length, 3);
        assert.ok(bare.every((line) => line.endsWith("| none |")), bare.join("\n"));
    });

    it("names the hosts HA would restart a lost VM on, keeping each role apart under rules", () => {
        const withHa = { ...production, haMode: "rules" as const };
        const losses = hostLosses(production.hosts, production.vms, withHa);
        const infraHosts = production.vms.filter((vm) => vm.role === "infra").map((vm) => vm.host);
        const spare = production.hosts.map((host) => host.name).find((host) => !infraHosts.includes(host));
        const loss = losses.find((l) => l.host === infraHosts[0]);
        // infra1 may go to the host without an infra VM; a control-plane node has nowhere apart from the others.
        assert.deepEqual(loss?.restarts.infra1, [spare]);
        const control = Object.entries(loss?.restarts ?? {}).find(([vm]) => vm.startsWith("k8s-control"));
        assert.deepEqual(control?.[1], []);
        assert.deepEqual(hostLosses(production.hosts, production.vms, { haMode: "groups" }).find((l) => l.host === "pve1")?.restarts.infra1, ["pve2", "pve3"]);
    });

    it("shows when a host loss takes the control plane down", () => {
        const staging = plannedStack("staging").proxmox;
        const controlHost = staging.vms.find((vm) => vm.role === "controlPlane")?.host;
        const loss = hostLosses(staging.hosts, staging.vms).find((l) => l.host === controlHost);
        assert.equal(loss?.quorum, false);
        assert.match(topologyMarkdown(staging), new RegExp(`\\| ${controlHost} \\| .* \\| 0/1 \\| \\*\\*lost\\*\\*`));
    });

    it("draws every VM inside its host in the Mermaid diagram", () => {
        const markdown = topologyMarkdown(production);
        const diagram = /```mermaid\n([\s\S]*?)```/.exec(markdown)?.[1] ?? "";
        for (const host of production.hosts) {
            const block = new RegExp(`subgraph ${host.name}\\[[^\\n]*\\n([\\s\\S]*?)\\n  end`).exec(diagram)?.[1] ?? "";
            const drawn = [...block.matchAll(/\["([a-z0-9-]+)<br/g)].map((m) => m[1]);
            assert.deepEqual(drawn, production.vms.filter((vm) => vm.host === host.name).map((vm) => vm.name));
        }
    });

    it("shows each host's placed load against its usable capacity, and where the disks live", () => {
        const markdown = topologyMarkdown(production);
        // From Pulumi.production.yaml: 32 cores x overcommit 2 = 64 vCPUs and 256 GiB less the 16 GiB
        // reserve = 245760 MiB per host; the VMs add up to 2x4 + 3x4 + 3x8 = 44 cores and
        // 2x8192 + 3x8192 + 3x32768 = 139264 MiB, spread over the three hosts.
        const rows = [...markdown.matchAll(/^\| (pve\d) \| (\d+) \/ (\d+) \| (\d+) \/ (\d+) \|$/gm)];
        assert.deepEqual(rows.map((row) => [row[1], row[3], row[5]]), [["pve1", "64", "245760"], ["pve2", "64", "245760"], ["pve3", "64", "245760"]]);
        assert.equal(rows.reduce((sum, row) => sum + Number(row[2]), 0), 44);
        assert.equal(rows.reduce((sum, row) => sum + Number(row[4]), 0), 139264);
        assert.ok(rows.every((row) => Number(row[2]) > 0), "every host carries VMs");
        assert.match(markdown, /- VM disks: local-zfs \(zfspool, local to each host\); templates: u24-cloud-pve1 \(9000\) on pve1, u24-cloud-pve2 \(9001\) on pve2, u24-cloud-pve3 \(9002\) on pve3/);
    });
});
