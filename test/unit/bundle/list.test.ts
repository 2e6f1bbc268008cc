// The contour bundle's list: complete for what the rendered stack and its ArgoCD release reference,
// the same for the same stack, and compared with a bundle's manifest.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import type { KubesprayDownloads } from "../../../bundle/kubespray";
import { bundleList, destinationClashes, qualified, upstreamOf, type BundleItem } from "../../../bundle/list";
import { missingFromBundle, readManifest, type Manifest } from "../../../bundle/manifest";
import { renderStack } from "../../../render/render";
import { README, withGeneratedPlugins } from "../../../scripts/docs";
import { find, plannedStack, runStackFile, STACKS } from "../../helpers";

/**
 * What generate_list.sh gives, in its shape (the real one needs the release and Ansible: the audit
 * runs it): upstream and contour places line for line, an image listed twice.
 */
const KUBESPRAY: KubesprayDownloads = {
    files: [{ source: "https://dl.k8s.io/release/v1.32.5/bin/linux/amd64/kubeadm", destination: "https://files.erp.uno/dl.k8s.io/release/v1.32.5/bin/linux/amd64/kubeadm" }],
    images: [
        { source: "registry.k8s.io/coredns/coredns:v1.11.3", destination: "registry.erp.uno/coredns/coredns:v1.11.3" },
        { source: "registry.k8s.io/coredns/coredns:v1.11.3", destination: "registry.erp.uno/coredns/coredns:v1.11.3" },
    ],
    pythonRequirements: ["ansible==9.13.0", "jmespath==1.0.1"],
};

async function listFor(stack: string): Promise<BundleItem[]> {
    const { files } = await renderStack(stack);
    return bundleList(plannedStack(stack), files, KUBESPRAY);
}

