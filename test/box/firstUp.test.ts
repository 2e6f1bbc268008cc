// The first `pulumi up` of production on a fresh contour, rehearsed on boxes: two stand in for the
// infra VMs and six for the Kubernetes nodes, each booted with its own rendered first boot. Every
// command resource of the stack runs in the order the engine may run it (taken from the
// mock-engine run with the secrets' values): on its VM over SSH, or on the operator's machine in a
// network and mount namespace of its own (bundle-load, chart publishing). The bundle is a small one
// the test makes for the stack's whole list; Kubespray is the runner test's stand-in release, so
// the runner goes through its first playbook (cluster.yml) against the node boxes, and stops where
// only Kubernetes could go on (kubeconfig, the ArgoCD wait).
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { phaseOf } from "../../render/bringUp";
import type { RecordedResource, StackRun } from "../../render/engine";
import { helmBinary } from "../../render/helm";
import { ROOT } from "../../render/stackConfig";
import { buildRelease, type BuiltRelease } from "../../dns/release/recipe";
import { readManifest } from "../../bundle/manifest";
import { dependsOn, find, runStackFile, stackDocument } from "../helpers";
import { makeCa, run, type TestCa } from "../tools/support";
import { KUBE_DIR, KUBESPRAY_FOLDER, packKubespray, PLAYBOOK_LOG, standInKubespray, standInWheel } from "../standins";
import { ensureRoot, type BoxImage } from "./box";
import { smallBundle } from "./contourBundle";
import { answerLines, digCommand, zoneQueries } from "../dnsAnswers";
import { commandsFor, configureContainerd, dnsRelays, Lan, nsProcess, programOrder, runAsOperator, runVmCommand, serveDatacenterMirror, startVm, type InfraVmBox, type ProgramStep, type VmCommand } from "./provision";

const STACK = "production";
const DOMAIN = "erp.uno";
const SERVICE_NAMES = ["registry", "charts", "files"].map((name) => `${name}.${DOMAIN}`);
/**
 * The runner needs tarfile's data filter (Python 3.12 on Ubuntu 24.04); Debian 12's 3.11.2 has none,
 * so this machine's CPython 3.12 (the same glibc as the box) stands in, read-only.
 */
const PYTHON_312 = "/root/.pyenv/versions/3.12.1";
/** The node whose view of the contour is checked, and an image of the bundle it pulls (Kubespray's list). */
const NODE = "k8s-worker1";
const NODE_IMAGE = "docker.io/library/nginx:1.27.4";
const DNS_RELAY = path.join(__dirname, "files", "dns_relay.py");
/** What needs a Kubernetes API server, which no box runs. */
const AFTER_KUBERNETES = ["kubeconfig", "erp-uno-synced"];

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

