// Stand-ins for what CI cannot fetch, shared by the runner test, the bundle test and the box tier's
// rehearsal of the first `pulumi up`: Kubespray's release (its download list script and small
// playbooks that log what ran) and Python wheels (an "ansible-core" whose ansible-playbook runs
// Debian's). Built with Debian's tools; nothing here stands in for the program's own code.
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { run } from "./tools/support";

/** Debian's Python builds the wheels (setuptools and wheel from Debian's packages). */
export const DEBIAN_PYTHON = "/usr/bin/python3";

/** The folder Kubespray's tag archive unpacks to (README: the Kubespray tarball). */
export const KUBESPRAY_FOLDER = "kubespray-2.28.0";

/** Where a joined node keeps its kubelet.conf, which the runner probes to tell joined nodes from fresh ones. */
export const KUBE_DIR = "/etc/kubernetes";

/**
 * Kubespray's contrib/offline/generate_list.sh, stand-in: the public places without the offline
 * settings, the contour's with them (it reads the group_vars file given with @).
 */
const GENERATE_LIST = `#!/bin/bash
set -e
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/temp"
offline=0
for arg in "$@"; do case "$arg" in @*) grep -q '^files_repo:' "\${arg#@}" && offline=1 ;; esac; done
if [ "$offline" = 1 ]; then k8s=https://files.erp.uno/dl.k8s.io; gh=https://files.erp.uno/github.com; k=registry.erp.uno; q=registry.erp.uno; d=registry.erp.uno; g=registry.erp.uno
else k8s=https://dl.k8s.io; gh=https://github.com; k=registry.k8s.io; q=quay.io; d=docker.io; g=ghcr.io; fi
printf '%s\\n' "$k8s/release/v1.32.5/bin/linux/amd64/kubeadm" "$gh/containerd/nerdctl/releases/download/v2.0.4/nerdctl-2.0.4-linux-amd64.tar.gz" > "$here/temp/files.list"
printf '%s\\n' "$k/coredns/coredns:v1.11.3" "$k/pause:3.10" "$q/calico/node:v3.29.3" "$d/library/nginx:1.27.4" "$g/kube-vip/kube-vip:v0.8.9" "$k/coredns/coredns:v1.11.3" > "$here/temp/images.list"
`;

/** Where the playbooks log on the controller when ERPDC_TEST_LOG is not set (the box tier reads it there). */
export const PLAYBOOK_LOG = "/var/tmp/kubespray-standin.log";

/**
 * The stand-in Kubespray release in `parent`/kubespray-2.28.0: generate_list.sh, Kubespray's own
 * ansible.cfg settings that turn host key checking off (the runner must override them), the
 * requirements, and the playbooks the runner runs. Each playbook logs its name, limit and removal
 * settings on the controller ($ERPDC_TEST_LOG, else PLAYBOOK_LOG), touches its hosts over SSH, and
 * fails when ERPDC_TEST_FAIL names it; cluster.yml and scale.yml leave a joined node's kubelet.conf.
 */
