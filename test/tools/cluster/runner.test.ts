// The Kubespray runner end to end (cluster/files/kubespray_run.py, main), in a network namespace the
// test creates. Three sshd stand in for a control-plane node and two workers at 127.0.0.11, .21 and
// .22 of the namespace's loopback, each in a mount namespace of its own whose /etc is an overlay on
// the host's: what the runner writes there (/etc/erpdc, the record and journal) and what the stand-in
// playbooks write (/etc/kubernetes) stays with the node, and the host's /etc is never written. A web server in the namespace serves the
// Kubespray tarball and the package index. The runner, its ssh and Debian's Ansible are real; what
// stands in: Kubespray is five small playbooks that log what ran (and fail on request), with
// Kubespray's own ansible.cfg settings that turn host key checking off; "ansible-core" is a wheel
// whose ansible-playbook runs Debian's.
import { strict as assert } from "assert";
import { spawn, spawnSync, type ChildProcess } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { ROOT } from "../../../render/stackConfig";
import { run, sshdConfig } from "../support";
import { DEBIAN_PYTHON, KUBESPRAY_FOLDER, packKubespray, standInKubespray, standInWheel } from "../../standins";

/** Debian's Python serves the files. */
const PYTHON = DEBIAN_PYTHON;
/**
 * The runner runs as `python3` from the PATH, as the command resource runs it. It needs tarfile's
 * data filter (3.11.4 and later; noble's 3.12 has it): the machine's python3 has it, Debian 12's
 * /usr/bin/python3 (3.11.2) has not.
 */
const RUNNER_PYTHON = "python3";
const RUNNER = path.join(ROOT, "cluster", "files", "kubespray_run.py");
const STATE_DIR = "/etc/erpdc";
const NODES = { "k8s-control1": "127.0.0.11", "k8s-worker1": "127.0.0.21", "k8s-worker2": "127.0.0.22" } as const;
type NodeName = keyof typeof NODES;
const WEB = "127.0.0.1:8080";

