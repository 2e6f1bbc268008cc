// The contour bundle end to end on loopback, for the production stack. Stand-ins for the public
// sources run on 127.0.0.1:443 (a CNCF distribution registry per public registry behind nginx, and
// nginx serving the file hosts, the argo-cd chart repository and a PyPI simple index), and their
// names map to 127.0.0.1 in a mount namespace of the test's own (its /etc/hosts and CA bundle bound
// over the host's), where `bundle` fills a bundle with real curl, skopeo and pip. Two loopback infra
// VMs (registry + nginx + sshd each, the program's own configuration) take `bundle:load`; then a
// node's pull account pulls a loaded image, pip installs from the loaded index, helm pulls the chart.
// Kubespray's release is a stand-in with generate_list.sh's interface (the real one needs Ansible
// and the release, which CI cannot fetch); production's pins are set to the stand-in files' sha256.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { kubesprayDownloads, renderedGroupVars } from "../../../bundle/kubespray";
import { bundleList, type BundleItem } from "../../../bundle/list";
import { missingFromBundle, readManifest, type Manifest } from "../../../bundle/manifest";
import { renderedStack } from "../../../bundle/stack";
import type { BundleTargets } from "../../../bundle/targets";
import { registryConfig, renderNginx, type Directive } from "../../../infraServices/services";
import { fromConfigMap, ROOT, stackDocument } from "../../../render/stackConfig";
import { LoopbackInfra, PULL_PASSWORD, PULL_USER } from "../loopbackInfra";
import { freePort, helmBinary, makeCa, Processes, run, waitForPort } from "../support";
import { DEBIAN_PYTHON, packKubespray, standInKubespray, standInWheel } from "../../standins";

const STACK = "production";

const REQUIREMENTS = "ansible==9.13.0\n# Needed for jinja2 json_query templating\njmespath==1.0.1\n";

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** The host skopeo and Docker reach for docker.io. */
const registryHostOf = (reference: string) => (reference.split("/")[0] === "docker.io" ? "registry-1.docker.io" : (reference.split("/")[0] as string));

/** The public hosts whose files the bundle takes, stood in by one nginx site (provider plugins from get.pulumi.com and GitHub releases). */
const FILE_HOSTS = ["github.com", "dl.k8s.io", "cloud-images.ubuntu.com", "argoproj.github.io", "pypi.org", "get.pulumi.com"];

