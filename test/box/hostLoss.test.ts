// The integration tier for a host loss: two boxes stand in for production's two infra VMs, a third
// for a Kubernetes node. Each infra box is provisioned by the program's own first boot and command
// resources; the node gets the resolvers and containerd registry configuration the program renders
// for k8s-worker1, and reaches the infra VMs at their own addresses on its network (relayed to
// their boxes). With either infra VM gone, the node still resolves the contour's names, pulls an
// image with its credentials and fetches the chart ArgoCD deploys; with both gone it does not.
// DNS is the real synrc/ns, built by the project's recipe and installed by the program's commands.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import type { StackRun } from "../../render/engine";
import { helmBinary } from "../../render/helm";
import { ROOT } from "../../render/stackConfig";
import { buildRelease, type BuiltRelease } from "../../dns/release/recipe";
import { answerLines, digCommand, zoneQueries } from "../dnsAnswers";
import { dependsOn, find, plannedStack, runStackFile } from "../helpers";
import { makeCa, run, type TestCa } from "../tools/support";
import { Box, ensureRoot, generateKey, type BoxImage } from "./box";
import { commandsFor, configureContainerd, dnsRelays, nsProcess, probeImage, runAsOperator, runVmCommand, serveDatacenterMirror, startInfraVm, type InfraVmBox, type VmCommand } from "./provision";

const DOMAIN = "erp.uno";
const SERVICE_NAMES = ["registry", "charts", "files"].map((name) => `${name}.${DOMAIN}`);
const NODE = "k8s-worker1";
const IMAGE = "erpuno/hostloss-probe";
const TAG = "2026.11.2";
const DNS_RELAY = path.join(__dirname, "files", "dns_relay.py");

interface InfraHost {
    readonly name: string;
    readonly address: string;
}