export function standInKubespray(parent: string, requirements = ""): string {
    const source = path.join(parent, KUBESPRAY_FOLDER);
    fs.mkdirSync(path.join(source, "playbooks"), { recursive: true });
    fs.mkdirSync(path.join(source, "contrib", "offline"), { recursive: true });
    fs.writeFileSync(path.join(source, "contrib", "offline", "generate_list.sh"), GENERATE_LIST, { mode: 0o755 });
    fs.writeFileSync(path.join(source, "ansible.cfg"), "[defaults]\nhost_key_checking = False\n[ssh_connection]\nssh_args = -o UserKnownHostsFile=/dev/null\n");
    fs.writeFileSync(path.join(source, "requirements.txt"), requirements);
    // The log and the failure run once on the controller, within the play of the playbook's hosts,
    // so that --limit (scale.yml) keeps them.
    const controller = (name: string) => [
        {
            name: "log",
            "ansible.builtin.shell": `echo "${name} limit={{ ansible_limit | default('') }} node={{ node | default('') }} reset_nodes={{ reset_nodes | default('') }} allow_ungraceful_removal={{ allow_ungraceful_removal | default('') }}" >> "\${ERPDC_TEST_LOG:-${PLAYBOOK_LOG}}"`,
            delegate_to: "localhost",
            run_once: true,
            become: false,
        },
        { name: "fail on request", "ansible.builtin.fail": { msg: "told to fail" }, when: `lookup('env', 'ERPDC_TEST_FAIL') == '${name}'`, run_once: true },
    ];
    const onHosts = (joins: boolean) => [
        { name: "reach the host", "ansible.builtin.command": "true" },
        // What Kubespray leaves on a node it joined, and the runner looks for.
        ...(joins
            ? [
                  { name: "kubernetes directory", "ansible.builtin.file": { path: KUBE_DIR, state: "directory", mode: "0755" } },
                  { name: "join", "ansible.builtin.file": { path: `${KUBE_DIR}/kubelet.conf`, state: "touch" } },
              ]
            : []),
    ];
    for (const name of ["cluster.yml", "upgrade-cluster.yml", "scale.yml", "playbooks/facts.yml"]) {
        const joins = name === "cluster.yml" || name === "scale.yml";
        fs.writeFileSync(path.join(source, name), YAML.stringify([{ hosts: "all", gather_facts: false, tasks: [...controller(name), ...onHosts(joins)] }]));
    }
    // remove-node touches the node only when it is reset (reset_nodes=false: Kubespray leaves it alone).
    fs.writeFileSync(
        path.join(source, "remove-node.yml"),
        YAML.stringify([
            { hosts: "localhost", gather_facts: false, tasks: controller("remove-node.yml") },
            { hosts: "{{ node if (reset_nodes | default(true) | bool) else 'none' }}", gather_facts: false, tasks: onHosts(false) },
        ]),
    );
    return source;
}

/** The release as its tag's archive: `tarball` holds kubespray-2.28.0/. */
export function packKubespray(release: string, tarball: string): void {
    fs.mkdirSync(path.dirname(tarball), { recursive: true });
    run("tar", ["-czf", tarball, "-C", path.dirname(release), path.basename(release)]);
}

/**
 * A wheel of `name`==`version` requiring `requires`, built in `work`/projects into `out`; with
 * `ansiblePlaybook`, its ansible-playbook runs Debian's (/usr/bin/ansible-playbook). Returns its file.
 */
export function standInWheel(work: string, out: string, name: string, version: string, options: { requires?: readonly string[]; ansiblePlaybook?: boolean } = {}): string {
    const module = name.replace(/-/g, "_");
    const project = path.join(work, "projects", name);
    fs.mkdirSync(path.join(project, module), { recursive: true });
    fs.writeFileSync(
        path.join(project, module, "__init__.py"),
        options.ansiblePlaybook ? 'import os, sys\ndef main():\n    os.execv("/usr/bin/ansible-playbook", ["ansible-playbook", *sys.argv[1:]])\n' : "",
    );
    const entryPoints = options.ansiblePlaybook ? `, entry_points={"console_scripts": ["ansible-playbook=${module}:main"]}` : "";
    fs.writeFileSync(
        path.join(project, "setup.py"),
        `from setuptools import setup\nsetup(name=${JSON.stringify(name)}, version=${JSON.stringify(version)}, packages=[${JSON.stringify(module)}], install_requires=${JSON.stringify(options.requires ?? [])}${entryPoints})\n`,
    );
    fs.mkdirSync(out, { recursive: true });
    const before = new Set(fs.readdirSync(out));
    run(DEBIAN_PYTHON, ["setup.py", "-q", "bdist_wheel", "-d", out], { cwd: project });
    const built = fs.readdirSync(out).find((file) => file.endsWith(".whl") && !before.has(file));
    if (built === undefined) throw new Error(`no wheel of ${name} was built in ${out}`);
    return path.join(out, built);
}
