// The Proxmox layer's plan: the VMs' resolvers, tags and MAC addresses.
import { strict as assert } from "assert";
import { plannedStack, withTwoInfraVms } from "../../helpers";

describe("Proxmox plan", () => {
    it("defaults the VMs' resolvers to the infra VMs, which run synrc/ns", () => {
        const config = plannedStack("production", withTwoInfraVms).proxmox;
        assert.deepEqual(config.network.dnsServers, ["10.0.0.5", "10.0.0.6"]);
    });

    it("tags every VM with its role and environment; the all-in-one node carries both Kubernetes roles", () => {
        const dev = plannedStack("dev").proxmox;
        assert.deepEqual(
            dev.vms.map((vm) => [vm.name, vm.tags]),
            [
                ["infra1", ["infra", "env-dev"]],
                ["k8s-control1", ["k8s-control-plane", "k8s-worker", "env-dev"]],
            ],
        );
        const production = plannedStack("production").proxmox;
        assert.deepEqual(production.vms.find((vm) => vm.name === "k8s-worker2")?.tags, ["k8s-worker", "env-production"]);
    });

    it("gives every VM a distinct, locally administered unicast MAC address", () => {
        const config = plannedStack("production").proxmox;
        const macs = config.vms.map((vm) => vm.macAddress);
        assert.equal(new Set(macs).size, macs.length);
        for (const mac of macs) {
            assert.match(mac, /^02(:[0-9A-F]{2}){5}$/);
        }
    });

});
