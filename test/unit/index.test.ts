// The real program under Pulumi's mock engine, for every committed stack, in preview and update mode.
import { strict as assert } from "assert";
import type { ProxmoxPlan } from "../../proxmox/plan";
import { SECRET_MARK, type RecordedResource } from "../../render/engine";
import { PLACEHOLDERS } from "../../render/stackConfig";
import { addProductionWorker, baselineRun, byType, dependsOn, find, plannedStack, runStackFile, STACKS } from "../helpers";

const VM = "proxmoxve:index/vmLegacy:VmLegacy";

for (const stack of STACKS) {
    for (const preview of [true, false]) {
        describe(`the ${stack} stack (${preview ? "preview" : "update"})`, () => {
            let resources: readonly RecordedResource[];
            let outputs: Awaited<ReturnType<typeof runStackFile>>["outputs"];
            let config: ProxmoxPlan;
            const urnOf = (name: string) => find(resources, name).urn;

            before(async () => {
                const run = preview ? await runStackFile(stack, { preview }) : await baselineRun(stack);
                resources = run.resources;
                outputs = run.outputs;
                config = plannedStack(stack).proxmox;
            });

            it("puts every resource in a layer component, and every Proxmox resource behind one explicit provider", () => {
                const components = resources.filter((r) => !r.custom);
                assert.deepEqual(components.map((c) => c.type).sort(), [
                    "erpdc:apps:ErpApps",
                    "erpdc:cluster:Kubespray",
                    "erpdc:dns:SynrcNs",
                    "erpdc:infra:InfraServices",
                    "erpdc:infra:LocalCa",
                    "erpdc:infra:ProxmoxLayer",
                ]);
                for (const component of components) {
                    assert.equal(component.parent, undefined, `${component.name} is not a top-level layer`);
                }
                const layer = find(resources, "proxmox");
                const provider = find(resources, "proxmoxve");
                for (const resource of resources.filter((r) => r.custom)) {
                    assert.ok(components.some((c) => c.urn === resource.parent), `${resource.name} is outside every layer`);
                    if (resource.type.startsWith("proxmoxve:")) {
                        assert.equal(resource.parent, layer.urn);
                        assert.equal(resource.provider, provider.urn, `${resource.name} does not use the explicit provider`);
                    }
                }
            });

            it("builds one thin-provisioned cloud-init template per host that runs VMs, from the checksummed image", () => {
                const templates = byType(resources, VM).filter((r) => r.inputs.template === true);
                const hostsWithVms = [...new Set(config.vms.map((vm) => vm.host))].sort();
                assert.deepEqual(templates.map((t) => t.inputs.nodeName).sort(), hostsWithVms);
                for (const template of templates) {
                    const image = resources.find(
                        (r) => r.type === "proxmoxve:download/fileLegacy:FileLegacy" && r.inputs.nodeName === template.inputs.nodeName,
                    );
                    assert.ok(image, `no image download on ${template.inputs.nodeName}`);
                    assert.equal(image.inputs.checksum, config.image.checksum);
                    assert.equal(image.inputs.checksumAlgorithm, "sha256");
                    assert.equal(image.inputs.url, config.image.url);
                    assert.ok(template.dependencies.includes(image.urn));
                    const inputs = template.inputs as any;
                    assert.equal(inputs.scsiHardware, "virtio-scsi-single");
                    assert.deepEqual(inputs.serialDevices, [{ device: "socket" }]);
                    assert.equal(inputs.agent.enabled, true);
                    assert.equal(inputs.initialization.interface, "ide2");
                    assert.equal(inputs.disks[0].datastoreId, config.datastores.disks.id);
                    assert.equal(inputs.disks[0].discard, "on");
                }
            });

            it("full-clones every VM from the template on its own host, with retries, onto the planned host", () => {
                const clones = byType(resources, VM).filter((r) => r.inputs.template !== true);
                assert.deepEqual(clones.map((c) => c.name).sort(), config.vms.map((vm) => vm.name).sort());
                for (const vm of config.vms) {
                    const clone = find(resources, vm.name);
                    const inputs = clone.inputs as any;
                    assert.equal(inputs.nodeName, vm.host);
                    assert.equal(inputs.vmId, vm.vmId);
                    assert.equal(inputs.clone.full, true);
                    assert.equal(inputs.clone.retries, config.clones.retries);
                    assert.equal(inputs.clone.nodeName, vm.host);
                    assert.ok(clone.dependencies.includes(urnOf(`template-${vm.host}`)));
                    assert.deepEqual(inputs.tags, [...vm.tags]);
                    assert.equal(inputs.networkDevices[0].macAddress, vm.macAddress);
                    assert.equal(inputs.networkDevices[0].bridge, config.nic.bridge);
                    assert.ok(clone.dependencies.includes(urnOf(`${vm.name}-user-data`)));
                    assert.ok(clone.dependencies.includes(urnOf(`${vm.name}-network-config`)));
                }
            });

            it("never puts two control-plane nodes on one host when there are enough hosts", () => {
                const hosts = config.vms.filter((vm) => vm.role === "controlPlane").map((vm) => (find(resources, vm.name).inputs as any).nodeName);
                assert.equal(new Set(hosts).size, Math.min(hosts.length, config.hosts.length));
            });

            it("bounds the full clones running at once on each host", () => {
                const parallel = config.clones.parallelPerHost;
                for (const host of config.hosts) {
                    const onHost = config.vms.filter((vm) => vm.host === host.name).map((vm) => find(resources, vm.name));
                    const unqueued = onHost.filter((clone) => !onHost.some((other) => clone.dependencies.includes(other.urn)));
                    assert.ok(unqueued.length <= parallel, `${unqueued.length} clones start at once on ${host.name}`);
                }
            });

            it("protects VMs exactly in production and ignores HA moves and first-boot-only cloud-init", () => {
                for (const vm of config.vms) {
                    const clone = find(resources, vm.name);
                    assert.equal(clone.protect, stack === "production");
                    assert.equal((clone.inputs as any).protection, stack === "production");
                    // Every cloud-init snippet the VM names is first-boot-only (ForceNew in the provider,
                    // render/steps.ts), and so are HA moves and the clone source; nothing else is ignored,
                    // so that a change of size, disk or network still reaches the VM.
                    const snippets = Object.keys((clone.inputs as any).initialization).filter((key) => key.endsWith("FileId")).map((key) => `initialization.${key}`);
                    assert.equal(snippets.length, 4, "user-data, network-config, meta-data and vendor-data");
                    // The agent's address wait, off so that a clone does not hold the next one on its
                    // host until cloud-init has installed the agent, is create-time only too (an agent
                    // change reboots a running VM).
                    assert.deepEqual((clone.inputs as any).agent, { enabled: true, trim: true, waitForIp: { disabled: true } });
                    assert.deepEqual([...clone.ignoreChanges].sort(), ["agent.waitForIp", "clone", "nodeName", ...snippets].sort());
                    // A fixed VM ID: the old VM must go before its replacement is made.
                    assert.equal(clone.deleteBeforeReplace, true);
                    // The snippet's ID is known once it exists (update mode).
                    if (!preview) assert.ok(String((clone.inputs as any).initialization.metaDataFileId).endsWith(`erp-${stack}-${vm.name}-meta-data.yaml`));
                }
                for (const snippet of byType(resources, "proxmoxve:index/fileLegacy:FileLegacy")) {
                    assert.equal(snippet.deleteBeforeReplace, true);
                    assert.equal(snippet.inputs.contentType, "snippets");
                }
            });

            it("makes the placement survive HA as the stack's HA mode says", () => {
                const haResources = byType(resources, "index/haresource:Haresource");
                const rules = byType(resources, "index/harule:Harule");
                const groups = byType(resources, "index/hagroup:Hagroup");
                switch (config.haMode) {
                    case "none":
                        assert.equal(haResources.length + rules.length + groups.length, 0);
                        break;
                    case "rules": {
                        assert.equal(haResources.length, config.vms.length);
                        assert.equal(groups.length, 0);
                        const controlPlane = rules.find((rule) => rule.name.includes("control-plane"));
                        assert.ok(controlPlane);
                        assert.equal(controlPlane.inputs.type, "resource-affinity");
                        assert.equal(controlPlane.inputs.affinity, "negative");
                        if (!preview) {
                            const ids = config.vms.filter((vm) => vm.role === "controlPlane").map((vm) => `vm:${vm.vmId}`);
                            assert.deepEqual(controlPlane.inputs.resources, ids);
                        }
                        // Proxmox only accepts rules over resources HA already manages.
                        for (const rule of rules) {
                            assert.ok(rule.dependencies.some((urn) => haResources.some((r) => r.urn === urn)));
                        }
                        break;
                    }
                    case "groups":
                        assert.equal(haResources.length, config.vms.length);
                        assert.equal(rules.length, 0);
                        for (const vm of config.vms) {
                            const group = find(resources, `ha-group-${vm.host}`);
                            assert.equal((group.inputs.nodes as Record<string, number>)[vm.host], 2);
                            assert.ok(find(resources, `ha-${vm.name}`).dependencies.includes(group.urn));
                        }
                        break;
                }
            });

            it("exports the inventory and the public key in the clear and the private key only as a secret", () => {
                assert.deepEqual(
                    outputs.inventory?.value,
                    config.vms.map((vm) => ({ name: vm.name, fqdn: vm.fqdn, role: vm.role, proxmoxHost: vm.host, address: vm.address, vmId: vm.vmId })),
                );
                assert.equal(outputs.inventory?.secret, false);
                assert.equal(outputs.sshPrivateKey?.secret, true);
                assert.equal(outputs.sshPublicKey?.secret, false);
                if (preview) {
                    assert.equal(outputs.sshPublicKey?.known, false);
                } else {
                    assert.match(String(outputs.sshPublicKey?.value), /^ssh-ed25519 [A-Za-z0-9+/=]+\n?$/);
                }
            });

            it("hands each VM its host key only in a secret vendor-data snippet", () => {
                for (const vm of config.vms) {
                    // Unknown in a preview (the key is made during the update), a secret after.
                    assert.equal((find(resources, `${vm.name}-vendor-data`).inputs.sourceRaw as { data: unknown }).data, preview ? "[unknown]" : SECRET_MARK, vm.name);
                }
            });

            if (!preview) {
                it("pins each VM's public host key in every remote command's connection", async () => {
                    const revealed = (await runStackFile(stack, { revealSecrets: true })).resources;
                    const keys = new Map(config.vms.map((vm) => [vm.address, String((find(revealed, `${vm.name}-ready`).revealedInputs?.connection as { hostKey: string }).hostKey)]));
                    for (const key of keys.values()) assert.match(key, /^ssh-ed25519 [A-Za-z0-9+/=]+\n?$/);
                    assert.equal(new Set(keys.values()).size, keys.size, "every VM has a key of its own");
                    for (const command of revealed.filter((r) => r.type === "command:remote:Command")) {
                        const connection = command.revealedInputs?.connection as { host: string; hostKey?: string };
                        assert.equal(connection.hostKey, keys.get(connection.host), `${command.name} pins another key than its VM's, or none`);
                    }
                });
            }

            it("hands the API token to the provider as a secret and nowhere else", () => {
                assert.equal(find(resources, "proxmoxve").inputs.apiToken, SECRET_MARK);
                const everything = JSON.stringify(resources);
                assert.ok(!everything.includes(PLACEHOLDERS["proxmoxve:apiToken"] as string));
                assert.ok(!everything.includes("PRIVATE KEY"));
            });
        });
    }
}