describe("the Kubespray runner against sshd nodes in a network namespace", function () {
    this.timeout(300000);
    let work: string;
    /** A named network namespace (ip netns): no race with a process that has yet to unshare. */
    const NETNS = `erpdc-runner-${process.pid}`;
    const netnsPath = `/run/netns/${NETNS}`;
    const sshd = new Map<NodeName, ChildProcess>();
    let web: ChildProcess;
    let adminKey: string;
    let tarballSha256: string;
    const hostKeys = new Map<NodeName, string>();
    const log = () => (fs.existsSync(path.join(work, "playbooks.log")) ? fs.readFileSync(path.join(work, "playbooks.log"), "utf8").trim().split("\n") : []);

    /** A command inside the namespace (nsenter execs it in place: the child's PID is the command's). */
    const inNamespace = (command: string[], options: Parameters<typeof spawn>[2] = {}) =>
        spawn("nsenter", [`--net=${netnsPath}`, "--", ...command], { stdio: "ignore", ...options });
    /** Nothing of the runner's may land in the host's own /etc/erpdc: each node has its own. */
    const assertHostUntouched = () => assert.equal(fs.existsSync(STATE_DIR), false, `the host has a ${STATE_DIR}: the runner wrote past the node's own /etc`);

    const startNode = async (name: NodeName) => {
        const dir = path.join(work, name);
        const config = path.join(dir, "sshd_config");
        fs.writeFileSync(config, sshdConfig({ listen: `${NODES[name]}:22`, hostKey: path.join(dir, "host_key"), authorizedKeys: path.join(work, "authorized_keys"), pidFile: path.join(dir, "sshd.pid") }));
        // A mount namespace per node, with /etc an overlay whose changes land in the node's own directory.
        fs.mkdirSync(path.join(dir, "etc-upper"));
        fs.mkdirSync(path.join(dir, "etc-work"));
        const overlay = `lowerdir=/etc,upperdir=${path.join(dir, "etc-upper")},workdir=${path.join(dir, "etc-work")}`;
        const child = inNamespace([
            "unshare", "-m", "--propagation", "private", "--",
            "/bin/sh", "-c", `mount -t overlay overlay -o ${overlay} /etc && exec /usr/sbin/sshd -D -e -f ${config}`,
        ], { stdio: ["ignore", "ignore", fs.openSync(path.join(dir, "sshd.log"), "a")] });
        sshd.set(name, child);
        await waitInNamespace(NODES[name], 22);
    };

    const stopNode = async (name: NodeName) => {
        const child = sshd.get(name);
        if (child && child.exitCode === null) {
            const exited = new Promise((resolve) => child.once("exit", resolve));
            child.kill("SIGTERM");
            await exited;
        }
    };

    /** The file as the node sees it in its own /etc/erpdc, or undefined. */
    const nodeFile = (name: NodeName, file: string): string | undefined => {
        const result = spawnSync("nsenter", ["-t", String(sshd.get(name)?.pid), "-m", "--", "cat", path.join(STATE_DIR, file)], { encoding: "utf8" });
        return result.status === 0 ? result.stdout : undefined;
    };

    const waitInNamespace = async (address: string, port: number) => {
        const probe = `import socket,sys\ntry:\n  socket.create_connection((${JSON.stringify(address)}, ${port}), 1).close()\nexcept OSError:\n  sys.exit(1)`;
        for (let attempt = 0; attempt < 100; attempt++) {
            if (spawnSync("nsenter", [`--net=${netnsPath}`, "--", PYTHON, "-c", probe]).status === 0) return;
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        throw new Error(`nothing listens on ${address}:${port} in the namespace`);
    };

    const manifest = (kubeVersion: string, workers: NodeName[]) => ({
        kubesprayVersion: "v2.28.0",
        kubesprayReleases: ["v2.26.0", "v2.27.0", "v2.28.0"],
        kubeVersion,
        varsHash: "0".repeat(64),
        controlPlane: { "k8s-control1": NODES["k8s-control1"] },
        workers: Object.fromEntries(workers.map((name) => [name, NODES[name]])),
        controlPlaneSchedulable: false,
    });

    const bundle = (target: ReturnType<typeof manifest>, keys: Map<NodeName, string> = hostKeys) => {
        const nodes = ["k8s-control1", ...Object.keys(target.workers)] as NodeName[];
        const inventory = {
            all: {
                hosts: Object.fromEntries(nodes.map((name) => [name, { ansible_host: NODES[name] }])),
                children: {
                    kube_control_plane: { hosts: { "k8s-control1": null } },
                    kube_node: { hosts: Object.fromEntries(Object.keys(target.workers).map((name) => [name, null])) },
                },
            },
        };
        return JSON.stringify({
            files: { "hosts.yaml": YAML.stringify(inventory) },
            privateKey: fs.readFileSync(adminKey, "utf8"),
            knownHosts: nodes.map((name) => `${NODES[name]},${name} ${keys.get(name)}\n`).join(""),
            manifest: target,
            settings: {
                adminUser: "root",
                kubesprayVersion: "v2.28.0",
                kubesprayUrl: `http://${WEB}/${KUBESPRAY_FOLDER}.tar.gz`,
                kubespraySha256: tarballSha256,
                ansibleCore: "2.16.14",
                pythonIndexUrl: `http://${WEB}/simple/`,
            },
        });
    };

    /** One run of the runner, as the command resource runs it: the bundle on stdin. */
    const runRunner = (input: string, env: Record<string, string> = {}) => {
        const result = spawnSync("nsenter", [`--net=${netnsPath}`, "--", RUNNER_PYTHON, RUNNER], {
            input,
            encoding: "utf8",
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: path.join(work, "home"), PYTHONDONTWRITEBYTECODE: "1", ERPDC_TEST_LOG: path.join(work, "playbooks.log"), ...env },
            timeout: 240000,
        });
        assertHostUntouched();
        return { code: result.status, output: `${result.stdout}${result.stderr}`, stderr: result.stderr };
    };

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-runner-"));
        fs.mkdirSync(path.join(work, "home"));
        assertHostUntouched();
        run("ip", ["netns", "add", NETNS]);
        run("ip", ["-n", NETNS, "link", "set", "lo", "up"]);

        adminKey = path.join(work, "id_admin");
        run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", adminKey]);
        fs.copyFileSync(`${adminKey}.pub`, path.join(work, "authorized_keys"));
        fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
        for (const name of Object.keys(NODES) as NodeName[]) {
            fs.mkdirSync(path.join(work, name));
            run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(work, name, "host_key")]);
            hostKeys.set(name, fs.readFileSync(path.join(work, name, "host_key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" "));
            await startNode(name);
            // Really apart: another network and mount namespace than the test's.
            const pid = sshd.get(name)?.pid as number;
            assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/net`), fs.readlinkSync("/proc/self/ns/net"), `${name}'s sshd shares the host's network`);
            assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/mnt`), fs.readlinkSync("/proc/self/ns/mnt"), `${name}'s sshd shares the host's mounts`);
        }

        // The stand-in Kubespray (test/standins.ts): each playbook logs its name, limit and removal
        // settings on the controller, touches its hosts over SSH, and fails when ERPDC_TEST_FAIL names it.
        const www = path.join(work, "www");
        const tarball = path.join(www, `${KUBESPRAY_FOLDER}.tar.gz`);
        packKubespray(standInKubespray(work), tarball);
        tarballSha256 = createHash("sha256").update(fs.readFileSync(tarball)).digest("hex");

        // The stand-in ansible-core: its ansible-playbook runs Debian's.
        const wheels = path.join(www, "simple", "ansible-core");
        const wheel = path.basename(standInWheel(work, wheels, "ansible-core", "2.16.14", { ansiblePlaybook: true }));
        fs.writeFileSync(path.join(www, "simple", "index.html"), '<a href="ansible-core/">ansible-core</a>\n');
        fs.writeFileSync(path.join(wheels, "index.html"), `<a href="${wheel}">${wheel}</a>\n`);
        web = inNamespace([PYTHON, "-m", "http.server", "--bind", "127.0.0.1", "--directory", www, "8080"]);
        await waitInNamespace("127.0.0.1", 8080);
    });

    after(async () => {
        // Ansible's ssh masters (ControlPersist) live on in the namespace: end everything in it.
        if (fs.existsSync(netnsPath)) {
            const pids = spawnSync("ip", ["netns", "pids", NETNS], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
            for (const pid of pids) {
                try {
                    process.kill(Number(pid), "SIGKILL");
                } catch {
                    // the process is gone already
                }
            }
            spawnSync("ip", ["netns", "del", NETNS]);
        }
        web?.kill("SIGKILL");
        for (const child of sshd.values()) child.kill("SIGKILL");
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("stops before touching a node that shows another host key than the pinned one: Ansible, too, checks the pins", () => {
        const wrong = new Map(hostKeys);
        wrong.set("k8s-worker1", hostKeys.get("k8s-worker2") as string);
        const result = runRunner(bundle(manifest("1.32.5", ["k8s-worker1"]), wrong));
        assert.notEqual(result.code, 0, result.output);
        assert.match(result.output, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
        assert.match(result.output, /cluster\.yml failed/);
        assert.equal(nodeFile("k8s-control1", "kubespray-applied.json"), undefined, "no record of a run that failed");
        assert.equal(JSON.parse(nodeFile("k8s-control1", "kubespray-journal.json") ?? "{}").finished, 0);
    });

    it("finishes that run once the keys are right: cluster.yml, then the record with the pinned keys, and no journal", () => {
        const result = runRunner(bundle(manifest("1.32.5", ["k8s-worker1"])));
        assert.equal(result.code, 0, result.output);
        assert.match(result.output, /resuming the run started .*: 0 of 1 step\(s\) done/);
        assert.deepEqual(log().slice(-1), ["cluster.yml limit= node= reset_nodes= allow_ungraceful_removal="]);
        // Progress on stderr, the only stream pulumi up logs: the playbook started and Ansible's task
        // headers, each with the time the run has taken; Ansible's results stay on stdout (secret).
        assert.match(result.stderr, /^erpdc: \+0:00:\d\d running .*cluster\.yml/m);
        assert.match(result.stderr, /^\+0:00:\d\d TASK \[reach the host\]$/m);
        assert.match(result.output, /^(ok|changed): \[k8s-control1\]/m);
        assert.doesNotMatch(result.stderr, /^(ok|changed): \[/m);
        const record = JSON.parse(nodeFile("k8s-control1", "kubespray-applied.json") as string);
        assert.equal(record.format, 2);
        assert.equal(record.manifest.kubeVersion, "1.32.5");
        assert.ok(record.knownHosts.split("\n").includes(`127.0.0.21,k8s-worker1 ${hostKeys.get("k8s-worker1")}`), record.knownHosts);
        assert.equal(nodeFile("k8s-control1", "kubespray-journal.json"), undefined);
    });

    it("runs nothing when nothing changed", () => {
        const before = log().length;
        const result = runRunner(bundle(manifest("1.32.5", ["k8s-worker1"])));
        assert.equal(result.code, 0, result.output);
        assert.match(result.output, /the cluster already matches; no playbook to run/);
        assert.equal(log().length, before);
    });

    it("stops at a step that fails and leaves a journal of the steps that finished", () => {
        const before = log().length;
        const result = runRunner(bundle(manifest("1.32.6", ["k8s-worker1", "k8s-worker2"])), { ERPDC_TEST_FAIL: "scale.yml" });
        assert.notEqual(result.code, 0, result.output);
        assert.deepEqual(log().slice(before).map((line) => line.split(" ")[0]), ["upgrade-cluster.yml", "playbooks/facts.yml", "scale.yml"]);
        const journal = JSON.parse(nodeFile("k8s-control1", "kubespray-journal.json") as string);
        assert.deepEqual(journal.runs.map((r: { playbook: string }) => r.playbook), ["upgrade-cluster.yml", "playbooks/facts.yml", "scale.yml"]);
        assert.equal(journal.finished, 2);
        assert.equal(JSON.parse(nodeFile("k8s-control1", "kubespray-applied.json") as string).manifest.kubeVersion, "1.32.5", "the record still says where the last finished run left the cluster");
    });

    it("refuses the config set back while that run is unfinished, and runs nothing", () => {
        const before = log().length;
        const result = runRunner(bundle(manifest("1.32.5", ["k8s-worker1"])));
        assert.notEqual(result.code, 0, result.output);
        assert.match(result.output, /refusing to run Kubespray: the Kubespray run started .* stopped after upgrade-cluster\.yml, playbooks\/facts\.yml, before scale\.yml/);
        assert.match(result.output, /kubernetes\.kubeVersion \(the run's "1\.32\.6", now "1\.32\.5"\)/);
        assert.equal(log().length, before);
    });

    it("resumes at the unfinished step when the config asks for the run's target again, then records it", () => {
        const before = log().length;
        const result = runRunner(bundle(manifest("1.32.6", ["k8s-worker1", "k8s-worker2"])));
        assert.equal(result.code, 0, result.output);
        assert.deepEqual(log().slice(before), ["scale.yml limit=k8s-worker2 node= reset_nodes= allow_ungraceful_removal="]);
        assert.equal(JSON.parse(nodeFile("k8s-control1", "kubespray-applied.json") as string).manifest.kubeVersion, "1.32.6");
        assert.equal(nodeFile("k8s-control1", "kubespray-journal.json"), undefined);
    });

    it("removes a worker that no longer answers without resetting it, after a bounded attempt", async () => {
        await stopNode("k8s-worker2");
        const before = log().length;
        const result = runRunner(bundle(manifest("1.32.6", ["k8s-worker1"])));
        assert.equal(result.code, 0, result.output);
        assert.match(result.output, /k8s-worker2 \(127\.0\.0\.22\) does not answer with its pinned host key; removing it without a reset/);
        assert.deepEqual(log().slice(before), ["remove-node.yml limit= node=k8s-worker2 reset_nodes=false allow_ungraceful_removal=true"]);
        assert.deepEqual(Object.keys(JSON.parse(nodeFile("k8s-control1", "kubespray-applied.json") as string).manifest.workers), ["k8s-worker1"]);
    });
});
