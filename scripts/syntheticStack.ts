// The synthetic stacks `npm run bench` measures: production grown to N VMs.
import { fromConfigMap, stackDocument } from "../render/stackConfig";

/** Production with N VMs: three big hosts, the same two infra VMs and three control-plane nodes, the rest workers. */
export function syntheticStack(vmCount: number) {
    const document = stackDocument("production");
    document["erpdc:proxmox"].hosts = ["pve1", "pve2", "pve3"].map((name, i) => ({ name, address: `10.0.8.${11 + i}`, cores: 2048, memoryGiB: 8192 }));
    document["erpdc:network"].cidr = "10.0.0.0/22";
    // 200 nodes need 400 of Calico's /26 blocks: a /17 pod network.
    document["erpdc:kubernetes"].podCidr = "10.232.0.0/17";
    const workers = vmCount - 5;
    Object.assign(document["erpdc:vms"].workers, {
        count: workers,
        addresses: Array.from({ length: workers }, (_, i) => `10.0.${1 + Math.floor((i + 10) / 250)}.${((i + 10) % 250) + 1}`),
    });
    return fromConfigMap(document);
}
