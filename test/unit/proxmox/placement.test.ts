import { strict as assert } from "assert";
import fc from "fast-check";
import {
    antiAffinitySets,
    cloneLanes,
    hostLoads,
    placeVms,
    PlacementError,
    type PlacementHost,
    type PlacementRules,
    type PlacementVm,
} from "../../../proxmox/placement";
import { ROLES, type Role } from "../../../lib/conventions";

const rules = (strict: Role[] = ["controlPlane"]): PlacementRules => ({
    strictRoles: new Set(strict),
    memoryReserveMiB: 0,
    cpuOvercommit: 1,
});
const hosts = (...memoryGiB: number[]): PlacementHost[] =>
    memoryGiB.map((gib, i) => ({ name: `pve${i + 1}`, cores: 64, memoryMiB: gib * 1024 }));
const vms = (role: Role, count: number, memoryMiB = 4096, prefix: string = role): PlacementVm[] =>
    Array.from({ length: count }, (_, i) => ({ name: `${prefix}${i + 1}`, role, cores: 2, memoryMiB }));

describe("placement", () => {
    it("puts three control-plane nodes on three different hosts", () => {
        const placement = placeVms(hosts(64, 64, 64), vms("controlPlane", 3), rules());
        assert.equal(new Set(placement.values()).size, 3);
    });

    it("refuses a fourth control-plane node on three hosts under strict anti-affinity", () => {
        assert.throws(() => placeVms(hosts(64, 64, 64), vms("controlPlane", 4), rules()), (error: unknown) => {
            assert.ok(error instanceof PlacementError);
            assert.match(error.message, /controlPlane4: strict anti-affinity for controlPlane needs one host per VM/);
            return true;
        });
    });

    it("doubles up only when preferred, and then still spreads evenly", () => {
        const placement = placeVms(hosts(64, 64, 64), vms("controlPlane", 5), rules([]));
        const perHost = countBy([...placement.values()]);
        assert.deepEqual([...perHost.values()].sort(), [1, 2, 2]);
    });

    it("gives the larger host the extra VM when counts tie", () => {
        const placement = placeVms(hosts(32, 128), vms("workers", 3), rules());
        assert.equal(countBy([...placement.values()]).get("pve2"), 2);
    });

    it("starts each role on a different host so that singletons do not pile up", () => {
        const all = [...vms("infra", 1), ...vms("controlPlane", 1), ...vms("workers", 1)];
        const placement = placeVms(hosts(64, 64, 64), all, rules());
        assert.equal(new Set(placement.values()).size, 3);
    });

    it("lets a strict role use the host a vacant slot holds (a control-plane node replaced by a new number)", () => {
        const nodes = vms("controlPlane", 4);
        const withGap = nodes.map((vm, i) => (i === 1 ? { ...vm, vacant: true } : vm));
        const placement = placeVms(hosts(64, 64, 64), withGap, rules());
        assert.deepEqual([...placement.keys()], ["controlPlane1", "controlPlane3", "controlPlane4"]);
        assert.equal(new Set(placement.values()).size, 3, "three nodes on three hosts");
        assert.throws(() => placeVms(hosts(64, 64, 64), nodes, rules()), /strict anti-affinity/);
    });

    it("keeps a role on its allowed hosts", () => {
        const restricted = vms("infra", 2).map((vm) => ({ ...vm, allowedHosts: ["pve2", "pve3"] }));
        const placement = placeVms(hosts(64, 64, 64), restricted, rules());
        assert.deepEqual([...placement.values()].sort(), ["pve2", "pve3"]);
    });

    it("reports the load of every host against its usable capacity", () => {
        const all = vms("workers", 2, 8192);
        const placement = placeVms(hosts(16), all, rules());
        const [load] = hostLoads(hosts(16), all, placement, { ...rules(), memoryReserveMiB: 2048 });
        assert.deepEqual(load, { host: "pve1", vms: ["workers1", "workers2"], cores: 4, memoryMiB: 16384, usableCores: 64, usableMemoryMiB: 14336 });
    });

    describe("properties over random topologies", () => {
        const topology = fc.record({
            hostMemory: fc.array(fc.integer({ min: 8, max: 512 }), { minLength: 1, maxLength: 7 }),
            counts: fc.record({
                infra: fc.integer({ min: 0, max: 4 }),
                controlPlane: fc.integer({ min: 0, max: 7 }),
                workers: fc.integer({ min: 0, max: 40 }),
            }),
            memory: fc.constantFrom(2048, 4096, 8192, 16384),
        });
        const build = (t: { hostMemory: number[]; counts: Record<Role, number>; memory: number }) => ({
            hosts: hosts(...t.hostMemory),
            vms: ROLES.flatMap((role) => vms(role, t.counts[role], t.memory)),
        });

        it("places every VM, spreads each role evenly, and never breaks strict anti-affinity", () => {
            fc.assert(
                fc.property(topology, (t) => {
                    fc.pre(t.counts.controlPlane <= t.hostMemory.length);
                    const { hosts: pool, vms: all } = build(t);
                    const placement = placeVms(pool, all, rules());
                    for (const role of ROLES) {
                        const counts = pool.map((host) => all.filter((vm) => vm.role === role && placement.get(vm.name) === host.name).length);
                        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${role} unevenly spread: ${counts}`);
                    }
                    const controlHosts = all.filter((vm) => vm.role === "controlPlane").map((vm) => placement.get(vm.name));
                    assert.equal(new Set(controlHosts).size, controlHosts.length);
                    assert.equal(placement.size, all.length);
                }),
            );
        });

        it("is deterministic", () => {
            fc.assert(
                fc.property(topology, (t) => {
                    fc.pre(t.counts.controlPlane <= t.hostMemory.length);
                    const { hosts: pool, vms: all } = build(t);
                    assert.deepEqual([...placeVms(pool, all, rules())], [...placeVms(pool, all, rules())]);
                }),
            );
        });

        it("never moves an existing VM when a VM is added to any role", () => {
            fc.assert(
                fc.property(topology, fc.constantFrom(...ROLES), (t, grown) => {
                    const { hosts: pool, vms: before } = build(t);
                    const after = build({ ...t, counts: { ...t.counts, [grown]: t.counts[grown] + 1 } }).vms;
                    const strict = rules([]);
                    const old = placeVms(pool, before, strict);
                    const next = placeVms(pool, after, strict);
                    for (const [vm, host] of old) {
                        assert.equal(next.get(vm), host, `${vm} moved when a ${grown} VM was added`);
                    }
                }),
            );
        });

        it("never moves another VM when one is removed from the middle of a role (a vacant slot)", () => {
            fc.assert(
                fc.property(topology, fc.constantFrom(...ROLES), fc.nat(), (t, shrunk, pick) => {
                    fc.pre(t.counts[shrunk] >= 2 && t.counts.controlPlane <= t.hostMemory.length);
                    const { hosts: pool, vms: before } = build(t);
                    const ofRole = before.filter((vm) => vm.role === shrunk);
                    const removed = ofRole[pick % (ofRole.length - 1)] as PlacementVm; // never the last: that is plain shrinking
                    const after = before.map((vm) => (vm === removed ? { ...vm, vacant: true } : vm));
                    const old = placeVms(pool, before, rules([]));
                    const next = placeVms(pool, after, rules([]));
                    assert.equal(next.has(removed.name), false, "a vacant slot is not placed");
                    for (const [vm, host] of old) {
                        if (vm !== removed.name) assert.equal(next.get(vm), host, `${vm} moved when ${removed.name} was removed`);
                    }
                }),
            );
        });

        it("makes every anti-affinity set hold at most one VM per host", () => {
            fc.assert(
                fc.property(topology, (t) => {
                    const { hosts: pool, vms: all } = build(t);
                    const placement = placeVms(pool, all, rules([]));
                    for (const role of ROLES) {
                        const names = all.filter((vm) => vm.role === role).map((vm) => vm.name);
                        const sets = antiAffinitySets(names, placement);
                        for (const set of sets) {
                            assert.equal(new Set(set.map((vm) => placement.get(vm))).size, set.length);
                        }
                        // Every VM of a role that has a peer on another host is covered by some rule.
                        if (new Set(names.map((vm) => placement.get(vm))).size > 1) {
                            const covered = new Set(sets.flat());
                            const perHostFirst = pool.map((host) => names.find((vm) => placement.get(vm) === host.name)).filter(Boolean);
                            for (const vm of perHostFirst) {
                                assert.ok(covered.has(vm as string), `${vm} is in no anti-affinity rule`);
                            }
                        }
                    }
                }),
            );
        });
    });
});

describe("clone lanes", () => {
    const placement = new Map([
        ["a", "pve1"],
        ["b", "pve1"],
        ["c", "pve1"],
        ["d", "pve2"],
        ["e", "pve1"],
    ]);

    it("lets `parallel` clones run per host and queues the rest behind them", () => {
        const lanes = cloneLanes(["a", "b", "c", "d", "e"], placement, 2, false);
        assert.deepEqual(Object.fromEntries(lanes), { a: undefined, b: undefined, c: "a", d: undefined, e: "b" });
    });

    it("shares one queue across hosts when disks are on shared storage", () => {
        const lanes = cloneLanes(["a", "b", "c", "d", "e"], placement, 1, true);
        assert.deepEqual(Object.fromEntries(lanes), { a: undefined, b: "a", c: "b", d: "c", e: "d" });
    });
});

function countBy(values: string[]): Map<string, number> {
    const counts = new Map<string, number>();
    for (const value of values) {
        counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    return counts;
}