describe("the first pulumi up of production, rehearsed on boxes in the program's own order", function () {
    this.timeout(30 * 60_000);
    let work: string;
    let image: BoxImage;
    let ca: TestCa;
    let release: BuiltRelease;
    let document: Record<string, any>;
    let stackFile: string;
    let bundleDir: string;
    let production: StackRun;
    let steps: ProgramStep[];
    const vms = new Map<string, InfraVmBox>();
    let lan: Lan | undefined;
    /** What each step did, in order, for the report. */
    const report: string[] = [];
    /** The steps in the order they ran: what the engine has recorded as created (the state). */
    const ran: RecordedResource[] = [];
    const created = (name: string) => ran.some((step) => step.name === name);

    const vmAt = (address: string) => [...vms.values()].find((vm) => vm.address === address);
    const infraVms = () => [...vms.values()].filter((vm) => /^infra\d+$/.test(vm.name));

    /** One step as the engine runs it; a failure throws with its output. */
    const runStep = async (step: ProgramStep, stack: StackRun): Promise<string> => {
        const started = Date.now();
        let output: string;
        if (step.type === "command:remote:Command") {
            const vm = vmAt(step.host as string);
            if (vm === undefined) throw new Error(`${step.name} runs on ${step.host}, which has no box`);
            const command = commandsFor(stack.resources, vm.address).find((c) => c.name === step.name);
            if (command === undefined) throw new Error(`${step.name} is not a command of ${vm.name}`);
            const result = await runVmCommand(vm, command, ca);
            output = result.stdout + result.stderr;
            assert.equal(result.code, 0, `${step.name} failed (exit ${result.code}):\n${output}`);
        } else {
            const inputs = find(stack.resources, step.name).revealedInputs as { create: string; stdin?: string; environment?: Record<string, string> };
            const result = await runAsOperator(
                infraVms().map((vm) => ({ box: vm.box, sshAddress: vm.address })),
                image.socat,
                inputs.create,
                {
                    env: { ...(inputs.environment ?? {}), PATH: `${path.dirname(helmBinary())}:${process.env.PATH ?? ""}` },
                    names: SERVICE_NAMES,
                    cwd: ROOT,
                    ...(inputs.stdin === undefined ? {} : { stdin: inputs.stdin }),
                    // The stack file as the operator has it: with the bundle named and the stand-ins pinned.
                    binds: { [path.join(ROOT, `Pulumi.${STACK}.yaml`)]: stackFile },
                },
            );
            output = result.output;
            assert.equal(result.code, 0, `${step.name} failed (exit ${result.code}):\n${output}`);
        }
        ran.push(step.resource);
        report.push(`${step.name.padEnd(20)} ${step.host ?? "operator"}  ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return output;
    };

    before(async () => {
        assert.ok(fs.existsSync(path.join(PYTHON_312, "bin", "python3.12")), `${PYTHON_312} is missing: the runner needs Python 3.12 (the machine's pyenv)`);
        work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-first-up-"));
        fs.chmodSync(work, 0o755);
        image = await ensureRoot({ log: (line) => console.log(`      root: ${line}`) });
        release = buildRelease(ROOT);

        // The stand-ins the stack pins, and the bundle of its whole list.
        const kubespray = standInKubespray(path.join(work, "kubespray"), "jmespath==1.0.1\n");
        const tarball = path.join(work, `${KUBESPRAY_FOLDER}.tar.gz`);
        packKubespray(kubespray, tarball);
        const cloudImage = path.join(work, "noble-server-cloudimg-amd64.img");
        fs.writeFileSync(cloudImage, "stand-in cloud image\n");
        document = stackDocument(STACK);
        document["erpdc:image"].checksum = sha256(cloudImage);
        document["erpdc:kubernetes"].kubespraySource.sha256 = sha256(tarball);
        const wheels = path.join(work, "wheels");
        bundleDir = path.join(work, "bundle");
        await smallBundle(bundleDir, {
            stack: STACK,
            document,
            kubesprayRelease: kubespray,
            kubesprayTarball: tarball,
            files: { [document["erpdc:image"].url]: cloudImage, [document["erpdc:dns"].nsArtifact.url]: release.tarball },
            wheels: [standInWheel(work, wheels, "ansible-core", "2.16.14", { ansiblePlaybook: true }), standInWheel(work, wheels, "jmespath", "1.0.1")],
            work,
        });
        document["erpdc:bundle"] = { dir: bundleDir };
        stackFile = path.join(work, `Pulumi.${STACK}.yaml`);
        fs.writeFileSync(stackFile, YAML.stringify({ config: document }));
        production = await runStackFile(STACK, { revealSecrets: true, edit: (d) => Object.assign(d, structuredClone(document)) });
        steps = programOrder(production.resources);

        // Every VM of the inventory, booted at once.
        const inventory = production.outputs.inventory?.value as { name: string; address: string; role: string }[];
        ca = makeCa(work, [...SERVICE_NAMES, ...inventory.map((vm) => `${vm.name}.${DOMAIN}`)]);
        const booted = await Promise.allSettled(
            inventory.map((vm) =>
                startVm(production, vm.name, {
                    image,
                    ca,
                    work,
                    ...(/^infra\d+$/.test(vm.name) ? { expose: [443], readOnlyBinds: { [PYTHON_312]: PYTHON_312 } } : { expose: [] }),
                }),
            ),
        );
        for (const result of booted) if (result.status === "fulfilled") vms.set(result.value.name, result.value);
        for (const result of booted) if (result.status === "rejected") throw result.reason;
        const first = vms.get("infra1") as InfraVmBox;
        console.log(`      boxes: ${[...vms.keys()].join(", ")}`);
        console.log("      adapted for Debian 12 containers (everything else is each VM's rendered user-data):");
        for (const { key, why } of first.adaptations) console.log(`        - ${key}: ${why}`);

        // The datacenter mirror as the operator filled it from the bundle (files/<its host>/), on each
        // infra VM's network; the infra VMs' resolvers as their network-config gives them.
        const mirror = new URL(document["erpdc:dns"].nsArtifact.url);
        const mirrorFiles: Record<string, string> = {};
        for (const item of readManifest(bundleDir).items.filter((i) => (i.kind === "file" || i.kind === "in-house") && new URL(i.destination).host === mirror.host)) {
            mirrorFiles[decodeURIComponent(new URL(item.destination).pathname)] = path.join(bundleDir, item.path);
        }
        const networkOf = async (vm: string) =>
            Object.values(YAML.parse((await production.artifacts.collect()).get(`cloud-init/${vm}/network-config`) as string).network.ethernets as Record<string, { nameservers: { addresses: string[]; search: string[] } }>)[0];
        for (const vm of infraVms()) {
            await serveDatacenterMirror(vm, mirror.href, mirrorFiles);
            const { nameservers } = (await networkOf(vm.name)) ?? { nameservers: { addresses: [], search: [] } };
            vm.box.writeFile("/etc/resolv.conf", `${nameservers.addresses.map((address) => `nameserver ${address}`).join("\n")}\nsearch ${nameservers.search.join(" ")}\n`);
            // The box's Python for the VM's python3, which the runner and the loader's checks run.
            await vm.box.exec(`ln -sfn ${PYTHON_312}/bin/python3.12 /usr/local/bin/python3 && chmod o+x /root`);
        }
        console.log(`        - /etc/resolv.conf: the nameservers of the VM's network-config (netplan and systemd-resolved on Ubuntu 24.04)`);
        console.log(`        - python3: ${PYTHON_312} (Debian 12's 3.11.2 has no tarfile data filter, which the runner requires; Ubuntu 24.04 has 3.12)`);

        // The LAN as the runner's VM sees it: each node's SSH at the node's address, the other infra
        // VM's HTTPS and SSH at its own (the Python index resolves to both).
        const runner = vmAt(steps.find((step) => step.name === "kubespray")?.host as string) as InfraVmBox;
        lan = Lan.create();
        await lan.attach(runner, document["erpdc:network"].cidr);
        for (const vm of vms.values()) {
            if (vm === runner) continue;
            await lan.serve(vm.address, 22, vm.box.relaySocket(22), image.socat, `${vm.name}'s SSH`);
            if (infraVms().includes(vm)) await lan.serve(vm.address, 443, vm.box.relaySocket(443), image.socat, `${vm.name}'s HTTPS`);
        }
    });

    after(async () => {
        console.log("      the steps, as they ran:");
        for (const line of report) console.log(`        ${line}`);
        lan?.stop();
        const stopped = await Promise.all([...vms.values()].map((vm) => vm.box.stop()));
        if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
        const leftovers = stopped.flatMap((r) => r.leftovers);
        assert.deepEqual(leftovers, [], `leftovers: ${leftovers.join(", ")}`);
    });

    it("orders the steps as the engine does: the infra VMs' services, then bundle-load, then what needs the bundle", () => {
        const at = (name: string) => steps.findIndex((step) => step.name === name);
        const names = steps.map((step) => step.name);
        for (const needed of ["bundle-load", "publish-erp-uno", "kubespray", ...AFTER_KUBERNETES]) assert.ok(names.includes(needed), `${needed} is not a step`);
        for (const vm of ["infra1", "infra2"]) for (const service of ["registry", "nginx"]) assert.ok(at(`${vm}-${service}`) < at("bundle-load"), `${vm}-${service} after bundle-load`);
        for (const consumer of ["publish-erp-uno", "kubespray"]) assert.ok(at("bundle-load") < at(consumer), `${consumer} before bundle-load`);
        console.log(`      order: ${names.join(" -> ")}`);
    });

    it("runs the infra VMs' steps (first boot, CA, synrc/ns and the zone, registry, nginx), and is interrupted there", async () => {
        // The first pass stops once the infra VMs are provisioned: nothing of the bundle yet.
        const infraSteps = steps.filter((step) => phaseOf(step.resource)?.id === "infra");
        assert.ok(infraSteps.every((step) => !dependsOn(production.resources, step.name, "bundle-load")));
        for (const step of infraSteps) await runStep(step, production);
        for (const vm of infraVms()) assert.match((await vm.box.exec("systemctl is-active docker-registry nginx synrc-ns")).stdout, /^active\nactive\nactive\n$/);
        report.push("-- interrupted --");
    });

    it("runs again and finishes: a fresh plan keeps what was created and runs only the rest, bundle-load first, then publishing, the nodes, Kubespray", async () => {
        // The engine compares each recorded resource's inputs with the new plan's: same inputs, no step.
        const again = await runStackFile(STACK, { revealSecrets: true, edit: (d) => Object.assign(d, structuredClone(document)) });
        const changed = programOrder(again.resources).filter((step) => created(step.name) && JSON.stringify(find(production.resources, step.name).revealedInputs) !== JSON.stringify(step.resource.revealedInputs));
        assert.deepEqual(changed.map((step) => step.name), [], "the re-run would run steps that had finished");
        const rest = programOrder(again.resources).filter((step) => !created(step.name) && !AFTER_KUBERNETES.includes(step.name));
        assert.equal(rest[0]?.name, "bundle-load");
        assert.deepEqual(rest.filter((step) => !step.name.startsWith("k8s-")).map((step) => step.name), ["bundle-load", "publish-erp-uno", "kubespray"]);
        for (const step of rest) {
            if (step.name === "kubespray") {
                // The stand-in ansible-core runs Debian's Ansible on the runner's VM.
                await vmAt(step.host as string)?.box.exec("apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ansible-core </dev/null >/dev/null", { timeoutMs: 8 * 60_000 });
            }
            const output = await runStep(step, again);
            if (step.name === "bundle-load") {
                assert.match(output, /Loaded \d+, already present 0, failed 0 \(infra1, infra2\)/);
                console.log(`      bundle-load: ${output.split("\n").find((line) => line.startsWith("Loaded"))}`);
            }
            if (step.name === "kubespray") {
                assert.match(output, /^erpdc: \+\d+:\d\d:\d\d running .*cluster\.yml/m);
                assert.match(output, /^\+\d+:\d\d:\d\d TASK \[reach the host\]/m);
                assert.match(output, /^erpdc: \+\d+:\d\d:\d\d applied cluster\.yml/m);
            }
        }
        for (const name of AFTER_KUBERNETES) report.push(`${name.padEnd(20)} not run: it needs the Kubernetes API, which the stand-in Kubespray does not bring up`);
        // The README's guide is this order: its phases after Proxmox (which no box has) are the
        // phases of the steps as they ran, then the ones that need Kubernetes.
        const phases = [...ran, ...AFTER_KUBERNETES.map((name) => find(again.resources, name))].map((step) => phaseOf(step)?.title);
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const guide = [...readme.matchAll(/^\| 6\.\d+ \| (.+?) \|/gm)].map((match) => match[1]);
        assert.deepEqual([...new Set(phases)], guide.slice(1), "the README's first deployment is not the order the rehearsal ran");
        // cluster.yml ran once, against every node, which now holds what a join leaves; the
        // control-plane nodes hold the runner's record of what was applied.
        const runner = vms.get("infra1") as InfraVmBox;
        assert.deepEqual((await runner.box.exec(`cat ${PLAYBOOK_LOG}`)).stdout.trim().split("\n").map((line) => line.split(" ")[0]), ["cluster.yml"]);
        for (const vm of vms.values()) {
            if (infraVms().includes(vm)) continue;
            assert.equal((await vm.box.exec(`test -f ${KUBE_DIR}/kubelet.conf && echo joined`, { allowFailure: true })).stdout.trim(), "joined", `${vm.name} was not joined`);
            const record = await vm.box.exec("cat /etc/erpdc/kubespray-applied.json", { allowFailure: true });
            if (vm.name.startsWith("k8s-control")) assert.equal(JSON.parse(record.stdout).manifest.kubeVersion, document["erpdc:kubernetes"].kubeVersion, `${vm.name} has no record`);
        }
    });

    it("serves the bundle from both infra VMs: the images, the chart, the Python index", async () => {
        const manifest = readManifest(bundleDir);
        const pull = `erpdc-pull:${String(production.outputs.registryPullPassword?.value)}`;
        for (const vm of infraVms()) {
            const https = await vm.box.forward(443);
            const curl = (url: string, ...extra: string[]) =>
                run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca.caCert, ...SERVICE_NAMES.flatMap((name) => ["--resolve", `${name}:${https}:127.0.0.1`]), ...extra, url]).trim();
            for (const item of manifest.items.filter((i) => i.kind === "image")) {
                const [, ...repository] = item.destination.split("/");
                const [name, tag] = repository.join("/").split(/:(?=[^:]+$)/);
                assert.equal(curl(`https://registry.${DOMAIN}:${https}/v2/${name}/manifests/${tag}`, "-u", pull, "-H", "Accept: application/vnd.oci.image.manifest.v1+json"), "200", `${vm.name}: ${item.destination}`);
            }
            assert.equal(curl(`https://files.${DOMAIN}:${https}/pypi/simple/ansible-core/`), "200");
            const chart = manifest.items.find((i) => i.kind === "chart");
            assert.equal(curl(`https://charts.${DOMAIN}:${https}/${path.basename(chart?.path as string)}`), "200");
        }
    });

    it("changes nothing on a second pulumi up: the plan has every step's inputs as they ran, and running the loaded steps again loads and applies nothing", async () => {
        const second = await runStackFile(STACK, { revealSecrets: true, edit: (d) => Object.assign(d, structuredClone(document)) });
        const differ = programOrder(second.resources).filter((step) => JSON.stringify(find(production.resources, step.name).revealedInputs) !== JSON.stringify(step.resource.revealedInputs));
        assert.deepEqual(differ.map((step) => step.name), [], "a second pulumi up would run these steps again");
        // Were they run anyway (a replaced resource, a refresh), nothing would change.
        const load = await runStep(steps.find((step) => step.name === "bundle-load") as ProgramStep, second);
        assert.match(load, /Loaded 0, already present \d+, failed 0 \(infra1, infra2\)/);
        const kubespray = await runStep(steps.find((step) => step.name === "kubespray") as ProgramStep, second);
        assert.match(kubespray, /the cluster already matches; no playbook to run/);
        assert.equal((await (vms.get("infra1") as InfraVmBox).box.exec(`wc -l < ${PLAYBOOK_LOG}`)).stdout.trim(), "1");
    });

    // From here on the contour as its nodes use it: k8s-worker1 with the resolvers, address and
    // containerd configuration the program renders for it, reaching each infra VM at its own address.
    let node: InfraVmBox;
    let nodeAuth: { registry: string; username: string; password: string };
    let chartVersion: string;
    const zoneOf = (stack: StackRun, vm: string) =>
        (JSON.parse(String(find(stack.resources, `${vm}-zone`).revealedInputs?.stdin)) as { files: { content: string }[] }).files[0]?.content as string;
    /** Runs the DNS commands of both infra VMs in the program's order: each VM's install, then its zone, one VM after the other. */
    const runDnsCommands = async (stack: StackRun, only?: (command: VmCommand) => boolean) => {
        const order = infraVms().flatMap((vm) => [`${vm.name}-synrc-ns`, `${vm.name}-zone`]);
        for (let i = 1; i < order.length; i++) assert.ok(dependsOn(stack.resources, order[i] as string, order[i - 1] as string), `${order[i]} does not wait for ${order[i - 1]}`);
        for (const vm of infraVms()) {
            for (const command of commandsFor(stack.resources, vm.address).filter((c) => /-(synrc-ns|zone)$/.test(c.name)).filter(only ?? (() => true))) {
                const result = await runVmCommand(vm, command, ca);
                assert.equal(result.code, 0, `${command.name} failed:\n${result.stdout}${result.stderr}`);
            }
        }
    };

    it("gives a node the rendered resolvers, Kubespray's containerd registry configuration, and the infra VMs' addresses on its network", async () => {
        node = vms.get(NODE) as InfraVmBox;
        // The other nodes have done their part (Kubespray ran on them): stopped, so that the 2 cores
        // this tier has go to the infra VMs and the node whose view is checked.
        for (const vm of [...vms.values()].filter((v) => v.name.startsWith("k8s-") && v !== node)) {
            const stopped = await vm.box.stop();
            assert.equal(stopped.clean, true, `${vm.name}: ${stopped.leftovers.join(", ")}`);
        }
        chartVersion = (find(production.resources, "publish-erp-uno").revealedInputs?.environment as Record<string, string>).CHART_VERSION as string;
        await node.box.exec("apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends containerd systemd-resolved bind9-dnsutils </dev/null >/dev/null", { timeoutMs: 5 * 60_000 });
        // The node's resolvers as its rendered network-config gives them to netplan, which hands them
        // to systemd-resolved on Ubuntu 24.04; /etc/resolv.conf is resolved's stub, as there.
        const network = YAML.parse((await production.artifacts.collect()).get(`cloud-init/${NODE}/network-config`) as string);
        const [lan] = Object.values(network.network.ethernets as Record<string, { addresses: string[]; routes: { to: string; via: string }[]; nameservers: { addresses: string[]; search: string[] } }>);
        assert.deepEqual(lan?.nameservers.addresses, infraVms().map((vm) => vm.address));
        node.box.writeFile("/etc/systemd/resolved.conf.d/erpdc.conf", `[Resolve]\nDNS=${lan?.nameservers.addresses.join(" ")}\nDomains=${lan?.nameservers.search.join(" ")}\n`);
        await node.box.exec("ln -sfn /run/systemd/resolve/stub-resolv.conf /etc/resolv.conf && systemctl restart systemd-resolved");
        // The contour CA is in its trust store already: the node's own CA command put it there.
        assert.match((await node.box.exec("openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt", { stdin: fs.readFileSync(ca.serverCert, "utf8") })).stdout, /: OK$/m);
        nodeAuth = configureContainerd(node.box, find(production.resources, "kubespray"));
        await node.box.exec("systemctl restart containerd");
        node.box.writeFile("/usr/local/bin/helm", fs.readFileSync(helmBinary()), 0o755);
        // The node's own interface with the address and route its network-config gives: systemd-resolved
        // answers "Network is down" while no link but loopback is up. It is one end of a veth pair
        // whose other end stays in the node's namespace too (this kernel has no dummy links), so
        // nothing leaves the box. Then each infra VM's address on the node's network, leading to
        // that VM's box: HTTPS (registry, charts, files) and DNS over UDP and TCP, the way the
        // node's containerd, helm and resolver reach them.
        await node.box.exec(
            "ip link add lan0 type veth peer name lan0-end && ip link set lan0-end up && " +
                `ip addr add ${lan?.addresses[0]} dev lan0 && ip link set lan0 up && ip route add default via ${lan?.routes[0]?.via}`,
        );
        for (const vm of infraVms()) {
            await node.box.exec(`ip addr add ${vm.address}/32 dev lo`);
            await node.box.runInNetwork(image.socat, ["-d", "-d", `TCP-LISTEN:443,bind=${vm.address},fork,reuseaddr`, `UNIX-CONNECT:${vm.box.relaySocket(443)}`], `${vm.name}'s HTTPS`, { address: vm.address, port: 443, protocol: "tcp" });
            const dns = await dnsRelays(vm, image.socat);
            await node.box.runInNetwork("python3", ["-u", DNS_RELAY, "udp-to-stream", vm.address, "53", dns.udp], `${vm.name}'s DNS over UDP`, { address: vm.address, port: 53, protocol: "udp" });
            await node.box.runInNetwork(image.socat, ["-d", "-d", `TCP-LISTEN:53,bind=${vm.address},fork,reuseaddr`, `UNIX-CONNECT:${dns.tcp}`], `${vm.name}'s DNS over TCP`, { address: vm.address, port: 53, protocol: "tcp" });
        }
    });

    it("answers every record of the zone from each infra VM, dug from the node over UDP and TCP", async () => {
        const wrong: string[] = [];
        let asked = 0;
        for (const vm of infraVms()) {
            for (const query of zoneQueries(zoneOf(production, vm.name))) {
                for (const transport of ["udp", "tcp"] as const) {
                    asked++;
                    const answer = answerLines((await node.box.exec(digCommand(vm.address, query, transport), { allowFailure: true })).stdout);
                    if (JSON.stringify(answer) !== JSON.stringify(query.expected)) wrong.push(`${vm.name}: ${query.name} ${query.type}/${transport}: ${JSON.stringify(answer)}`);
                }
            }
        }
        assert.deepEqual(wrong, []);
        assert.ok(asked >= 80, `${asked} queries`);
    });

    it("takes a changed zone to both servers one after the other, with one of them answering all along; a second run restarts nothing", async () => {
        const edited = await runStackFile(STACK, {
            revealSecrets: true,
            edit: (d) => {
                Object.assign(d, structuredClone(document));
                d["erpdc:dns"].extraRecords = [{ name: "probe", type: "A", data: { ip: "10.0.0.77" } }];
            },
        });
        const serial = (zone: string) => String((JSON.parse(zone) as { records: { type: string; data: { serial: number } }[] }[])[0]?.records[0]?.data.serial);
        const [before, after] = [serial(zoneOf(production, "infra1")), serial(zoneOf(edited, "infra1"))];
        assert.notEqual(before, after);
        // The node asks both servers for the SOA, round after round, while the zone commands run.
        const [a, b] = infraVms().map((vm) => vm.address);
        // A serial, or nothing when the server does not answer (dig prints its errors on stdout too).
        // Each query gets 3 s and one retry: a round checks that some server answers, not how fast; a server that is
        // restarting stays silent far longer.
        const soa = (address: string | undefined) => `$(dig +short +norecurse +time=3 +tries=2 @${address} ${DOMAIN} SOA | awk '/^[^;]/ && $3 ~ /^[0-9]+$/ { print $3 }')`;
        // The poller finishes its round and stops when told (a stop file), so that no round is cut short.
        node.box.writeFile("/root/soa-poll.sh", `while [ ! -e /root/soa.stop ]; do echo "${soa(a)} ${soa(b)}" >> /root/soa.log; sleep 0.2; done\n`);
        await node.box.exec("rm -f /root/soa.log /root/soa.stop && systemd-run --unit erpdc-soa-poll /bin/sh /root/soa-poll.sh && sleep 1");
        const unchanged = new Map(await Promise.all(infraVms().map(async (vm) => [vm.name, await nsProcess(vm.box)] as const)));
        try {
            await runDnsCommands(edited, (command) => command.name.endsWith("-zone"));
        } finally {
            await node.box.exec("sleep 1; touch /root/soa.stop; while systemctl is-active --quiet erpdc-soa-poll; do sleep 0.2; done", { timeoutMs: 60_000 });
        }
        const rounds = (await node.box.exec("cat /root/soa.log")).stdout.split("\n").filter((line) => line !== "").map((line) => line.split(" "));
        assert.ok(rounds.length >= 5, `${rounds.length} rounds`);
        const silent = rounds.filter(([first, second]) => !first && !second);
        assert.deepEqual(silent, [], "a round in which neither server answered");
        // Both serve the new zone now (asked with time to spare, not in a round).
        for (const vm of infraVms()) assert.equal((await node.box.exec(`dig +short +norecurse +time=3 +tries=3 @${vm.address} ${DOMAIN} SOA | awk '{print $3}'`)).stdout.trim(), after);
        // Each server was restarted for its new zone, infra1 first and infra2 after it (their start
        // times on the one monotonic clock the boxes share with the host).
        const started = async (vm: InfraVmBox) => Number(/ExecMainStartTimestampMonotonic=(\d+)/.exec(await nsProcess(vm.box))?.[1]);
        const [first, second] = infraVms() as [InfraVmBox, InfraVmBox];
        assert.ok((await started(first)) < (await started(second)), "infra2 restarted before infra1");
        assert.ok(rounds.some(([one]) => one === before) && rounds.some(([, two]) => two === before), `the rounds never saw the old zone: ${JSON.stringify(rounds)}`);
        for (const vm of infraVms()) {
            assert.notEqual(await nsProcess(vm.box), unchanged.get(vm.name), `${vm.name} did not restart for its new zone`);
            assert.equal((await node.box.exec(`dig +short @${vm.address} probe.${DOMAIN} A`)).stdout.trim(), "10.0.0.77");
        }
        // The same commands again: nothing changed, so no server restarts.
        const running = new Map(await Promise.all(infraVms().map(async (vm) => [vm.name, await nsProcess(vm.box)] as const)));
        await runDnsCommands(edited);
        for (const vm of infraVms()) assert.equal(await nsProcess(vm.box), running.get(vm.name), `${vm.name} restarted though nothing changed`);
    });

    /**
     * An infra VM gone from the node's network: its address is no longer the box's, so the node asks
     * for it on lan0 by ARP and gets no answer, as from a stopped VM on the real LAN. Linux then
     * gives up after its probes (neigh mcast_solicit 3, retrans_time 1 s: ip-sysctl.rst) with "No
     * route to host" for TCP, and UDP queries go unanswered until the resolver's timeout.
     */
    const cut = async (name: string) => node.box.exec(`ip addr del ${(vms.get(name) as InfraVmBox).address}/32 dev lo`);
    const restore = async (name: string) => node.box.exec(`ip addr add ${(vms.get(name) as InfraVmBox).address}/32 dev lo && ip neigh flush dev lan0`);

    /** What the node gets now: each service name's addresses, a pull of an image the bundle loaded, the chart ArgoCD fetches. */
    const nodeServes = async () => {
        await node.box.exec("resolvectl flush-caches");
        const lookups: Record<string, string[]> = {};
        for (const name of SERVICE_NAMES) {
            const answer = await node.box.exec(`resolvectl query --legend=no -4 ${name}`, { allowFailure: true, timeoutMs: 60_000 });
            lookups[name] = answer.code === 0 ? [...answer.stdout.matchAll(/(\d+\.\d+\.\d+\.\d+)/g)].map((match) => match[1] as string).sort() : [];
        }
        await node.box.exec(`ctr -n k8s.io images rm --sync ${NODE_IMAGE}`, { allowFailure: true });
        const pulled = await node.box.exec(`ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d --user '${nodeAuth.username}:${nodeAuth.password}' ${NODE_IMAGE}`, { allowFailure: true, timeoutMs: 180_000 });
        const chart = await node.box.exec(
            `rm -rf /tmp/chart && mkdir /tmp/chart && HOME=/root helm pull erp-uno --repo https://charts.${DOMAIN} --version ${chartVersion} -d /tmp/chart && ls /tmp/chart`,
            { allowFailure: true, timeoutMs: 180_000 },
        );
        return { lookups, pull: pulled.code === 0 ? "pulled" : `failed: ${(pulled.stdout + pulled.stderr).trim().split("\n").pop()}`, chart: chart.code === 0 ? chart.stdout.trim() : `failed: ${chart.stderr.trim().split("\n").pop()}` };
    };
    const everything = () => ({
        lookups: Object.fromEntries(SERVICE_NAMES.map((name) => [name, infraVms().map((vm) => vm.address).sort()])),
        pull: "pulled",
        chart: `erp-uno-${chartVersion}.tgz`,
    });

    it("serves the node from both infra VMs: each service name resolves to both, an image of the bundle pulls, the chart comes", async () => {
        assert.deepEqual(await nodeServes(), everything());
        // The image is the bundle's: containerd holds the manifest digest the bundle's manifest names.
        const held = readManifest(bundleDir).items.find((item) => item.kind === "image" && item.destination === `registry.${DOMAIN}/library/nginx:1.27.4`);
        const listed = (await node.box.exec(`ctr -n k8s.io images ls name==${NODE_IMAGE}`)).stdout;
        assert.ok(held !== undefined && listed.includes(`sha256:${held.sha256}`), `${listed} (the bundle's: ${held?.sha256})`);
    });

    it("with infra2 unreachable: everything still comes from infra1", async () => {
        await cut("infra2");
        try {
            assert.deepEqual(await nodeServes(), everything());
        } finally {
            await restore("infra2");
        }
    });

    it("with infra1's box stopped: the node resolves through infra2, pulls from it and fetches the chart from it", async () => {
        const infra1 = vms.get("infra1") as InfraVmBox;
        const stopped = await infra1.box.stop();
        assert.equal(stopped.clean, true, stopped.leftovers.join(", "));
        await cut("infra1");
        assert.deepEqual(await nodeServes(), everything());
        // infra2 answered: resolved moved to it, the only server left.
        assert.match((await node.box.exec("resolvectl status")).stdout, new RegExp(`Current DNS Server: ${(vms.get("infra2") as InfraVmBox).address.replace(/\./g, "\\.")}\\b`));
    });

    it("with neither: no name resolves, nothing pulls (the checks above can fail)", async () => {
        await cut("infra2");
        const served = await nodeServes();
        assert.deepEqual(served.lookups, Object.fromEntries(SERVICE_NAMES.map((name) => [name, []])));
        assert.match(served.pull, /^failed/);
        assert.match(served.chart, /^failed/);
    });
});
