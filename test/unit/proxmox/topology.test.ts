import { strict as assert } from "assert";
import { hostLosses, topologyMarkdown } from "../../../proxmox/topology";
import { plannedStack } from "../../helpers";

describe("topology", () => {
    const production = plannedStack("production").proxmox;

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

    it("shows when a host loss takes the control plane down", () => {
        const staging = plannedStack("staging").proxmox;
        const controlHost = staging.vms.find((vm) => vm.role === "controlPlane")?.host;
        const loss = hostLosses(staging.hosts, staging.vms).find((l) => l.host === controlHost);
        assert.equal(loss?.quorum, false);
        assert.match(topologyMarkdown("staging", staging.hosts, staging.vms), new RegExp(`\\| ${controlHost} \\| .* \\| 0/1 \\| \\*\\*lost\\*\\*`));
    });

    it("draws every VM inside its host in the Mermaid diagram", () => {
        const markdown = topologyMarkdown("production", production.hosts, production.vms);
        const diagram = /```mermaid\n([\s\S]*?)```/.exec(markdown)?.[1] ?? "";
        for (const host of production.hosts) {
            const block = new RegExp(`subgraph ${host.name}\\[[^\\n]*\\n([\\s\\S]*?)\\n  end`).exec(diagram)?.[1] ?? "";
            const drawn = [...block.matchAll(/\["([a-z0-9-]+)<br/g)].map((m) => m[1]);
            assert.deepEqual(drawn, production.vms.filter((vm) => vm.host === host.name).map((vm) => vm.name));
        }
    });
});
