import { runStack } from "../render/engine";
import { fromConfigMap } from "../render/stackConfig";
import { stackDocument } from "../test/helpers";
import { blastRadius } from "../test/lifecycle";
const run = async (edit?: (d: any) => void, regenerate: string[] = []) => {
  const doc = stackDocument("production"); edit?.(doc); const o = fromConfigMap(doc);
  return (await runStack({ stack: "production", config: o.config, secretKeys: o.secretKeys, revealSecrets: true, regenerate })).resources;
};
(async () => {
  Error.stackTraceLimit = 0;
  const base = await run();
  const vms = (d: any) => d["erpdc:vms"];
  const cases: [string, (d: any) => void, string[]][] = [
    ["noop", () => {}, []],
    ["add worker", (d) => Object.assign(vms(d).workers, { count: 4, addresses: ["10.0.0.21","10.0.0.22","10.0.0.23","10.0.0.24"] }), []],
    ["remove last worker", (d) => Object.assign(vms(d).workers, { count: 2, addresses: ["10.0.0.21","10.0.0.22"] }), []],
    ["remove middle worker", (d) => Object.assign(vms(d).workers, { count: 2, addresses: ["10.0.0.21","10.0.0.23"] }), []],
    ["add host", (d) => d["erpdc:proxmox"].hosts.push({ name: "pve4", address: "10.0.1.14", cores: 32, memoryGiB: 256 }), []],
    ["clone tuning", (d) => Object.assign(d["erpdc:proxmox"].clones, { retries: 5, parallelPerHost: 1 }), []],
    ["bump image", (d) => Object.assign(d["erpdc:image"], { url: "http://10.0.0.2/files/cloud-images/noble/2026-09-01/noble-server-cloudimg-amd64.img", checksum: "e".repeat(64) }), []],
    ["rotate CA", () => {}, ["ca-key"]],
    ["admin key", () => {}, ["admin-ssh"]],
    ["replace VM", () => {}, ["k8s-worker2"]],
  ];
  for (const [name, edit, regen] of cases) {
    const after = await run(edit, regen);
    console.log("==", name, JSON.stringify(blastRadius(base, after, regen.filter((r) => r.startsWith("k8s-")))));
  }
})();