describe("the contour bundle, filled from stand-ins of the public sources and loaded into two infra VMs", function () {
    this.timeout(600000);
    const processes = new Processes();
    let work: string;
    let document: Record<string, any>;
    let list: BundleItem[];
    let infras: LoopbackInfra[];
    let hostsFile: string;
    let caBundle: string;
    let outputs: string;
    const bundle = () => path.join(work, "bundle");
    const mirrorRoot = () => path.join(work, "mirror");

    /** Runs a command where the public names and the contour's names are 127.0.0.1 and the test CAs are trusted. */
    function inContour(args: readonly string[], env: NodeJS.ProcessEnv = {}, input?: string): { status: number | null; stdout: string; stderr: string } {
        const script = 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/ssl/certs/ca-certificates.crt && shift 2 && exec "$@"';
        const result = spawnSync("unshare", ["--mount", "--", "bash", "-c", script, "in-contour", hostsFile, caBundle, ...args], {
            encoding: "utf8",
            cwd: ROOT,
            env: { ...process.env, PIP_CERT: caBundle, ...env },
            maxBuffer: 64 << 20,
            ...(input === undefined ? {} : { input }),
        });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    function fill(): { fetched: number; present: number; failed: string[]; lines: string[] } {
        const params = path.join(work, "fill.json");
        const result = path.join(work, "fill-result.json");
        fs.writeFileSync(params, JSON.stringify({ stack: STACK, document, out: bundle(), pypiIndex: "https://pypi.org/simple/", result }));
        const ran = inContour([process.execPath, "-r", "ts-node/register", path.join(__dirname, "fillDriver.ts"), params]);
        assert.equal(ran.status, 0, `bundle failed:\n${ran.stdout}${ran.stderr}`);
        return JSON.parse(fs.readFileSync(result, "utf8"));
    }

    /** bundle:load as the CLI runs it, for the test's own stack document (production with the stand-ins' pins). */
    function load(options: { outputs?: string; mirrorRoot?: boolean; dir?: string } = {}): { status: number | null; output: string } {
        const params = path.join(work, "load.json");
        fs.writeFileSync(params, JSON.stringify({ stack: STACK, document, dir: options.dir ?? bundle(), outputs: options.outputs ?? outputs, ...(options.mirrorRoot === false ? {} : { mirrorRoot: mirrorRoot() }) }));
        const ran = inContour([process.execPath, "-r", "ts-node/register", path.join(__dirname, "loadDriver.ts"), params]);
        return { status: ran.status, output: ran.stdout + ran.stderr };
    }

    /** Every file under a root, with its sha256, by relative path. */
    function tree(root: string): Map<string, string> {
        const found = new Map<string, string>();
        const walk = (dir: string) => {
            for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
                const file = path.join(dir, entry.name);
                if (entry.isDirectory()) walk(file);
                else found.set(path.relative(root, file), sha256(file));
            }
        };
        if (fs.existsSync(root)) walk(root);
        return found;
    }

    /** The repositories and tags an infra VM's registry holds (its own port, as the loader reaches it). */
    function catalog(infra: LoopbackInfra): string[] {
        const base = `http://127.0.0.1:${infra.ports.upstream}/v2`;
        const repositories = (JSON.parse(run("curl", ["-sf", `${base}/_catalog?n=1000`])) as { repositories: string[] }).repositories;
        return repositories.flatMap((repository) => (JSON.parse(run("curl", ["-sf", `${base}/${repository}/tags/list`])) as { tags: string[] }).tags.map((tag) => `${repository}:${tag}`)).sort();
    }

    before(async function () {
        for (const tool of ["unshare", "skopeo", "umoci", "nginx", "docker-registry", "sshd", "curl", DEBIAN_PYTHON]) {
            assert.equal(spawnSync("bash", ["-c", `command -v ${tool} || test -x /usr/sbin/${tool}`]).status, 0, `${tool} is missing (.ci/run installs it)`);
        }
        work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-bundle-e2e-"));
        fs.chmodSync(work, 0o755);

        // The stand-in artifacts, and production pinned to them.
        const release = standInKubespray(path.join(work, "release"), REQUIREMENTS);
        const publicRoot = path.join(work, "public");
        const publish = (url: string, content: Buffer | string) => {
            const { host, pathname } = new URL(url);
            const file = path.join(publicRoot, host, pathname);
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, content);
            return file;
        };
        const tarball = publish("https://github.com/kubernetes-sigs/kubespray/archive/refs/tags/v2.28.0.tar.gz", "");
        packKubespray(release, tarball);
        const osImage = publish("https://cloud-images.ubuntu.com/noble/20260726/noble-server-cloudimg-amd64.img", "stand-in cloud image\n".repeat(1000));
        publish("https://cloud-images.ubuntu.com/noble/20260726/SHA256SUMS", `${"0".repeat(64)} *noble-server-cloudimg-amd64.vmdk\n${sha256(osImage)} *noble-server-cloudimg-amd64.img\n`);
        // The synrc/ns release: npm run bundle builds it with the project's recipe, and the stack pins it.
        document = stackDocument(STACK);
        document["erpdc:image"].checksum = sha256(osImage);
        document["erpdc:kubernetes"].kubespraySource.sha256 = sha256(tarball);

        const { plan, files } = await renderedStack(STACK, fromConfigMap(document));
        list = bundleList(plan, files, kubesprayDownloads(release, renderedGroupVars(files)));

        // Kubespray's files (dl.k8s.io beside its .sha256), the provider plugins, the chart repository, the PyPI index.
        for (const item of list.filter((i) => i.kind === "file" && new URL(i.source).hostname !== "cloud-images.ubuntu.com" && !i.source.includes("/kubespray/archive/"))) {
            const file = publish(item.source, `stand-in of ${item.source}\n`);
            if (new URL(item.source).hostname === "dl.k8s.io") publish(`${item.source}.sha256`, `${sha256(file)}\n`);
        }
        const chartItem = list.find((i) => i.kind === "chart") as BundleItem;
        const chartVersion = chartItem.source.split("@")[1] as string;
        const chartSource = path.join(work, "argo-cd");
        fs.mkdirSync(path.join(chartSource, "templates"), { recursive: true });
        fs.writeFileSync(path.join(chartSource, "Chart.yaml"), YAML.stringify({ apiVersion: "v2", name: "argo-cd", version: chartVersion, appVersion: "stand-in" }));
        fs.writeFileSync(path.join(chartSource, "templates", "configmap.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stand-in\n");
        const chartRepo = path.join(publicRoot, "argoproj.github.io", "argo-helm");
        fs.mkdirSync(chartRepo, { recursive: true });
        run(helmBinary(), ["package", chartSource, "-d", chartRepo]);
        run(helmBinary(), ["repo", "index", chartRepo, "--url", "https://argoproj.github.io/argo-helm"]);
        const wheels = path.join(work, "wheels");
        const wheel = (name: string, version: string, requires: string[]) => standInWheel(work, path.join(wheels, name), name, version, { requires });
        wheel("ansible-core", "2.16.14", ["resolvelib==1.0.1"]);
        wheel("resolvelib", "1.0.1", []);
        wheel("ansible", "9.13.0", ["ansible-core>=2.16.7,<2.17"]);
        wheel("jmespath", "1.0.1", []);
        for (const project of fs.readdirSync(wheels)) {
            const files = fs.readdirSync(path.join(wheels, project));
            for (const file of files) publish(`https://pypi.org/packages/${file}`, fs.readFileSync(path.join(wheels, project, file)));
            publish(`https://pypi.org/simple/${project}/index.html`, `<html><body>${files.map((file) => `<a href="../../packages/${file}#sha256=${sha256(path.join(wheels, project, file))}">${file}</a>`).join("\n")}</body></html>\n`);
        }

        // A registry per public registry host, each holding every image the list takes from it.
        fs.mkdirSync(path.join(work, "upstream-ca"));
        const upstreamCa = makeCa(path.join(work, "upstream-ca"), [...FILE_HOSTS, "registry.k8s.io", "registry-1.docker.io", "quay.io", "ghcr.io", "ecr-public.aws.com"]);
        const images = list.filter((i) => i.kind === "image");
        const registryHosts = [...new Set(images.map((i) => registryHostOf(i.source)))].sort();
        const backends = new Map<string, number>();
        for (const host of registryHosts) {
            const port = await freePort();
            const dir = path.join(work, "registries", host);
            fs.mkdirSync(dir, { recursive: true });
            fs.writeFileSync(path.join(dir, "config.yml"), registryConfig({ rootDirectory: path.join(dir, "data"), listen: `127.0.0.1:${port}` }));
            processes.start("docker-registry", ["serve", path.join(dir, "config.yml")], path.join(dir, "log"));
            await waitForPort(port);
            backends.set(host, port);
            const layout = path.join(dir, "layout");
            run("umoci", ["init", "--layout", layout]);
            run("umoci", ["new", "--image", `${layout}:standin`]);
            fs.writeFileSync(path.join(dir, "origin.txt"), `an image of ${host}\n`);
            run("umoci", ["insert", "--image", `${layout}:standin`, path.join(dir, "origin.txt"), "/origin.txt"]);
            for (const item of images.filter((i) => registryHostOf(i.source) === host)) {
                run("skopeo", ["copy", "--quiet", "--dest-tls-verify=false", `oci:${layout}:standin`, `docker://127.0.0.1:${port}/${item.source.split("/").slice(1).join("/")}`]);
            }
        }
        assert.notEqual(spawnSync("bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/443"]).status, 0, "127.0.0.1:443 is taken: the stand-ins of the public hosts need it");
        const tls = (names: string[]): Directive[] => [
            { name: "listen", args: ["127.0.0.1:443", "ssl"] },
            { name: "server_name", args: names },
            { name: "ssl_certificate", args: [upstreamCa.serverCert] },
            { name: "ssl_certificate_key", args: [upstreamCa.serverKey] },
        ];
        const temp = path.join(work, "nginx-temp");
        fs.mkdirSync(temp);
        const nginxConf = path.join(work, "public-nginx.conf");
        fs.writeFileSync(
            nginxConf,
            renderNginx([
                { name: "daemon", args: ["off"] },
                { name: "pid", args: [path.join(work, "public-nginx.pid")] },
                { name: "error_log", args: [path.join(work, "public-nginx-error.log")] },
                { name: "events", block: [] },
                {
                    name: "http",
                    block: [
                        { name: "access_log", args: [path.join(work, "public-access.log")] },
                        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind): Directive => ({ name: `${kind}_temp_path`, args: [path.join(temp, kind)] })),
                        ...registryHosts.map((host): Directive => ({
                            name: "server",
                            block: [
                                ...tls([host]),
                                { name: "client_max_body_size", args: [0] },
                                { name: "location", args: ["/"], block: [{ name: "proxy_pass", args: [`http://127.0.0.1:${backends.get(host)}`] }, { name: "proxy_set_header", args: ["Host", "$http_host"] }] },
                            ],
                        })),
                        { name: "server", block: [...tls([...FILE_HOSTS]), { name: "root", args: [`${publicRoot}/$host`] }] },
                    ],
                },
            ]),
        );
        processes.start("nginx", ["-c", nginxConf, "-e", path.join(work, "public-nginx-error.log")], path.join(work, "public-nginx.log"));
        await waitForPort(443);

        // Two infra VMs, each with its registry, chart repository, files area and sshd.
        infras = [];
        for (let i = 0; i < 2; i += 1) {
            const infra = await LoopbackInfra.prepare();
            await infra.start();
            await infra.startSsh();
            infras.push(infra);
        }
        const first = infras[0] as LoopbackInfra;
        const targets: BundleTargets = {
            registryHost: "registry.erp.uno",
            chartsUrl: "https://charts.erp.uno",
            filesHost: "files.erp.uno",
            hosts: infras.map((infra, i) => ({
                name: `infra${i + 1}`,
                address: "127.0.0.1",
                sshPort: infra.ports.ssh,
                user: "root",
                hostKey: fs.readFileSync(path.join(infra.work, "ssh", "host_key.pub"), "utf8"),
                registry: `127.0.0.1:${infra.ports.upstream}`,
                chartsRoot: infra.chartsRoot,
                filesRoot: path.join(infra.work, "files"),
            })),
        };
        // Both loopback VMs' keys: the test's sshd instances let root in with their own key; one key for both, as the program has.
        fs.copyFileSync(`${first.sshKey}.pub`, path.join((infras[1] as LoopbackInfra).work, "ssh", "authorized_keys"));
        outputs = path.join(work, "outputs.json");
        fs.writeFileSync(outputs, JSON.stringify({ bundleTargets: targets, sshPrivateKey: fs.readFileSync(first.sshKey, "utf8"), caCertificate: "not read" }), { mode: 0o600 });
        fs.mkdirSync(mirrorRoot());

        hostsFile = path.join(work, "hosts");
        fs.writeFileSync(hostsFile, `127.0.0.1 localhost ${FILE_HOSTS.join(" ")} ${registryHosts.join(" ")} registry.erp.uno charts.erp.uno files.erp.uno\n`);
        caBundle = path.join(work, "ca-bundle.crt");
        fs.writeFileSync(caBundle, [upstreamCa.caCert, first.ca.caCert, (infras[1] as LoopbackInfra).ca.caCert].map((file) => fs.readFileSync(file, "utf8")).join(""));
        fs.chmodSync(caBundle, 0o644);
    });

    after(async () => {
        await processes.stopAll();
        for (const infra of infras ?? []) await infra.stop();
        if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
    });

    let manifest: Manifest;

    it("fills the bundle with every item of production's list, each checked against what vouches for it", () => {
        const result = fill();
        assert.deepEqual(result.failed, []);
        manifest = readManifest(bundle());
        assert.deepEqual(missingFromBundle(list, manifest), []);
        const by = (destination: string) => manifest.items.find((item) => item.destination === destination);
        const osImage = list.find((item) => item.destination.endsWith("noble-server-cloudimg-amd64.img")) as BundleItem;
        assert.equal(by(osImage.destination)?.verified, "the stack's pin, https://cloud-images.ubuntu.com/noble/20260726/SHA256SUMS");
        assert.match(by("https://files.erp.uno/dl.k8s.io/release/v1.32.5/bin/linux/amd64/kubeadm")?.verified ?? "", /kubeadm\.sha256$/);
        assert.equal(by(list.find((i) => i.kind === "chart")?.destination as string)?.verified, "https://argoproj.github.io/argo-helm/index.yaml");
        // The dependency comes too, under its own name, on its own page of the index.
        const wheels = manifest.items.filter((item) => item.kind === "python").map((item) => `${item.source} ${path.basename(item.path)}`);
        assert.deepEqual(wheels.map((w) => w.split(" ")[0]).sort(), ["ansible-core==2.16.14", "ansible==9.13.0", "jmespath==1.0.1", "resolvelib==1.0.1"]);
        // An image is one platform's, in an OCI layout, by the digest its source registry gave.
        const images = manifest.items.filter((item) => item.kind === "image");
        assert.equal(images.length, list.filter((item) => item.kind === "image").length);
        assert.ok(result.lines.some((line) => /^\[\d+\/\d+ \+\d+:\d\d:\d\d\] fetched +image/.test(line)), result.lines.join("\n"));
    });

    it("fetches nothing the second time", () => {
        const result = fill();
        assert.equal(result.fetched, 0, result.lines.join("\n"));
        assert.deepEqual(readManifest(bundle()), manifest);
    });

    it("resumes a stopped download where it stopped, with a range request, and checks the whole file", () => {
        const item = manifest.items.find((i) => i.destination.endsWith("/nerdctl-2.0.4-linux-amd64.tar.gz")) as Manifest["items"][number];
        const whole = fs.readFileSync(path.join(bundle(), item.path));
        fs.rmSync(path.join(bundle(), item.path));
        fs.writeFileSync(`${path.join(bundle(), item.path)}.part`, whole.subarray(0, Math.floor(whole.length / 2)));
        const result = fill();
        assert.equal(result.fetched, 1, result.lines.join("\n"));
        assert.deepEqual(readManifest(bundle()), manifest);
        const requests = fs.readFileSync(path.join(work, "public-access.log"), "utf8").split("\n").filter((line) => line.includes("/nerdctl-2.0.4-linux-amd64.tar.gz"));
        assert.match(requests.at(-1) ?? "", /" 206 /, requests.join("\n"));
    });

    it("refuses a bundle with a damaged item before loading anything, naming the item", () => {
        const image = manifest.items.find((item) => item.kind === "image") as Manifest["items"][number];
        const layers = (JSON.parse(fs.readFileSync(path.join(bundle(), image.path, "blobs", "sha256", image.sha256), "utf8")) as { layers: { digest: string }[] }).layers;
        const blob = path.join(bundle(), image.path, "blobs", "sha256", (layers[0]?.digest as string).slice("sha256:".length));
        const original = fs.readFileSync(blob);
        const damaged = Buffer.from(original);
        damaged.writeUInt8((damaged.at(-1) as number) ^ 0xff, damaged.length - 1);
        fs.writeFileSync(blob, damaged);
        try {
            const { status, output } = load();
            assert.equal(status, 2, output);
            assert.match(output, new RegExp(`nothing was loaded:\\n  - damaged: ${image.path}: blob ${layers[0]?.digest} holds sha256:`));
            for (const infra of infras) {
                assert.deepEqual(catalog(infra), []);
                assert.deepEqual([...tree(path.join(infra.work, "files")).keys()], []);
            }
        } finally {
            fs.writeFileSync(blob, original);
        }
    });

    it("loads every item into both infra VMs and the datacenter mirror, which then hold exactly the manifest's items", () => {
        const { status, output } = load();
        assert.equal(status, 0, output);
        assert.match(output, /Loaded \d+, already present 0, failed 0 \(infra1, infra2\)/);
        const imageRefs = manifest.items.filter((item) => item.kind === "image").map((item) => item.destination.split("/").slice(1).join("/"));
        const chart = list.find((item) => item.kind === "chart") as BundleItem;
        const chartVersion = chart.destination.split("@")[1] as string;
        const wheels = manifest.items.filter((item) => item.kind === "python");
        for (const infra of infras) {
            assert.deepEqual(catalog(infra), [...imageRefs, `charts/argo-cd:${chartVersion}`].sort());
            const files = tree(path.join(infra.work, "files"));
            const expected = new Map<string, string>();
            for (const item of manifest.items.filter((i) => (i.kind === "file" || i.kind === "in-house") && new URL(i.destination).host === "files.erp.uno")) expected.set(new URL(item.destination).pathname.slice(1), item.sha256);
            for (const wheel of wheels) expected.set(`${new URL(wheel.destination).pathname.slice(1)}${path.basename(wheel.path)}`, wheel.sha256);
            const pages = [...files.keys()].filter((file) => file.endsWith("index.html"));
            assert.deepEqual([...files].filter(([file]) => !file.endsWith("index.html")).sort(), [...expected].sort());
            assert.deepEqual(pages.sort(), ["pypi/simple/index.html", ...["ansible", "ansible-core", "jmespath", "resolvelib"].map((p) => `pypi/simple/${p}/index.html`)].sort());
            const index = YAML.parse(fs.readFileSync(path.join(infra.chartsRoot, "index.yaml"), "utf8")) as { entries: Record<string, { version: string; digest: string; urls: string[] }[]> };
            assert.deepEqual(index.entries["argo-cd"]?.map((e) => [e.version, e.urls[0]]), [[chartVersion, `https://charts.erp.uno/argo-cd-${chartVersion}.tgz`]]);
        }
        const mirrored = [...tree(mirrorRoot())].sort();
        const toMirror = manifest.items
            .filter((item) => (item.kind === "file" || item.kind === "in-house") && new URL(item.destination).host === "10.0.0.2")
            .map((item) => [new URL(item.destination).pathname.slice(1), item.sha256]);
        assert.deepEqual(mirrored, toMirror.sort());
        // The cloud image, the Kubespray tarball, the synrc/ns release and the five provider plugins.
        assert.equal(toMirror.length, 8);
        assert.equal(toMirror.filter(([file]) => String(file).startsWith("files/pulumi-plugins/pulumi-resource-")).length, 5);
    });

    it("serves what was loaded: a node's pull account pulls an image from each VM, pip installs from the index, helm pulls the chart", () => {
        const image = manifest.items.find((item) => item.destination.includes("/calico/node:")) as Manifest["items"][number];
        const path_ = image.destination.split("/").slice(1).join("/");
        for (const infra of infras) {
            const pulled = path.join(work, `pulled-${infra.ports.registry}`);
            const ran = inContour(["skopeo", "copy", "--quiet", "--src-creds", `${PULL_USER}:${PULL_PASSWORD}`, `docker://registry.erp.uno:${infra.ports.registry}/${path_}`, `oci:${pulled}:x`]);
            assert.equal(ran.status, 0, ran.stderr);
            assert.match(fs.readFileSync(path.join(pulled, "index.json"), "utf8"), new RegExp(image.sha256));
            const anonymous = inContour(["skopeo", "inspect", "--raw", `docker://registry.erp.uno:${infra.ports.registry}/${path_}`]);
            assert.notEqual(anonymous.status, 0, "the registry served an image without an account");
        }
        const second = infras[1] as LoopbackInfra;
        const target = path.join(work, "pip-target");
        const pip = inContour(["python3", "-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir", "--quiet", "--target", target, "--index-url", `https://files.erp.uno:${second.ports.files}/pypi/simple/`, "ansible-core==2.16.14", "ansible==9.13.0", "jmespath==1.0.1"]);
        assert.equal(pip.status, 0, pip.stderr);
        assert.deepEqual(fs.readdirSync(target).filter((name) => !name.endsWith(".dist-info")).sort(), ["ansible", "ansible_core", "jmespath", "resolvelib"]);
        const chart = list.find((item) => item.kind === "chart") as BundleItem;
        // The index names https://charts.erp.uno/ (port 443, the public stand-ins' here): the package is fetched from the VM's port.
        const version = chart.destination.split("@")[1] as string;
        const pulled = path.join(work, "helm-pulled");
        fs.mkdirSync(pulled);
        const helm = inContour([helmBinary(), "pull", `https://charts.erp.uno:${second.ports.charts}/argo-cd-${version}.tgz`, "-d", pulled], { HELM_CACHE_HOME: path.join(work, "helm-cache"), HELM_CONFIG_HOME: path.join(work, "helm-config") });
        assert.equal(helm.status, 0, helm.stderr);
        assert.equal(sha256(path.join(pulled, `argo-cd-${version}.tgz`)), manifest.items.find((item) => item.kind === "chart")?.sha256);
    });

    it("uploads nothing the second time: everything is already present", () => {
        const before = infras.map((infra) => fs.statSync(path.join(infra.work, "files", "pypi", "simple", "index.html")).mtimeMs);
        const { status, output } = load();
        assert.equal(status, 0, output);
        assert.match(output, /Loaded 0, already present \d+, failed 0/);
        assert.deepEqual(infras.map((infra) => fs.statSync(path.join(infra.work, "files", "pypi", "simple", "index.html")).mtimeMs), before);
    });

    /** Everything a load can write: each infra VM's files area, chart repository and registry, and the mirror root. */
    const written = () => JSON.stringify([...infras.map((infra) => [[...tree(path.join(infra.work, "files"))], [...tree(infra.chartsRoot)], catalog(infra)]), [...tree(mirrorRoot())]]);

    it("refuses a bundle that is not exactly the stack's list, before writing anything: the committed stack's pins, an unlisted item, other content for a pinned item, a path outside the bundle, a percent-encoded destination", () => {
        const before = written();
        // The real CLI reads the committed stack file, whose pins are the real artifacts', not the stand-ins'.
        // It reads the targets and the key from standard input, as the program's bundle-load step gives them.
        const cli = inContour([process.execPath, path.join(ROOT, "scripts", "run-compiled.js"), "bundle/loadCli", STACK, bundle(), "--outputs", "-", "--mirror-root", mirrorRoot()], {}, fs.readFileSync(outputs, "utf8"));
        assert.equal(cli.status, 2, cli.stdout + cli.stderr);
        assert.match(cli.stderr, /nothing was loaded:\n(.*\n)*  - wrong content: file https:\/\/cloud-images\.ubuntu\.com\/.* the stack pins sha256:d1940f7d/);
        // The audit gives the same verdict before anyone loads (README: first deployment, step 4).
        const audit = inContour([process.execPath, path.join(ROOT, "scripts", "run-compiled.js"), "render/auditCli", STACK, "--bundle", bundle()]);
        assert.equal(audit.status, 1, audit.stdout + audit.stderr);
        assert.match(audit.stdout, /Against the bundle in .*: \d+ problem\(s\), so bundle:load refuses it\n(.*\n)*  wrong content: file https:\/\/cloud-images\.ubuntu\.com\//);
        const crafted = (name: string, change: (dir: string, items: Manifest["items"]) => void) => {
            const dir = path.join(work, `crafted-${name}`);
            fs.cpSync(bundle(), dir, { recursive: true });
            const items = structuredClone(manifest.items);
            change(dir, items);
            fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ stack: STACK, items }));
            return load({ dir });
        };
        const release = (items: Manifest["items"]) => items.find((item) => item.kind === "in-house") as Manifest["items"][number];
        const cases: [string, (dir: string, items: Manifest["items"]) => void, RegExp][] = [
            [
                "unlisted",
                (dir, items) => {
                    fs.writeFileSync(path.join(dir, "files", "extra.sh"), "echo planted\n");
                    items.push({ kind: "file", source: "https://example.com/extra.sh", destination: "https://files.erp.uno/extra.sh", path: "files/extra.sh", size: 13, sha256: sha256(path.join(dir, "files", "extra.sh")), verified: "nothing" });
                },
                /not in the stack's list: file https:\/\/example\.com\/extra\.sh -> https:\/\/files\.erp\.uno\/extra\.sh/,
            ],
            [
                "other-content",
                (dir, items) => {
                    const item = release(items);
                    fs.writeFileSync(path.join(dir, item.path), "another release\n");
                    item.sha256 = sha256(path.join(dir, item.path));
                },
                /wrong content: in-house .*erldns-3\.0\.0\.tar\.gz: the bundle has sha256:[0-9a-f]{64}, the stack pins sha256:/,
            ],
            [
                "dotdot",
                (_dir, items) => {
                    release(items).path = "../outside/erldns-3.0.0.tar.gz";
                },
                /unsafe path: \.\.\/outside\/erldns-3\.0\.0\.tar\.gz has empty, \. or \.\. segments/,
            ],
            [
                "percent-encoded",
                (dir, items) => {
                    const item = release(items);
                    items.push({ ...item, destination: "https://files.erp.uno/synrc-ns/..%2F..%2F..%2Fetc%2Fcron.d%2Fplanted" });
                    fs.writeFileSync(path.join(dir, "unused"), "");
                },
                /unsafe destination: https:\/\/files\.erp\.uno\/synrc-ns\/\.\.%2F.* has a percent-encoded \/, \\, \. or NUL in its path/,
            ],
        ];
        for (const [name, change, message] of cases) {
            const { status, output } = crafted(name, change);
            assert.equal(status, 2, `${name}: ${output}`);
            assert.match(output, /nothing was loaded/, name);
            assert.match(output, message, name);
        }
        assert.equal(written(), before, "a refused bundle wrote something");
    });

    it("fails naming a VM it cannot reach (a host key that is not the VM's), still loads the others, and lists the mirror's files without --mirror-root", () => {
        const access = JSON.parse(fs.readFileSync(outputs, "utf8")) as { bundleTargets: BundleTargets };
        const [first, second] = access.bundleTargets.hosts;
        const wrongKey = path.join(work, "outputs-wrong-key.json");
        fs.writeFileSync(wrongKey, JSON.stringify({ ...access, bundleTargets: { ...access.bundleTargets, hosts: [first, { ...second, hostKey: first?.hostKey }] } }), { mode: 0o600 });
        const { status, output } = load({ outputs: wrongKey, mirrorRoot: false });
        assert.equal(status, 1, output);
        assert.match(output, /Loaded 0, already present \d+, failed 1 \(infra1, infra2\)/);
        assert.match(output, /failed: infra2: SSH to 127\.0\.0\.1:\d+: ssh failed/);
        assert.match(output, /Not loaded: 8 file\(s\) of the datacenter mirror; give its web root with --mirror-root, or copy them there:\n  http:\/\/10\.0\.0\.2\/files\//);
    });
});
