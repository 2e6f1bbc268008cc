// What bundle:load reads and writes, without a network: the stack outputs it is pointed by, the
// places in the bundle, and the Python index it serves (the loopback test loads a real bundle).
import { strict as assert } from "assert";
import { itemPath, requirementProject, wheelProject } from "../../../bundle/layout";
import { placedFiles } from "../../../bundle/load";
import type { Manifest } from "../../../bundle/manifest";
import { accessFromOutputs } from "../../../bundle/targets";
import { runStackFile } from "../../helpers";

describe("bundle:load's targets and layout", () => {
    it("reads every infra VM of production from the stack's outputs, the key a secret output of its own", async () => {
        const { outputs } = await runStackFile("production");
        const targets = outputs.bundleTargets;
        assert.ok(targets !== undefined && targets.known && !targets.secret, "bundleTargets is a plain output (no secret in it)");
        assert.equal(outputs.sshPrivateKey?.secret, true);
        const access = accessFromOutputs({ bundleTargets: targets.value, sshPrivateKey: outputs.sshPrivateKey?.value }, "production's outputs");
        assert.deepEqual(
            access.targets.hosts.map((host) => [host.name, host.address, host.sshPort, host.user, host.registry, host.chartsRoot, host.filesRoot]),
            [
                ["infra1", "10.0.0.5", 22, "erpadmin", "127.0.0.1:5000", "/srv/charts", "/srv/files"],
                ["infra2", "10.0.0.6", 22, "erpadmin", "127.0.0.1:5000", "/srv/charts", "/srv/files"],
            ],
        );
        assert.deepEqual([access.targets.registryHost, access.targets.chartsUrl, access.targets.filesHost], ["registry.erp.uno", "https://charts.erp.uno", "files.erp.uno"]);
        for (const host of access.targets.hosts) assert.match(host.hostKey, /^ssh-ed25519 /);
    });

    it("refuses outputs without what it needs, naming each, and says which program version makes them", () => {
        assert.throws(
            () => accessFromOutputs({ sshPrivateKey: "" }, "outputs.json"),
            (error: Error) => /outputs\.json does not hold the stack outputs bundle:load needs .*run `pulumi up` with this version first/.test(error.message) && /- bundleTargets: /.test(error.message) && /- sshPrivateKey: /.test(error.message),
        );
    });

    it("places each item by its destination, and reads Python names as PEP 503 and PEP 427 write them", () => {
        assert.equal(itemPath({ kind: "file", destination: "https://files.erp.uno/dl.k8s.io/release/v1.32.5/bin/linux/amd64/kubeadm" }), "files/files.erp.uno/dl.k8s.io/release/v1.32.5/bin/linux/amd64/kubeadm");
        assert.equal(itemPath({ kind: "image", destination: "registry.erp.uno/coredns/coredns:v1.11.3" }), "images/coredns/coredns_v1.11.3");
        assert.equal(itemPath({ kind: "chart", destination: "https://charts.erp.uno#argo-cd@8.6.4" }), "charts/argo-cd-8.6.4.tgz");
        assert.equal(requirementProject("ansible_core==2.16.14"), "ansible-core");
        assert.equal(requirementProject("PyYAML[libyaml]>=6; python_version >= '3.8'"), "pyyaml");
        assert.deepEqual(wheelProject("ansible_core-2.16.14-py3-none-any.whl"), { project: "ansible-core", version: "2.16.14" });
        assert.deepEqual(wheelProject("cryptography-45.0.2-1-cp311-abi3-manylinux_2_34_x86_64.whl"), { project: "cryptography", version: "45.0.2" });
        assert.throws(() => wheelProject("ansible-core-2.16.14.tar.gz"), /not a wheel's file name/);
    });

    it("serves the wheels as a PEP 503 index: a page per project linking each wheel with its sha256, and a root page", () => {
        const sha = (c: string) => c.repeat(64);
        const wheel = (source: string, project: string, file: string, c: string): Manifest["items"][number] => ({
            kind: "python",
            source,
            destination: `https://files.erp.uno/pypi/simple/${project}/`,
            path: `python/${file}`,
            size: 1,
            sha256: sha(c),
            verified: "test",
        });
        const manifest: Manifest = {
            stack: "production",
            items: [
                wheel("ansible-core==2.16.14", "ansible-core", "ansible_core-2.16.14-py3-none-any.whl", "a"),
                wheel("resolvelib==1.0.1", "resolvelib", "resolvelib-1.0.1-py2.py3-none-any.whl", "b"),
                { kind: "file", source: "https://dl.k8s.io/x", destination: "https://files.erp.uno/dl.k8s.io/x", path: "files/files.erp.uno/dl.k8s.io/x", size: 1, sha256: sha("c"), verified: "test" },
                { kind: "file", source: "https://cloud-images.ubuntu.com/i", destination: "http://10.0.0.2/files/i", path: "files/10.0.0.2/files/i", size: 1, sha256: sha("d"), verified: "test" },
            ],
        };
        const placed = placedFiles("/bundle", manifest);
        assert.deepEqual([...placed.keys()].sort(), ["10.0.0.2", "files.erp.uno"]);
        const files = placed.get("files.erp.uno") ?? [];
        assert.deepEqual(files.map((file) => file.relative).sort(), [
            "dl.k8s.io/x",
            "pypi/simple/ansible-core/ansible_core-2.16.14-py3-none-any.whl",
            "pypi/simple/ansible-core/index.html",
            "pypi/simple/index.html",
            "pypi/simple/resolvelib/index.html",
            "pypi/simple/resolvelib/resolvelib-1.0.1-py2.py3-none-any.whl",
        ]);
        const page = (relative: string) => (files.find((file) => file.relative === relative)?.from as { content: string }).content;
        assert.match(page("pypi/simple/ansible-core/index.html"), new RegExp(`<a href="ansible_core-2\\.16\\.14-py3-none-any\\.whl#sha256=${sha("a")}">`));
        assert.match(page("pypi/simple/index.html"), /<a href="ansible-core\/">ansible-core<\/a>.*\n<a href="resolvelib\/">resolvelib<\/a>/);
        assert.equal(placed.get("10.0.0.2")?.[0]?.relative, "files/i");
    });
});
