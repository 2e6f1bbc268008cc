// The integration tier: a box stands in for the production stack's first infra VM. It boots with
// the VM's rendered user-data (adapted only where a Debian container must differ), then the
// program's own command resources for that VM run in it over SSH, as @pulumi/command would run
// them, and the services are checked from outside as the operator and the nodes use them.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import type { RecordedResource } from "../../render/engine";
import { ROOT } from "../../render/stackConfig";
import { find, plannedStack, runStackFile } from "../helpers";
import { makeCa, run, type TestCa } from "../tools/support";
import { helmBinary } from "../../render/helm";
import { Box, ensureRoot, type BoxImage } from "./box";
import { buildRelease, type BuiltRelease } from "../../dns/release/recipe";
import { answerLines, digCommand, zoneQueries } from "../dnsAnswers";
import { commandsFor, configureContainerd, NetworkWatch, nsProcess, probeImage, runAsOperator, runVmCommand, serveDatacenterMirror, startVm, type InfraVmBox, type VmCommand } from "./provision";

const DOMAIN = "erp.uno";
const NAMES = ["registry", "charts", "files"].map((name) => `${name}.${DOMAIN}`);
const VM = "infra1";
const IMAGE = "erpuno/boxprobe";
const TAG = "2026.11.1";

describe("the infra VM provisioned for real in a box", function () {
    this.timeout(15 * 60_000);
    const report: { command: string; outcome: string }[] = [];
    let image: BoxImage;
    let infra: InfraVmBox;
    let box: Box;
    let work: string;
    let ca: TestCa;
    let resources: readonly RecordedResource[];
    let commands: VmCommand[];
    let address: string;
    let https: number;
    let pull: { username: string; password: string };
    let watch: NetworkWatch;
    let push: { username: string; password: string };
    let hostKey: string;
    let release: BuiltRelease;
    let nsUrl: string;

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-infra-box-"));
        image = await ensureRoot({ log: (line) => console.log(`      root: ${line}`) });
        // The synrc/ns release the stack pins, built by the project's recipe as an operator would.
        release = buildRelease(ROOT);
        const production = await runStackFile("production", { revealSecrets: true });
        nsUrl = plannedStack("production").dns.nsArtifact.url;
        resources = production.resources;
        push = { username: "erpdc", password: String(production.outputs.registryPassword?.value) };
        pull = { username: "erpdc-pull", password: String(production.outputs.registryPullPassword?.value) };
        ca = makeCa(work, [...NAMES, `${VM}.${DOMAIN}`]);
        watch = new NetworkWatch(path.join(work, "first-boot.pcap"));
        infra = await startVm(production, VM, { image, ca, work, expose: [443], onLeader: watch.start });
        ({ box, address, hostKey, commands } = infra);
        console.log("      adapted for a Debian 12 container (everything else is the rendered user-data):");
        for (const { key, why } of infra.adaptations) console.log(`        - ${key}: ${why}`);
        console.log("        - network-config: not given to the box, whose only network is its private loopback; the tools suite converts every rendered network-config with cloud-init");
        https = await box.forward(443);
        await serveDatacenterMirror(infra, nsUrl, { [new URL(nsUrl).pathname]: release.tarball, [path.posix.join(path.posix.dirname(new URL(nsUrl).pathname), "SHA256SUMS")]: path.join(release.dir, "SHA256SUMS") });
    });

    after(async () => {
        console.log("      command resources of infra1:");
        for (const line of report) console.log(`        ${line.command.padEnd(20)} ${line.outcome}`);
        await watch?.stop();
        const stopped = await box?.stop();
        fs.rmSync(work, { recursive: true, force: true });
        assert.equal(stopped?.clean ?? true, true, `leftovers: ${stopped?.leftovers.join(", ")}`);
    });

    const provision = async (command: VmCommand) => {
        const started = Date.now();
        const result = await runVmCommand(infra, command, ca);
        report.push({ command: command.name, outcome: `${result.code === 0 ? "ran" : `FAILED (exit ${result.code})`} in ${((Date.now() - started) / 1000).toFixed(1)} s` });
        assert.equal(result.code, 0, `${command.name} failed:\n${result.stdout}${result.stderr}`);
    };

    it("finishes the first boot with the rendered user-data: status done, no warning", async () => {
        const status = await box.waitForCloudInit();
        assert.match(status, /^status: done$/m);
        const log = (await box.exec("cat /var/log/cloud-init.log")).stdout;
        const warnings = log.split("\n").filter((line) => / (WARNING|ERROR) /.test(line));
        assert.deepEqual(warnings, [], `cloud-init warned:\n${warnings.join("\n")}`);
        assert.equal((await box.ssh("id -nG")).stdout.trim().split(" ").includes("sudo"), true);
        // cloud-init put the program's host key in place of the image's (vendor-data), and no other:
        // this ssh insisted on it, and a client pinning another key is turned away.
        assert.equal((await box.exec("cat /etc/ssh/ssh_host_ed25519_key.pub")).stdout.trim().split(" ").slice(0, 2).join(" "), hostKey.split(" ").slice(0, 2).join(" "));
        assert.deepEqual((await box.exec("ls /etc/ssh")).stdout.split("\n").filter((file) => file.startsWith("ssh_host_")).sort(), ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]);
        const otherKey = path.join(work, "other_host_key");
        run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
        const refused = await box.ssh("true", { hostKey: fs.readFileSync(`${otherKey}.pub`, "utf8").trim(), allowFailure: true, timeoutMs: 60_000 });
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
        // What the first boot tried to reach: every name looked up and every connection attempted.
        const seen = watch.report();
        console.log(`      first boot: names looked up: ${seen.lookups.join(", ") || "none"}`);
        console.log(`      first boot: connections off the box: ${seen.connections.join(", ") || "none"}`);
        console.log(`      first boot: connections on its loopback (the relays): ${seen.loopback.join(", ") || "none"}`);
        assert.deepEqual(seen.connections, [], "the first boot tried to reach outside the box");
        // On its loopback only the relays: SSH in, and apt out to the mirror (the contour's, standing in).
        assert.deepEqual(seen.loopback.filter((destination) => !["127.0.0.1.22", "127.0.0.1.3142"].includes(destination)), [], "the first boot reached past the relays");
        assert.deepEqual(seen.lookups.filter((name) => !name.endsWith(DOMAIN) && name.includes(".")), [], "the first boot looked up public names");
        // The watch sees such attempts: a lookup and a connection made on purpose show up.
        await box.exec("getent hosts probe.example.com; timeout 2 bash -c 'exec 3<>/dev/tcp/192.0.2.10/80' || true", { allowFailure: true });
        await watch.stop();
        const probe = watch.report();
        assert.ok(probe.lookups.includes("probe.example.com"), JSON.stringify(probe));
        assert.deepEqual(probe.connections, ["192.0.2.10.80"]);
        // The user-data's CA reached the system trust store: a certificate it signed verifies there.
        const verified = await box.exec("openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt", { stdin: fs.readFileSync(ca.serverCert, "utf8") });
        assert.match(verified.stdout, /: OK$/m);
    });

    it("runs every command resource of the VM in dependency order", async () => {
        assert.deepEqual(commands.map((c) => c.name).sort(), [`${VM}-ca`, `${VM}-nginx`, `${VM}-ready`, `${VM}-registry`, `${VM}-synrc-ns`, `${VM}-zone`]);
        assert.equal(commands[0]?.name, `${VM}-ready`);
        report.push({ command: "kubespray", outcome: "not run: it needs the Kubernetes nodes, which a box cannot be" });
        for (const command of commands) await provision(command);
        assert.match((await box.exec("systemctl is-active docker-registry nginx synrc-ns")).stdout, /^active\nactive\nactive\n$/);
    });

    it("serves every record of the generated zone with synrc/ns at the VM's address, over UDP and TCP", async () => {
        const bundle = JSON.parse(String(commands.find((c) => c.name === `${VM}-zone`)?.stdin)) as { files: { path: string; content: string }[] };
        // The zone file the VM's own zone command shipped.
        const queries = zoneQueries(bundle.files[0]?.content as string);
        const wrong: string[] = [];
        for (const query of queries) {
            for (const transport of ["udp", "tcp"] as const) {
                const answer = answerLines((await box.exec(digCommand(address, query, transport), { allowFailure: true })).stdout);
                if (JSON.stringify(answer) !== JSON.stringify(query.expected)) wrong.push(`${query.name} ${query.type}/${transport}: ${JSON.stringify(answer)}`);
            }
        }
        assert.deepEqual(wrong, []);
        assert.ok(queries.length >= 20, `${queries.length} queries`);
    });

    it("runs synrc/ns closed: DNS on the VM's address is all it listens on, no Erlang node reaches it, its code is root's", async () => {
        const listening = (await box.exec("ss -H -lntup")).stdout.split("\n").filter((line) => line.includes('"beam.smp"') || line.includes('"epmd"'));
        assert.deepEqual(listening.map((line) => line.split(/\s+/)).map((f) => `${f[0]} ${f[4]}`).sort(), [`tcp ${address}:53`, `udp ${address}:53`, `udp ${address}:53`]);
        // An Erlang node on another address of the VM's network, with relx's default cookie: the
        // release's own runtime serves as the probe. Its epmd is stopped afterwards.
        const probe = await box.exec(
            "ip addr add 10.0.0.99/32 dev lo && cd /tmp && HOME=/tmp /opt/synrc-ns/current/erts-*/bin/erl -boot $(ls /opt/synrc-ns/current/releases/*/start_clean.boot | sed s/.boot$//) -noshell -name probe@10.0.0.99 -setcookie erldns " +
                `-eval 'io:format("~s~n", [net_adm:ping('"'"'erldns@${address}'"'"')]), halt().'; status=$?; pkill -x epmd; ip addr del 10.0.0.99/32 dev lo; exit $status`,
            { allowFailure: true },
        );
        assert.equal(probe.stdout.trim().split("\n").pop(), "pang", probe.stdout + probe.stderr);
        // Code and configuration are root's, read-only to the service; it owns only its state folder.
        assert.equal((await box.exec("find /opt/synrc-ns /etc/synrc-ns /usr/local/lib/erpdc ! -user root -o -perm /022 ! -type l")).stdout.trim(), "");
        assert.equal((await box.exec("stat -c '%U %a' /var/lib/synrc-ns")).stdout.trim(), "synrc-ns 700");
    });

    const curl = (url: string, ...extra: string[]) =>
        run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca.caCert, ...NAMES.flatMap((name) => ["--resolve", `${name}:${https}:127.0.0.1`]), ...extra, url]).trim();

    it("serves the registry, the chart repository and the files area over TLS the local CA vouches for", () => {
        assert.equal(curl(`https://registry.${DOMAIN}:${https}/v2/`), "401");
        assert.equal(curl(`https://registry.${DOMAIN}:${https}/v2/`, "-u", `${push.username}:${push.password}`), "200");
        assert.equal(curl(`https://registry.${DOMAIN}:${https}/v2/`, "-u", `${pull.username}:${pull.password}`), "200");
        assert.equal(curl(`https://charts.${DOMAIN}:${https}/index.yaml`), "200");
        assert.equal(curl(`https://files.${DOMAIN}:${https}/`), "200");
        assert.throws(() => run("curl", ["-sS", "-o", "/dev/null", "--resolve", `files.${DOMAIN}:${https}:127.0.0.1`, `https://files.${DOMAIN}:${https}/`]), /exited 60/);
    });

    it("takes an image pushed with the push account and refuses it from the pull account", () => {
        const { layout, certs } = probeImage(work, ca, TAG, "erpdc box probe\n");
        const target = `docker://127.0.0.1:${https}/${IMAGE}:${TAG}`;
        assert.throws(() => run("skopeo", ["copy", "--dest-cert-dir", certs, "--dest-creds", `${pull.username}:${pull.password}`, `oci:${layout}:${TAG}`, target]), /403|denied|forbidden/i);
        run("skopeo", ["copy", "--dest-cert-dir", certs, "--dest-creds", `${push.username}:${push.password}`, `oci:${layout}:${TAG}`, target]);
    });

    it("lets a node pull that image with the credentials it gets, through containerd configured as Kubespray configures it, and not without", async () => {
        const production = await runStackFile("production", { revealSecrets: true });
        await box.exec("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends containerd </dev/null", { timeoutMs: 5 * 60_000 });
        const auth = configureContainerd(box, find(production.resources, "kubespray"));
        // The node resolves the registry by the contour's DNS; in the box it is the box itself.
        await box.exec(`echo "127.0.0.1 ${auth.registry}" >> /etc/hosts && systemctl restart containerd`);
        const pullImage = (user: string) =>
            box.exec(`ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d ${user} docker.io/${IMAGE}:${TAG}`, { allowFailure: true, timeoutMs: 120_000 });
        const anonymous = await pullImage("");
        assert.notEqual(anonymous.code, 0);
        assert.match(anonymous.stdout + anonymous.stderr, /401|unauthorized/i);
        const withNodeCredentials = await pullImage(`--user '${auth.username}:${auth.password}'`);
        assert.equal(withNodeCredentials.code, 0, withNodeCredentials.stdout + withNodeCredentials.stderr);
        assert.match((await box.exec("ctr -n k8s.io images ls -q")).stdout, new RegExp(`docker.io/${IMAGE}:${TAG}`));
    });

    it("publishes the chart with the program's own command against the box, for helm over OCI and the classic repository", async () => {
        const publish = find(resources, "publish-erp-uno");
        const env = publish.revealedInputs?.environment as Record<string, string>;
        // This tier boots infra1 alone: the command publishes to it as to each infra VM (the tools
        // suite runs it against two stand-ins, one of them down).
        const infraHosts = (JSON.parse(env.INFRA_HOSTS as string) as { name: string; address: string }[]).filter((host) => host.name === VM);
        assert.equal(infraHosts.length, 1);
        const result = await runAsOperator([{ box, sshAddress: infraHosts[0]?.address as string }], image.socat, String(publish.revealedInputs?.create), {
            env: { ...env, INFRA_HOSTS: JSON.stringify(infraHosts), PATH: `${path.dirname(helmBinary())}:${process.env.PATH ?? ""}` },
            names: NAMES,
            cwd: ROOT,
        });
        report.push({ command: "publish-erp-uno", outcome: result.code === 0 ? "ran (operator's machine)" : `FAILED (exit ${result.code})` });
        assert.equal(result.code, 0, result.output);
        const version = env.CHART_VERSION as string;
        assert.match(curl(`https://charts.${DOMAIN}:${https}/erp-uno-${version}.tgz`), /^200$/);
        const index = YAML.parse((await box.exec("cat /srv/charts/index.yaml")).stdout);
        assert.deepEqual(index.entries["erp-uno"].map((entry: { version: string }) => entry.version), [version]);
    });

    it("changes nothing when the provisioning runs a second time, and keeps the services up", async () => {
        const files = ["/etc/nginx/conf.d/erpdc.conf", "/etc/nginx/registry.htpasswd", "/etc/docker/registry/config.yml", "/srv/charts/index.yaml", "/etc/hosts", "/etc/synrc-ns/sys.config", `/etc/synrc-ns/zones/${DOMAIN}.zone.json`];
        const digest = async () => (await box.exec(`sha256sum ${files.join(" ")}`)).stdout;
        const before = await digest();
        const server = await nsProcess(box);
        for (const command of commands) await provision(command);
        assert.equal(await digest(), before);
        assert.equal(await nsProcess(box), server, "synrc/ns was restarted though nothing changed");
        assert.match((await box.exec("systemctl is-active docker-registry nginx")).stdout, /^active\nactive\n$/);
        assert.equal(curl(`https://registry.${DOMAIN}:${https}/v2/${IMAGE}/tags/list`, "-u", `${pull.username}:${pull.password}`), "200");
    });

    it("applies a new synrc/ns release: its command alone re-runs, and the server runs the new one", async () => {
        // Another release: the built one with one more file, so another sha256, published and pinned.
        const unpacked = path.join(work, "new-release");
        fs.mkdirSync(unpacked);
        run("tar", ["-xzf", release.tarball, "-C", unpacked]);
        fs.writeFileSync(path.join(unpacked, "releases", "erpdc-box-marker"), "another release\n");
        const tarball = path.join(work, path.posix.basename(new URL(nsUrl).pathname));
        run("tar", ["-czf", tarball, "-C", unpacked, "."]);
        const sha256 = createHash("sha256").update(fs.readFileSync(tarball)).digest("hex");
        fs.copyFileSync(tarball, path.join(box.dir, "datacenter-mirror", new URL(nsUrl).pathname));
        const edited = await runStackFile("production", { revealSecrets: true, edit: (d) => (d["erpdc:dns"].nsArtifact.sha256 = sha256) });
        const changed = commandsFor(edited.resources, address).filter((command) => command.name !== "kubespray").filter((command) => {
            const old = commands.find((c) => c.name === command.name);
            return `${old?.create}${old?.stdin}` !== `${command.create}${command.stdin}`;
        });
        assert.deepEqual(changed.map((c) => c.name), [`${VM}-synrc-ns`]);
        const server = await nsProcess(box);
        for (const command of changed) await provision(command);
        assert.notEqual(await nsProcess(box), server, "the server still runs the old release");
        assert.equal((await box.exec("readlink /opt/synrc-ns/current")).stdout.trim(), sha256);
        const pid = (await box.exec("systemctl show -p MainPID --value synrc-ns")).stdout.trim();
        assert.match((await box.exec(`cat /proc/${pid}/maps`)).stdout, new RegExp(`/opt/synrc-ns/${sha256}/erts-`));
        assert.match((await box.exec(`dig +short @${address} ${DOMAIN} SOA`)).stdout, /^ns1\./);
    });

    it("re-runs only the command that owns a changed input: a new pull account reaches nginx alone", async () => {
        const edited = await runStackFile("production", { revealSecrets: true, edit: (d) => (d["erpdc:registry"] = { pullUsername: "nodes" }) });
        const changed = commandsFor(edited.resources, address).filter((command) => command.name !== "kubespray").filter((command) => {
            const old = commands.find((c) => c.name === command.name);
            return createHash("sha256").update(`${old?.create}${old?.stdin}`).digest("hex") !== createHash("sha256").update(`${command.create}${command.stdin}`).digest("hex");
        });
        assert.deepEqual(changed.map((c) => c.name), [`${VM}-nginx`]);
        for (const command of changed) await provision(command);
        assert.equal(curl(`https://registry.${DOMAIN}:${https}/v2/`, "-u", `nodes:${pull.password}`), "200");
        assert.equal(curl(`https://registry.${DOMAIN}:${https}/v2/`, "-u", `${pull.username}:${pull.password}`), "401");
    });
});
