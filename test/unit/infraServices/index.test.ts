// The DNS and infra-service layers under the mock engine.
import { strict as assert } from "assert";
import { zoneFileJson } from "../../../dns/zone";
import { SECRET_MARK, type RecordedResource } from "../../../render/engine";
import { addProductionWorker, baselineRun, dependsOn, find, plannedStack, runStackFile } from "../../helpers";

const stdinFiles = (resource: RecordedResource) => JSON.parse(resource.inputs.stdin as string).files as { path: string; content: string }[];

describe("infra host layers (production, update)", () => {
    let resources: readonly RecordedResource[];
    let outputs: Awaited<ReturnType<typeof runStackFile>>["outputs"];
    let artifacts: Map<string, string>;
    before(async () => {
        const run = await baselineRun("production");
        resources = run.resources;
        outputs = run.outputs;
        artifacts = await run.artifacts.collect();
    });

    it("ships exactly the generated zone to synrc/ns, after installing it on a VM that finished its first boot", () => {
        const config = plannedStack("production");
        const zone = find(resources, "infra1-zone");
        // Root-owned and read-only to the service, which reads it through its release's priv/zones.
        assert.deepEqual(stdinFiles(zone), [{ path: "/etc/synrc-ns/zones/erp.uno.zone.json", content: zoneFileJson(config.dns.zone), mode: "0644" }]);
        assert.match(zone.inputs.create as string, /sudo \/usr\/local\/lib\/erpdc\/synrc-ns-apply$/);
        assert.ok(dependsOn(resources, "infra1-zone", "infra1-synrc-ns"));
        assert.ok(dependsOn(resources, "infra1-synrc-ns", "infra1-ready"));
        // One infra VM after the other: infra2's server changes only once infra1's answers the zone.
        assert.ok(dependsOn(resources, "infra2-synrc-ns", "infra1-zone"));
        assert.ok(dependsOn(resources, "infra2-zone", "infra2-synrc-ns"));
        assert.equal(dependsOn(resources, "infra1-synrc-ns", "infra2-zone"), false);
        assert.ok(dependsOn(resources, "infra1-ready", "infra1"));
        assert.equal(artifacts.get("dns/erp.uno.zone.json"), zoneFileJson(config.dns.zone));
    });

    it("runs the registry and nginx on the first infra VM, with keys and passwords only in secret inputs", () => {
        const registry = find(resources, "infra1-registry");
        // The registry's own files hold no secret now that nginx keeps the accounts.
        assert.doesNotMatch(String(registry.inputs.stdin), /htpasswd|\$2b\$/);
        assert.match(registry.inputs.create as string, /rm -f \/etc\/docker\/registry\/htpasswd/);
        const nginx = find(resources, "infra1-nginx");
        assert.equal(nginx.inputs.stdin, SECRET_MARK, "nginx's bundle has the TLS keys and the accounts");
        for (const service of [registry, nginx]) {
            const connection = service.inputs.connection as Record<string, unknown> | typeof SECRET_MARK;
            assert.ok(connection === SECRET_MARK || (connection as Record<string, unknown>).privateKey === SECRET_MARK, `${service.name} connection: ${JSON.stringify(connection)}`);
            assert.ok(dependsOn(resources, service.name, "infra1-ready"));
        }
        assert.match(nginx.inputs.create as string, /nginx -t/);
        assert.equal(outputs.registryPassword?.secret, true);
        assert.equal(outputs.registryPullPassword?.secret, true);
        assert.equal(outputs.caCertificate?.secret, false);
        assert.deepEqual(outputs.registry?.value, { host: "registry.erp.uno", username: "erpdc", pullUsername: "erpdc-pull" });
    });

    it("puts the local CA into every VM's first-boot trust store", () => {
        const ca = String(outputs.caCertificate?.value);
        for (const [file, content] of artifacts) {
            if (file.endsWith("/user-data")) {
                assert.ok(content.includes("ca_certs:") && content.includes(ca.split("\n")[1] as string), file);
            }
        }
    });

    it("mounts the data disk on the infra VM only", () => {
        assert.match(artifacts.get("cloud-init/infra1/user-data") as string, /mounts:\n\s+- - LABEL=erp-data\n\s+- \/srv/);
        assert.ok(!(artifacts.get("cloud-init/k8s-worker1/user-data") as string).includes("fs_setup"));
    });
});

describe("infra host layers when the inventory changes", () => {
    it("restarts the two DNS servers one after the other, and runs the registry and nginx on each infra VM", async () => {
        const { resources } = await baselineRun("production");
        assert.ok(dependsOn(resources, "infra2-zone", "infra1-zone"));
        assert.ok(!dependsOn(resources, "infra1-zone", "infra2-zone"));
        assert.deepEqual(resources.filter((r) => /-(registry|nginx)$/.test(r.name)).map((r) => r.name).sort(), ["infra1-nginx", "infra1-registry", "infra2-nginx", "infra2-registry"]);
        // The same configuration on both: either one serves what the other does.
        assert.deepEqual(find(resources, "infra2-nginx").inputs.create, find(resources, "infra1-nginx").inputs.create);
        const staging = await baselineRun("staging");
        assert.deepEqual(staging.resources.filter((r) => /-(registry|nginx)$/.test(r.name)).map((r) => r.name).sort(), ["infra1-nginx", "infra1-registry"]);
    });

    it("re-ships the zone, and nothing else on the infra VM, when a worker is added", async () => {
        const before = await baselineRun("production");
        const after = await runStackFile("production", { edit: addProductionWorker });
        assert.notDeepEqual(find(after.resources, "infra1-zone").inputs, find(before.resources, "infra1-zone").inputs);
        for (const name of ["infra1-synrc-ns", "infra1-registry", "infra1-nginx", "infra1-ready"]) {
            assert.deepEqual(find(after.resources, name).inputs, find(before.resources, name).inputs, name);
        }
    });
});