describe("Proxmox provider's SSH", () => {
    it("uses the SSH agent by default, and a secret key instead of it when one is set", async () => {
        // Provider inputs reach the engine as JSON text; a secret inside makes the whole value secret.
        const sshOf = (resource: RecordedResource) => {
            const ssh = resource.inputs.ssh;
            return typeof ssh === "string" && ssh !== SECRET_MARK ? JSON.parse(ssh) : ssh;
        };
        assert.equal(sshOf(find((await baselineRun("production")).resources, "proxmoxve")).agent, true);
        const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        const withKey = await runStackFile("production", { edit: (d) => (d["proxmoxve:sshPrivateKey"] = key), revealSecrets: true });
        const provider = find(withKey.resources, "proxmoxve");
        assert.equal(sshOf(provider), SECRET_MARK);
        const revealed = JSON.parse(String(provider.revealedInputs?.ssh));
        assert.equal(revealed.agent, false);
        assert.equal(revealed.privateKey, key);
        assert.ok(!JSON.stringify(withKey.resources.map((r) => r.inputs)).includes("b3BlbnNzaC1rZXktdjEAAAAA"));
    });
});

describe("VM lifecycle settings", () => {
    it("names the image file after its checksum and rebuilds the templates from a new image", async () => {
        const { resources } = await baselineRun("production");
        const image = find(resources, "ubuntu-2404-image-pve1");
        assert.equal(image.inputs.fileName, "noble-server-cloudimg-amd64-d1940f7d69d3.qcow2");
        const template = find(resources, "template-pve1");
        assert.deepEqual(template.replaceWith, [image.urn]);
        assert.equal(template.deleteBeforeReplace, true);
    });

    it("re-runs a rebuilt VM's commands, and has Kubespray wait for every VM to trust the current CA", async () => {
        const { resources } = await baselineRun("production");
        for (const name of ["k8s-worker1-ready", "k8s-worker1-ca"]) assert.deepEqual(find(resources, name).replaceWith, [find(resources, "k8s-worker1").urn], name);
        for (const name of ["infra1-registry", "infra1-nginx", "infra1-synrc-ns", "infra1-zone"]) assert.deepEqual(find(resources, name).replaceWith, [find(resources, "infra1").urn], name);
        assert.equal(find(resources, "kubespray").replaceWith.length, 6);
        assert.ok(dependsOn(resources, "kubespray", "k8s-worker3-ca"));
        assert.equal(find(resources, "admin-ssh").protect, true);
    });

    it("gives every VM a meta-data snippet with an instance-id of its own, and warns about a decommissioned VM that is gone", async () => {
        const { artifacts, warnings } = await runStackFile("production", { edit: (d) => (d["erpdc:vms"].decommission = ["k8s-worker9"]) });
        const files = await artifacts.collect();
        assert.equal(files.get("cloud-init/k8s-worker2/meta-data"), "instance-id: iid-k8s-worker2\nlocal-hostname: k8s-worker2\n");
        assert.deepEqual(warnings.filter((w) => w.startsWith("vms.decommission")), ['vms.decommission[0] is "k8s-worker9": no planned VM has that name (any more); remove the entry once the VM is gone']);
    });
});

describe("determinism", () => {
    it("gives identical resource inputs for the same config", async () => {
        const first = await baselineRun("production");
        const second = await runStackFile("production");
        assert.deepEqual(second.resources, first.resources);
        assert.deepEqual(await second.artifacts.collect(), await first.artifacts.collect());
    });

    it("moves no existing VM and changes no existing VM's inputs when a worker is added", async () => {
        const before = await baselineRun("production");
        const after = await runStackFile("production", { edit: addProductionWorker });
        for (const resource of before.resources.filter((r) => r.type === VM)) {
            assert.deepEqual(find(after.resources, resource.name).inputs, resource.inputs, `${resource.name} changed`);
        }
        assert.ok(find(after.resources, "k8s-worker4"));
    });
});