describe("production keeps serving its nodes when one infra VM is gone", function () {
    this.timeout(20 * 60_000);
    let image: BoxImage;
    let work: string;
    let ca: TestCa;
    let production: StackRun;
    let infraHosts: InfraHost[];
    const infra: InfraVmBox[] = [];
    let node: Box;
    let nodeAuth: { registry: string; username: string; password: string };
    let chartVersion: string;
    let release: BuiltRelease;
    const zoneOf = (stack: StackRun, vm: string) =>
        (JSON.parse(String(find(stack.resources, `${vm}-zone`).revealedInputs?.stdin)) as { files: { content: string }[] }).files[0]?.content as string;
    /** Runs the DNS commands of both infra VMs in the program's order: each VM's install, then its zone, one VM after the other. */
    const runDnsCommands = async (stack: StackRun, only?: (command: VmCommand) => boolean) => {
        const order = infra.flatMap((vm) => [`${vm.name}-synrc-ns`, `${vm.name}-zone`]);
        for (let i = 1; i < order.length; i++) assert.ok(dependsOn(stack.resources, order[i] as string, order[i - 1] as string), `${order[i]} does not wait for ${order[i - 1]}`);
        for (const vm of infra) {
            for (const command of commandsFor(stack.resources, vm.address).filter((c) => /-(synrc-ns|zone)$/.test(c.name)).filter(only ?? (() => true))) {
                const result = await runVmCommand(vm, command, ca);
                assert.equal(result.code, 0, `${command.name} failed:\n${result.stdout}${result.stderr}`);
            }
        }
    };

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-host-loss-"));
        image = await ensureRoot({ log: (line) => console.log(`      root: ${line}`) });
        release = buildRelease(ROOT);
        production = await runStackFile("production", { revealSecrets: true });
        const publish = find(production.resources, "publish-erp-uno");
        infraHosts = JSON.parse((publish.revealedInputs?.environment as Record<string, string>).INFRA_HOSTS as string) as InfraHost[];
        ca = makeCa(work, [...SERVICE_NAMES, ...infraHosts.map((host) => `${host.name}.${DOMAIN}`)]);
        const booted = await Promise.allSettled(infraHosts.map((host) => startInfraVm(production, host.name, { image, ca, work, expose: [443] })));
        for (const result of booted) if (result.status === "fulfilled") infra.push(result.value);
        for (const result of booted) if (result.status === "rejected") throw result.reason;
        const nsUrl = new URL(plannedStack("production").dns.nsArtifact.url);
        for (const vm of infra) await serveDatacenterMirror(vm, nsUrl.href, { [nsUrl.pathname]: release.tarball });
        const key = generateKey(work, "id_node");
        node = await Box.start({ image, name: `erpdc-${NODE}-${process.pid}`, hostname: NODE, admin: { user: "erpadmin", publicKey: key.publicKey }, sshUser: "erpadmin", sshKey: key.privateKey });
    });

    after(async () => {
        const stopped = await Promise.all([node, ...infra.map((vm) => vm.box)].filter((box) => box !== undefined).map((box) => box.stop()));
        fs.rmSync(work, { recursive: true, force: true });
        const leftovers = stopped.flatMap((report) => report.leftovers);
        assert.deepEqual(leftovers, [], `leftovers: ${leftovers.join(", ")}`);
    });

    it("runs on two infra VMs, each provisioned by its own command resources, synrc/ns one VM after the other", async () => {
        assert.deepEqual(infraHosts.map((host) => host.name), ["infra1", "infra2"]);
        await Promise.all(
            infra.map(async (vm) => {
                await vm.box.waitForCloudInit();
                for (const command of vm.commands.filter((c) => !/-(synrc-ns|zone)$/.test(c.name))) {
                    const result = await runVmCommand(vm, command, ca);
                    assert.equal(result.code, 0, `${command.name} failed:\n${result.stdout}${result.stderr}`);
                }
            }),
        );
        await runDnsCommands(production);
        for (const vm of infra) assert.match((await vm.box.exec("systemctl is-active docker-registry nginx synrc-ns")).stdout, /^active\nactive\nactive\n$/);
    });

    it("publishes the chart to both infra VMs with the program's own command, and the image reaches both registries", async () => {
        const publish = find(production.resources, "publish-erp-uno");
        const env = publish.revealedInputs?.environment as Record<string, string>;
        chartVersion = env.CHART_VERSION as string;
        const result = await runAsOperator(
            infra.map((vm) => ({ box: vm.box, sshAddress: vm.address })),
            image.socat,
            String(publish.revealedInputs?.create),
            { env: { ...env, PATH: `${path.dirname(helmBinary())}:${process.env.PATH ?? ""}` }, names: SERVICE_NAMES, cwd: ROOT },
        );
        assert.equal(result.code, 0, result.output);
        for (const vm of infra) assert.match(result.output, new RegExp(`${vm.name}: erp-uno ${chartVersion} is in the chart repository`));

        // The image goes to each registry with the push account, as loading a bundle will (issue 18).
        const { layout, certs } = probeImage(work, ca, TAG, "erpdc host-loss probe\n");
        const push = `erpdc:${String(production.outputs.registryPassword?.value)}`;
        for (const vm of infra) {
            const https = await vm.box.forward(443);
            run("skopeo", ["copy", "--dest-cert-dir", certs, "--dest-creds", push, `oci:${layout}:${TAG}`, `docker://127.0.0.1:${https}/${IMAGE}:${TAG}`]);
        }
    });

    it("gives the node the rendered resolvers and containerd's registry configuration, and the infra VMs' addresses on its network", async () => {
        await node.exec("apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends containerd systemd-resolved bind9-dnsutils </dev/null", { timeoutMs: 5 * 60_000 });
        // The node's resolvers as its rendered network-config gives them to netplan, which hands them
        // to systemd-resolved on Ubuntu 24.04; /etc/resolv.conf is resolved's stub, as there.
        const network = YAML.parse((await production.artifacts.collect()).get(`cloud-init/${NODE}/network-config`) as string);
        const { nameservers } = Object.values(network.network.ethernets as Record<string, { nameservers: { addresses: string[]; search: string[] } }>)[0] ?? {};
        assert.deepEqual(nameservers?.addresses, infraHosts.map((host) => host.address));
        node.writeFile("/etc/systemd/resolved.conf.d/erpdc.conf", `[Resolve]\nDNS=${nameservers?.addresses.join(" ")}\nDomains=${nameservers?.search.join(" ")}\n`);
        await node.exec("ln -sfn /run/systemd/resolve/stub-resolv.conf /etc/resolv.conf && systemctl restart systemd-resolved");
        // The contour CA in the trust store, as the VMs' cloud-init (ca_certs) puts it there.
        node.writeFile("/usr/local/share/ca-certificates/erpdc-contour-ca.crt", fs.readFileSync(ca.caCert, "utf8"));
        await node.exec("update-ca-certificates >/dev/null");
        nodeAuth = configureContainerd(node, find(production.resources, "kubespray"));
        await node.exec("systemctl restart containerd");
        node.writeFile("/usr/local/bin/helm", fs.readFileSync(helmBinary()), 0o755);

        // The node's own interface with the address and route its network-config gives: systemd-resolved
        // answers "Network is down" while no link but loopback is up. It is one end of a veth pair
        // whose other end stays in the node's namespace too (this kernel has no dummy links), so
        // nothing leaves the box. Then each infra VM's address on the node's network, leading to
        // that VM's box: HTTPS (registry, charts, files) and DNS over UDP, the way the node's
        // containerd, helm and resolver reach them.
        const [lan] = Object.values(network.network.ethernets as Record<string, { addresses: string[]; routes: { to: string; via: string }[] }>);
        await node.exec(
            `ip link set lo up && ip link add lan0 type veth peer name lan0-end && ip link set lan0-end up && ` +
                `ip addr add ${lan?.addresses[0]} dev lan0 && ip link set lan0 up && ip route add default via ${lan?.routes[0]?.via}`,
        );
        for (const vm of infra) {
            await node.exec(`ip addr add ${vm.address}/32 dev lo`);
            await node.runInNetwork(image.socat, ["-d", "-d", `TCP-LISTEN:443,bind=${vm.address},fork,reuseaddr`, `UNIX-CONNECT:${vm.box.relaySocket(443)}`], `${vm.name}'s HTTPS`, { address: vm.address, port: 443, protocol: "tcp" });
            const dns = await dnsRelays(vm, image.socat);
            await node.runInNetwork("python3", ["-u", DNS_RELAY, "udp-to-stream", vm.address, "53", dns.udp], `${vm.name}'s DNS over UDP`, { address: vm.address, port: 53, protocol: "udp" });
            await node.runInNetwork(image.socat, ["-d", "-d", `TCP-LISTEN:53,bind=${vm.address},fork,reuseaddr`, `UNIX-CONNECT:${dns.tcp}`], `${vm.name}'s DNS over TCP`, { address: vm.address, port: 53, protocol: "tcp" });
        }
    });

    it("answers every record of the zone from each infra VM, dug from the node over UDP and TCP", async () => {
        const wrong: string[] = [];
        let asked = 0;
        for (const vm of infra) {
            for (const query of zoneQueries(zoneOf(production, vm.name))) {
                for (const transport of ["udp", "tcp"] as const) {
                    asked++;
                    const answer = answerLines((await node.exec(digCommand(vm.address, query, transport), { allowFailure: true })).stdout);
                    if (JSON.stringify(answer) !== JSON.stringify(query.expected)) wrong.push(`${vm.name}: ${query.name} ${query.type}/${transport}: ${JSON.stringify(answer)}`);
                }
            }
        }
        assert.deepEqual(wrong, []);
        assert.ok(asked >= 80, `${asked} queries`);
    });

    it("takes a changed zone to both servers one after the other, with one of them answering all along; a second run restarts nothing", async () => {
        const edited = await runStackFile("production", {
            revealSecrets: true,
            edit: (d) => (d["erpdc:dns"].extraRecords = [{ name: "probe", type: "A", data: { ip: "10.0.0.77" } }]),
        });
        const serial = (zone: string) => String((JSON.parse(zone) as { records: { type: string; data: { serial: number } }[] }[])[0]?.records[0]?.data.serial);
        const [before, after] = [serial(zoneOf(production, "infra1")), serial(zoneOf(edited, "infra1"))];
        assert.notEqual(before, after);
        // The node asks both servers for the SOA, round after round, while the zone commands run.
        const [a, b] = infra.map((vm) => vm.address);
        // A serial, or nothing when the server does not answer (dig prints its errors on stdout too).
        const soa = (address: string | undefined) => `$(dig +short +norecurse +time=2 +tries=1 @${address} ${DOMAIN} SOA | awk '/^[^;]/ && $3 ~ /^[0-9]+$/ { print $3 }')`;
        // The poller finishes its round and stops when told (a stop file), so that no round is cut short.
        node.writeFile("/root/soa-poll.sh", `while [ ! -e /root/soa.stop ]; do echo "${soa(a)} ${soa(b)}" >> /root/soa.log; sleep 0.2; done\n`);
        await node.exec("rm -f /root/soa.log /root/soa.stop && systemd-run --unit erpdc-soa-poll /bin/sh /root/soa-poll.sh && sleep 1");
        const unchanged = new Map(await Promise.all(infra.map(async (vm) => [vm.name, await nsProcess(vm.box)] as const)));
        try {
            await runDnsCommands(edited, (command) => command.name.endsWith("-zone"));
        } finally {
            await node.exec("sleep 1; touch /root/soa.stop; while systemctl is-active --quiet erpdc-soa-poll; do sleep 0.2; done", { timeoutMs: 60_000 });
        }
        const rounds = (await node.exec("cat /root/soa.log")).stdout.split("\n").filter((line) => line !== "").map((line) => line.split(" "));
        assert.ok(rounds.length >= 5, `${rounds.length} rounds`);
        const silent = rounds.filter(([first, second]) => !first && !second);
        assert.deepEqual(silent, [], "a round in which neither server answered");
        // Both serve the new zone now (asked with time to spare, not in a round).
        for (const vm of infra) assert.equal((await node.exec(`dig +short +norecurse +time=3 +tries=3 @${vm.address} ${DOMAIN} SOA | awk '{print $3}'`)).stdout.trim(), after);
        // Each server was restarted for its new zone, infra1 first and infra2 after it (their start
        // times on the one monotonic clock the boxes share with the host).
        const started = async (vm: InfraVmBox) => Number(/ExecMainStartTimestampMonotonic=(\d+)/.exec(await nsProcess(vm.box))?.[1]);
        const [first, second] = infra as [InfraVmBox, InfraVmBox];
        assert.ok((await started(first)) < (await started(second)), "infra2 restarted before infra1");
        assert.ok(rounds.some(([one]) => one === before) && rounds.some(([, two]) => two === before), `the rounds never saw the old zone: ${JSON.stringify(rounds)}`);
        for (const vm of infra) {
            assert.notEqual(await nsProcess(vm.box), unchanged.get(vm.name), `${vm.name} did not restart for its new zone`);
            assert.equal((await node.exec(`dig +short @${vm.address} probe.${DOMAIN} A`)).stdout.trim(), "10.0.0.77");
        }
        // The same commands again: nothing changed, so no server restarts.
        const running = new Map(await Promise.all(infra.map(async (vm) => [vm.name, await nsProcess(vm.box)] as const)));
        await runDnsCommands(edited);
        for (const vm of infra) assert.equal(await nsProcess(vm.box), running.get(vm.name), `${vm.name} restarted though nothing changed`);
    });

    /**
     * An infra VM gone from the node's network: its address is no longer the box's, so the node asks
     * for it on lan0 by ARP and gets no answer, as from a stopped VM on the real LAN. Linux then
     * gives up after its probes (neigh mcast_solicit 3, retrans_time 1 s: ip-sysctl.rst) with "No
     * route to host" for TCP, and UDP queries go unanswered until the resolver's timeout.
     */
    const cut = async (name: string) => {
        const vm = infra.find((entry) => entry.name === name) as InfraVmBox;
        await node.exec(`ip addr del ${vm.address}/32 dev lo`);
    };
    const restore = async (name: string) => {
        const vm = infra.find((entry) => entry.name === name) as InfraVmBox;
        await node.exec(`ip addr add ${vm.address}/32 dev lo && ip neigh flush dev lan0`);
    };

    /** What the node gets now: each service name's addresses, an image pull, the chart ArgoCD fetches. */
    const nodeServes = async () => {
        await node.exec("resolvectl flush-caches");
        const lookups: Record<string, string[]> = {};
        for (const name of SERVICE_NAMES) {
            const answer = await node.exec(`resolvectl query --legend=no -4 ${name}`, { allowFailure: true, timeoutMs: 60_000 });
            lookups[name] = answer.code === 0 ? [...answer.stdout.matchAll(/(\d+\.\d+\.\d+\.\d+)/g)].map((match) => match[1] as string).sort() : [];
        }
        await node.exec(`ctr -n k8s.io images rm --sync docker.io/${IMAGE}:${TAG}`, { allowFailure: true });
        const pulled = await node.exec(
            `ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d --user '${nodeAuth.username}:${nodeAuth.password}' docker.io/${IMAGE}:${TAG}`,
            { allowFailure: true, timeoutMs: 180_000 },
        );
        const chart = await node.exec(
            `rm -rf /tmp/chart && mkdir /tmp/chart && HOME=/root helm pull erp-uno --repo https://charts.${DOMAIN} --version ${chartVersion} -d /tmp/chart && ls /tmp/chart`,
            { allowFailure: true, timeoutMs: 180_000 },
        );
        return { lookups, pull: pulled.code === 0 ? "pulled" : `failed: ${(pulled.stdout + pulled.stderr).trim().split("\n").pop()}`, chart: chart.code === 0 ? chart.stdout.trim() : `failed: ${chart.stderr.trim().split("\n").pop()}` };
    };
    const everything = (addresses: string[]) => ({
        lookups: Object.fromEntries(SERVICE_NAMES.map((name) => [name, addresses])),
        pull: "pulled",
        chart: `erp-uno-${chartVersion}.tgz`,
    });

    it("with both infra VMs up: each service name resolves to both, the image pulls, the chart comes", async () => {
        assert.deepEqual(await nodeServes(), everything(infraHosts.map((host) => host.address).sort()));
    });

    it("with infra2 unreachable: everything still comes from infra1", async () => {
        await cut("infra2");
        try {
            assert.deepEqual(await nodeServes(), everything(infraHosts.map((host) => host.address).sort()));
        } finally {
            await restore("infra2");
        }
    });

    it("with infra1's box stopped: the node resolves through infra2, pulls from it and fetches the chart from it", async () => {
        const infra1 = infra.find((vm) => vm.name === "infra1") as InfraVmBox;
        const stopped = await infra1.box.stop();
        assert.equal(stopped.clean, true, stopped.leftovers.join(", "));
        await cut("infra1");
        const served = await nodeServes();
        assert.deepEqual(served, everything(infraHosts.map((host) => host.address).sort()));
        // infra2 answered: resolved moved to it, the only server left.
        assert.match((await node.exec("resolvectl status")).stdout, new RegExp(`Current DNS Server: ${(infraHosts[1]?.address ?? "").replace(/\./g, "\\.")}\\b`));
    });

    it("with neither: no name resolves, nothing pulls (the checks above can fail)", async () => {
        await cut("infra2");
        const served = await nodeServes();
        assert.deepEqual(served.lookups, Object.fromEntries(SERVICE_NAMES.map((name) => [name, []])));
        assert.match(served.pull, /^failed/);
        assert.match(served.chart, /^failed/);
    });
});