describe("the contour bundle's list", () => {
    it("carries a provider plugin for every provider the program creates resources with, from where the CLI fetches it", async () => {
        const list = await listFor("production");
        const plugins = list.filter((item) => item.destination.startsWith("http://10.0.0.2/files/pulumi-plugins/"));
        // The providers the program really uses: the packages of its resources' types (pulumi:* is the engine's own).
        const used = new Set((await runStackFile("production")).resources.map((r) => r.type.split(":")[0] as string).filter((pkg) => pkg !== "pulumi" && pkg !== "erpdc"));
        assert.deepEqual([...used].sort(), ["command", "kubernetes", "proxmoxve", "random", "tls"]);
        for (const name of used) {
            assert.ok(plugins.some((item) => new RegExp(`/pulumi-resource-${name}-v[0-9.]+-linux-amd64\\.tar\\.gz$`).test(item.destination)), `no ${name} plugin in the bundle`);
        }
        // get.pulumi.com for Pulumi's own, the release assets of the repository a package names as its
        // server (github://api.github.com/muhlba91/pulumi-proxmoxve) for the others.
        assert.ok(plugins.some((item) => item.source === "https://get.pulumi.com/releases/plugins/pulumi-resource-random-v4.21.2-linux-amd64.tar.gz"));
        assert.ok(plugins.some((item) => item.source === "https://github.com/muhlba91/pulumi-proxmoxve/releases/download/v8.6.0/pulumi-resource-proxmoxve-v8.6.0-linux-amd64.tar.gz"));
        assert.equal(plugins.length, used.size);
    });

    it("the README's plugin commands are the ones generated from package.json (npm run docs)", () => {
        const readme = fs.readFileSync(README, "utf8");
        assert.equal(withGeneratedPlugins(readme), readme, "the README's plugin list is out of date: run `npm run docs`");
        for (const name of ["command", "kubernetes", "proxmoxve", "random", "tls"]) assert.match(readme, new RegExp(`pulumi plugin install resource ${name} `));
    });

    for (const stack of STACKS) {
        it(`${stack}: holds every image the chart and the ArgoCD release run, every pinned file, Kubespray's downloads, the argo-cd chart and the runner's Python`, async () => {
            const list = await listFor(stack);
            const destinations = (kind: BundleItem["kind"]) => list.filter((item) => item.kind === kind).map((item) => item.destination);
            const { files } = await renderStack(stack);
            const rendered = YAML.parseAllDocuments(files.get("apps/erp-uno.rendered.yaml") as string).map((d) => d.toJS());
            const podSpecs = rendered.map((object) => object?.spec?.template?.spec ?? (object?.kind === "Pod" ? object.spec : undefined)).filter((spec) => spec !== undefined);
            const chartImages = podSpecs.flatMap((spec) => [...(spec.initContainers ?? []), ...(spec.containers ?? [])]).map((c: { image: string }) => c.image);
            assert.ok(chartImages.length > 0, `${stack}: the chart runs no image`);
            const values = find((await runStackFile(stack)).resources, "argocd").inputs.values as { global: { image: { repository: string; tag: string } }; redis: { image: { repository: string; tag: string } } };
            const releaseImages = [values.global.image, values.redis.image].map((image) => `${image.repository}:${image.tag}`);
            for (const image of [...chartImages, ...releaseImages, KUBESPRAY.images[0]?.destination as string]) {
                assert.ok(destinations("image").includes(image), `${stack}: ${image} is not in the bundle`);
            }
            const plan = plannedStack(stack);
            const pinned = [plan.proxmox.image.url, plan.cluster.kubernetes.kubespraySource.url, plan.dns.nsArtifact.url];
            for (const url of pinned) assert.ok(list.some((item) => item.destination === url), `${stack}: ${url}`);
            const osImage = list.find((item) => item.destination === plan.proxmox.image.url);
            assert.equal(osImage?.checksum, `sha256:${plan.proxmox.image.checksum}`);
            assert.match(osImage?.source ?? "", /^https:\/\/cloud-images\.ubuntu\.com\/noble\//);
            // The synrc/ns release has no public build: the project's recipe makes it (npm run synrc-ns).
            assert.equal(list.find((item) => item.destination === plan.dns.nsArtifact.url)?.kind, "in-house");
            assert.ok(destinations("file").includes(KUBESPRAY.files[0]?.destination as string));
            assert.deepEqual(destinations("chart"), [`https://${plan.dns.names.charts}#argo-cd@${plan.apps.argocd.chartVersion}`]);
            assert.deepEqual(list.filter((item) => item.kind === "python").map((item) => item.source), [`ansible-core==${plan.cluster.kubernetes.ansibleCoreVersion}`, "ansible==9.13.0", "jmespath==1.0.1"].sort());
            // An erp-uno image comes from the chart's own repository, as container tools read it.
            const component = list.find((item) => item.destination === chartImages[0]);
            assert.equal(component?.source, `docker.io/${(chartImages[0] as string).split("/").slice(1).join("/")}`);
            assert.deepEqual(destinationClashes(list), []);
        });
    }

    it("is the same list, sorted and without repeats, for the same stack", async () => {
        const [first, second] = [await listFor("production"), await listFor("production")];
        assert.deepEqual(first, second);
        const keys = first.map((item) => `${item.kind} ${item.destination} ${item.source}`);
        assert.equal(new Set(keys).size, keys.length);
        assert.deepEqual(first.map((item) => item.kind), [...first.map((item) => item.kind)].sort());
        assert.equal(first.filter((item) => item.destination === "registry.erp.uno/coredns/coredns:v1.11.3").length, 1);
    });

    it("maps the datacenter mirror's layout to the public places, and reads image names as container tools do", () => {
        assert.equal(upstreamOf("http://10.0.0.2/files/cloud-images/noble/2026-07-26/noble-server-cloudimg-amd64.img"), "https://cloud-images.ubuntu.com/noble/20260726/noble-server-cloudimg-amd64.img");
        assert.equal(upstreamOf("http://10.0.0.2/files/kubespray/kubespray-2.28.0.tar.gz"), "https://github.com/kubernetes-sigs/kubespray/archive/refs/tags/v2.28.0.tar.gz");
        assert.equal(upstreamOf("http://10.0.0.2/files/synrc-ns/erldns-3.0.0.tar.gz"), undefined);
        assert.equal(qualified("erpuno/cart:2026.11.1"), "docker.io/erpuno/cart:2026.11.1");
        assert.equal(qualified("busybox:1.36.1"), "docker.io/library/busybox:1.36.1");
        assert.equal(qualified("quay.io/argoproj/argocd:v3.1.8"), "quay.io/argoproj/argocd:v3.1.8");
        assert.equal(qualified("localhost:5000/x:1"), "localhost:5000/x:1");
    });

    it("tells two sources that would take one place in the contour", () => {
        const clash: BundleItem[] = [
            { kind: "image", source: "docker.io/library/registry:2.8.1", destination: "registry.erp.uno/library/registry:2.8.1", reason: "a" },
            { kind: "image", source: "quay.io/library/registry:2.8.1", destination: "registry.erp.uno/library/registry:2.8.1", reason: "b" },
        ];
        assert.deepEqual(destinationClashes(clash), ["registry.erp.uno/library/registry:2.8.1 <- docker.io/library/registry:2.8.1, quay.io/library/registry:2.8.1"]);
    });
});

describe("a bundle's manifest against the list", () => {
    const sha = (c: string) => c.repeat(64);
    const held = (item: BundleItem, i: number): Manifest["items"][number] => ({
        kind: item.kind,
        source: item.source,
        destination: item.destination,
        path: `items/${i}`,
        size: 1,
        sha256: item.checksum?.replace(/^sha256:/, "") ?? sha("a"),
        verified: "test",
    });

    it("reports nothing when the bundle holds every item, and each item it lacks or holds with other content", async () => {
        const list = await listFor("production");
        const complete: Manifest = { stack: "production", items: list.map(held) };
        assert.deepEqual(missingFromBundle(list, complete), []);
        const osImage = list.find((item) => item.checksum !== undefined) as BundleItem;
        const lacking: Manifest = {
            stack: "production",
            items: complete.items.filter((item) => item.destination !== "registry.erp.uno/coredns/coredns:v1.11.3").map((item) => (item.destination === osImage.destination ? { ...item, sha256: sha("b") } : item)),
        };
        const missing = missingFromBundle(list, lacking);
        assert.equal(missing.length, 2, missing.join("\n"));
        assert.match(missing.find((line) => line.startsWith("missing:")) ?? "", /image registry\.k8s\.io\/coredns\/coredns:v1\.11\.3 -> registry\.erp\.uno\/coredns\/coredns:v1\.11\.3 \(Kubespray v2\.28\.0 pulls it/);
        assert.match(missing.find((line) => line.startsWith("wrong content:")) ?? "", new RegExp(`the bundle has sha256:${sha("b")}, the stack pins ${osImage.checksum}`));
    });

    it("refuses a manifest of another shape, naming the field", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-manifest-"));
        try {
            fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ stack: "production", items: [{ kind: "image", source: "a", destination: "b", path: "c", size: 1, sha256: "nope", extra: 1 }] }));
            assert.throws(() => readManifest(dir), /items\.0\.sha256: /);
            fs.writeFileSync(path.join(dir, "manifest.json"), "{ truncated");
            assert.throws(() => readManifest(dir), /manifest\.json is not JSON .*run npm run bundle again/);
            assert.throws(() => readManifest(path.join(dir, "absent")), /does not exist: is .* a bundle\?/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
