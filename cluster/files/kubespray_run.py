# Runs Kubespray for the erpdc program, on the operator's machine or on the infra VM.
#
# stdin: a JSON bundle {files, privateKey, knownHosts, manifest, settings} written by cluster/index.ts.
# The playbooks to run follow from comparing the bundle's manifest with the one the last successful
# run left on the control-plane nodes (/etc/erpdc/kubespray-applied.json, on each of them): plan_runs() below.
# While they run, a journal on the same nodes (/etc/erpdc/kubespray-journal.json) says which have
# finished, so that a run that stopped midway is resumed, or refused when the config has moved on.
# Every SSH connection, the runner's and Ansible's, accepts only the host keys the program made
# (knownHosts). Inventory, vars, key and known_hosts live in a private temporary directory removed at exit.
# Python 3 standard library only, so it runs on a fresh Ubuntu and on the operator's machine.
import datetime
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request

APPLIED = "/etc/erpdc/kubespray-applied.json"
JOURNAL = "/etc/erpdc/kubespray-journal.json"
UNREACHABLE = 4  # ansible-playbook's exit code when hosts were unreachable
# Kubespray's documented path for a node that is not online (docs/operations/nodes.md at v2.28.0):
# remove-node.yml then neither gathers its facts nor resets it, and only drains and deletes it.
UNGRACEFUL = {"reset_nodes": "false", "allow_ungraceful_removal": "true"}


class PlanError(Exception):
    pass


def _version(text):
    return tuple(int(part) for part in text.lstrip("v").split("."))


def _check_kubespray_step(old, new, releases):
    """Kubespray upgrades go one release at a time and never back (its docs/operations/upgrades.md:
    "Do not skip minor releases ... upgrade by one tag at a time")."""
    if old == new:
        return
    if _version(new) < _version(old):
        raise PlanError("kubesprayVersion %s is older than the %s the cluster was built with: Kubespray cannot go back" % (new, old))
    # Patch releases may be skipped, minor releases not (upgrades.md at v2.28.0: "Do not skip minor
    # releases (patches releases are ok)"); the path takes the newest known tag of each minor between.
    old_minor, new_minor = _version(old)[:2], _version(new)[:2]
    if new_minor[0] != old_minor[0] or new_minor[1] - old_minor[1] > 1:
        between = {}
        for release in sorted(releases, key=_version):
            if old_minor < _version(release)[:2] < new_minor:
                between[_version(release)[:2]] = release
        path = " -> ".join([old, *between.values(), new])
        raise PlanError("kubesprayVersion %s skips a minor release from %s: upgrade one minor release at a time (%s), one pulumi up each" % (new, old, path))


def _schedulable(manifest):
    """Whether the control-plane nodes run workloads; records from before the key: no workers."""
    return manifest.get("controlPlaneSchedulable", not manifest["workers"])


def removed_workers(previous, current):
    """Workers of `previous` that leave: gone from `current`, or at another address there (removed
    at the old one, joined again at the new). Named by their stable VM names."""
    old_workers, new_workers = previous["workers"], current["workers"]
    readdressed = sorted(n for n in new_workers if n in old_workers and old_workers[n] != new_workers[n])
    return sorted(set(old_workers) - set(new_workers)) + readdressed, readdressed


def plan_runs(previous, current, fresh=(), unreachable=()):
    """The playbook runs that take the cluster from `previous` (None: nothing yet) to `current`.

    `fresh` names the nodes of `current` that have never joined (no kubelet.conf): VMs rebuilt by
    `pulumi up --replace`, which the manifests alone cannot tell from running nodes. `unreachable`
    names removed workers that did not answer SSH with their pinned host key: they are removed
    without being reset (UNGRACEFUL).
    """
    if previous is None:
        return [{"playbook": "cluster.yml"}]
    # Only nodes that were control-plane nodes before: an added one is fresh too, and refused below as a change.
    rebuilt_control_plane = sorted(n for n in fresh if n in previous["controlPlane"])
    if rebuilt_control_plane:
        raise PlanError(
            "the control-plane node(s) %s were rebuilt and have not joined: Kubespray replaces a "
            "control-plane node only by its manual procedure (docs/operations/nodes.md); do that"
            % ", ".join(rebuilt_control_plane)
        )
    if previous["controlPlane"] != current["controlPlane"]:
        raise PlanError(
            "the control-plane nodes changed (%s -> %s): Kubespray changes them only by its manual "
            "procedure (docs/operations/nodes.md); do that, or restore vms.controlPlane"
            % (sorted(previous["controlPlane"]), sorted(current["controlPlane"]))
        )
    _check_kubespray_step(previous["kubesprayVersion"], current["kubesprayVersion"], current.get("kubesprayReleases", []))
    old_kube, new_kube = _version(previous["kubeVersion"]), _version(current["kubeVersion"])
    if new_kube < old_kube:
        raise PlanError("kubeVersion %s is older than the running %s: Kubernetes cannot be downgraded"
                        % (current["kubeVersion"], previous["kubeVersion"]))
    if new_kube[1] - old_kube[1] > 1:
        raise PlanError("kubeVersion %s skips a minor version from %s: upgrade one minor version at a time"
                        % (current["kubeVersion"], previous["kubeVersion"]))
    old_workers, new_workers = previous["workers"], current["workers"]
    removed, readdressed = removed_workers(previous, current)
    rebuilt = sorted(n for n in fresh if n in new_workers and n in old_workers and n not in readdressed)
    added = sorted(set(new_workers) - set(old_workers)) + readdressed + rebuilt
    runs = []
    for names, extra in (([n for n in removed if n not in unreachable], {}), ([n for n in removed if n in unreachable], UNGRACEFUL)):
        if names:
            runs.append({
                "playbook": "remove-node.yml",
                "extraVars": {"node": ",".join(names), "skip_confirmation": "yes", **extra},
                "removedHosts": {name: old_workers[name] for name in names},
            })
    if new_kube != old_kube or previous["kubesprayVersion"] != current["kubesprayVersion"]:
        runs.append({"playbook": "upgrade-cluster.yml"})
    elif (previous["varsHash"] != current["varsHash"]
          or previous.get("registryAuthDigest") != current.get("registryAuthDigest")
          or _schedulable(previous) != _schedulable(current)):
        # New settings, the nodes' registry account changed (rotated, or not yet configured), or the
        # control plane joins or leaves kube_node (all-in-one <-> workers).
        runs.append({"playbook": "cluster.yml"})
    if added:
        # Kubespray needs cached facts of every host to run with --limit (since v2.27).
        runs.append({"playbook": "playbooks/facts.yml"})
        runs.append({"playbook": "scale.yml", "limit": ",".join(added)})
    if _schedulable(previous) and not _schedulable(current):
        # Kubespray only removes the control-plane taint from nodes in kube_node and never puts it back
        # (roles/kubernetes/control-plane/tasks/kubeadm-setup.yml at v2.28.0); kubeadm sets it only at
        # init. Leaving all-in-one therefore taints the control plane here. NoSchedule, as kubeadm's:
        # running pods stay until they are rescheduled.
        runs.append({"taint": sorted(current["controlPlane"])})
    return runs


def _known_hosts_options(known_hosts):
    """Only the pinned keys count: no key learned on first use, no other known_hosts file."""
    return ["-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=%s" % known_hosts, "-o", "GlobalKnownHostsFile=/dev/null"]


def _ssh(settings, key, host, command, stdin=None):
    """`key` sits in the run's private directory, next to the known_hosts the bundle brought."""
    return subprocess.run(
        ["ssh", "-i", key, "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-o", "LogLevel=ERROR",
         *_known_hosts_options(os.path.join(os.path.dirname(key), "known_hosts")),
         "%s@%s" % (settings["adminUser"], host), command],
        input=stdin, capture_output=True, text=True)


def _answers_ssh(settings, key, address, attempts=3, pause=10):
    """A bounded attempt (about a minute) to reach a host with its pinned key."""
    for attempt in range(attempts):
        if _ssh(settings, key, address, "true").returncode == 0:
            return True
        if attempt + 1 < attempts:
            time.sleep(pause)
    return False


def _download(url, target, sha256):
    """The file at `url`, kept only when it has the sha256 the stack pins (a tarball over plain http
    is trusted by nothing else)."""
    if not sha256:
        raise SystemExit("%s: no sha256 pinned for it (kubernetes.kubespraySource.sha256)" % url)
    with urllib.request.urlopen(url, timeout=120) as response, open(target + ".part", "wb") as out:
        shutil.copyfileobj(response, out)
    digest = hashlib.sha256(open(target + ".part", "rb").read()).hexdigest()
    if digest != sha256:
        os.remove(target + ".part")
        raise SystemExit("%s: sha256 %s does not match the pinned %s" % (url, digest, sha256))
    os.rename(target + ".part", target)


def _kubespray(settings, cache):
    # Keyed by the pinned sha256 too: a tarball pinned anew is never mixed up with the one unpacked before.
    source = os.path.join(cache, "kubespray", "%s-%s" % (settings["kubesprayVersion"], settings["kubespraySha256"][:16]))
    if not os.path.exists(os.path.join(source, "cluster.yml")):
        os.makedirs(os.path.dirname(source), exist_ok=True)
        archive = source + ".tar.gz"
        _download(settings["kubesprayUrl"], archive, settings.get("kubespraySha256"))
        unpack = tempfile.mkdtemp(dir=os.path.dirname(source))
        with tarfile.open(archive) as tar:
            # "data": no absolute paths, no links out of the tree, no device files. Python 3.12
            # (noble's) has it, as do 3.8.17+, 3.9.17+, 3.10.12+ and 3.11.4+; a hand-made check
            # would miss links made by earlier members, so an older Python is refused instead.
            if not hasattr(tarfile, "data_filter"):
                raise SystemExit("%s: this Python's tarfile has no data filter; run the runner with Python 3.12 (Ubuntu 24.04)" % archive)
            tar.extractall(unpack, filter="data")
        (top,) = os.listdir(unpack)
        shutil.rmtree(source, ignore_errors=True)
        os.rename(os.path.join(unpack, top), source)
        os.rmdir(unpack)
    return source


SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def pip_index_options(index_url, ca_bundle=SYSTEM_CA_BUNDLE):
    """pip's options for the contour's index. pip ignores a plain-http index unless its host is
    trusted ("not a trusted or secure host and is being ignored"), and checks https against its own
    certifi bundle, which does not hold the local CA: so https gets the system bundle (where
    cloud-init and the CA command put the local CA), and http its host trusted, said out loud."""
    options = ["--index-url", index_url]
    parsed = urllib.parse.urlsplit(index_url)
    if parsed.scheme == "http":
        say("erpdc: the Python index %s is plain http; pip is told to trust %s" % (index_url, parsed.hostname))
        options += ["--trusted-host", parsed.hostname]
    elif os.path.exists(ca_bundle):
        options += ["--cert", ca_bundle]
    return options


def install_venv(venv, index_url, requirements, ca_bundle=SYSTEM_CA_BUNDLE):
    """A venv with `requirements` (pip arguments) from the index; done only once it is complete."""
    done = os.path.join(venv, ".erpdc-complete")
    if os.path.exists(done):
        return
    shutil.rmtree(venv, ignore_errors=True)  # a venv from a run that stopped midway is not trusted
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    # Only the contour's index counts: no pip configuration or PIP_* variable of the machine may add
    # another index, a certificate or a constraint; and REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE would
    # override --cert (requests takes them for every request that names no bundle itself).
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PIP_") and key not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env["PIP_CONFIG_FILE"] = os.devnull
    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--disable-pip-version-check",
                    *pip_index_options(index_url, ca_bundle), *requirements], check=True, env=env)
    with open(done, "w") as marker:
        marker.write(" ".join(requirements) + "\n")


def _ansible(settings, cache, source):
    venv = os.path.join(cache, "ansible", "%s-%s" % (settings["kubesprayVersion"], settings["ansibleCore"]))
    install_venv(venv, settings["pythonIndexUrl"],
                 ["ansible-core==" + settings["ansibleCore"], "-r", os.path.join(source, "requirements.txt")])
    return os.path.join(venv, "bin", "ansible-playbook")


def _taint_control_plane(settings, key, current, nodes):
    """Node names are the inventory names (Kubespray taints `inventory_hostname`); kubectl is in its
    bin_dir, /usr/local/bin (kubespray_defaults/defaults/main/main.yml at v2.28.0)."""
    first = current["controlPlane"][nodes[0]]
    for node in nodes:
        result = _ssh(settings, key, first,
                      "sudo /usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf taint node --overwrite %s "
                      "node-role.kubernetes.io/control-plane:NoSchedule" % shlex.quote(node))
        if result.returncode != 0:
            raise SystemExit("could not taint the control-plane node %s: %s" % (node, result.stderr.strip()))


def _describe(run):
    return run["playbook"] if "playbook" in run else "taint of %s" % ", ".join(run["taint"])


STARTED = time.monotonic()


def say(message):
    """A progress line: on stderr, which pulumi up shows as the step runs (the command logs only
    stderr); stdout holds Ansible's whole output, kept secret in the state."""
    print(message, file=sys.stderr, flush=True)


def elapsed():
    """The time since the runner started, as +H:MM:SS for its progress lines."""
    seconds = int(time.monotonic() - STARTED)
    return "+%d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def is_progress(line):
    """Ansible's PLAY and TASK headers and its recap: where a long run is, without any value."""
    return line.startswith(("PLAY [", "TASK [", "PLAY RECAP"))


def _run_playbook(playbook_bin, source, work, settings, run, log_dir):
    inventories = ["-i", os.path.join(work, "inventory", "hosts.yaml")]
    if run.get("removedHosts"):
        removed = os.path.join(work, "inventory", "removed.json")
        hosts = {name: {"ansible_host": address, "ip": address, "access_ip": address}
                 for name, address in run["removedHosts"].items()}
        with open(removed, "w") as out:
            json.dump({"all": {"hosts": hosts, "children": {"kube_node": {"hosts": {n: None for n in hosts}}}}}, out)
        inventories += ["-i", removed]
    command = [playbook_bin, *inventories, "--private-key", os.path.join(work, "id_admin"),
               "-u", settings["adminUser"], "-b", run["playbook"]]
    if run.get("limit"):
        command += ["--limit", run["limit"]]
    for key, value in sorted(run.get("extraVars", {}).items()):
        command += ["-e", "%s=%s" % (key, value)]
    # Kubespray's ansible.cfg turns host key checking off (host_key_checking=False, and
    # UserKnownHostsFile=/dev/null in ssh_args, at v2.28.0); the environment overrides both, keeping
    # its other ssh_args, so that Ansible talks only to hosts with the pinned keys.
    ssh_args = ["-o", "ControlMaster=auto", "-o", "ControlPersist=30m", "-o", "ConnectionAttempts=100",
                *_known_hosts_options(os.path.join(work, "known_hosts"))]
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="True", ANSIBLE_SSH_ARGS=" ".join(ssh_args), ANSIBLE_SSH_RETRIES="5",
               ANSIBLE_TIMEOUT="60", ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    log_path = os.path.join(log_dir, "kubespray-%s-%s.log" % (stamp, os.path.basename(run["playbook"])))
    for attempt in (1, 2):
        say("erpdc: %s running %s (attempt %d), log %s" % (elapsed(), " ".join(command[len(inventories) + 1:]), attempt, log_path))
        with open(log_path, "a") as log:
            process = subprocess.Popen(command, cwd=source, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for line in process.stdout:
                sys.stdout.write(line)
                log.write(line)
                if is_progress(line):
                    say("%s %s" % (elapsed(), line.rstrip("\n").rstrip(" *")))
            process.wait()
        if process.returncode != UNREACHABLE:
            break
        say("erpdc: some hosts were unreachable; retrying once")
    if process.returncode != 0:
        raise SystemExit("%s failed with exit code %d; see %s" % (run["playbook"], process.returncode, log_path))

RECORD_FORMAT = 2  # 2 adds knownHosts (the nodes' pinned keys); 1 had the manifest only
JOURNAL_FORMAT = 1
NO_RECORD = 3  # the exit code of the read command when a node has no such file


def _documents(answers):
    """The documents the control-plane nodes returned, and the nodes that could not be read."""
    documents, unreadable = [], []
    for node, (code, output) in sorted(answers.items()):
        if code == 0:
            documents.append(json.loads(output))
        elif code != NO_RECORD:
            unreadable.append("%s (exit %d: %s)" % (node, code, output.strip()[:200]))
    return documents, unreadable


def choose_record(answers):
    """The last applied record from the control-plane nodes' answers, or None for a new cluster.

    `answers` maps a node to (exit code, output) of reading its record: 0 with the record, NO_RECORD
    when the node has none, anything else when it could not be read. A record is
    {"format": 2, "appliedAt": ..., "manifest": {...}, "knownHosts": "..."}; format 1 had no
    knownHosts, and one from before the format is a bare manifest.
    Only when every node answered "no record" is the cluster new: an unreadable node is never taken
    for an empty one, which would run cluster.yml on a live cluster.
    """
    documents, unreadable = _documents(answers)
    records = [document if "format" in document else {"format": 0, "appliedAt": "", "manifest": document} for document in documents]
    if any(record["format"] > RECORD_FORMAT for record in records):
        raise SystemExit("a control-plane node holds a record of a newer format than this runner reads; update the program")
    if records:
        newest = max(records, key=lambda record: record["appliedAt"])
        return {"manifest": newest["manifest"], "knownHosts": newest.get("knownHosts", "")}
    if unreadable:
        raise SystemExit("could not read the applied record on %s; refusing to take the cluster for a new one" % ", ".join(unreadable))
    return None


def choose_journal(answers):
    """The journal of a run that has not finished, or None. Every control-plane node holds a copy;
    one that cannot be read stops the run, since it may hold the only copy of a newer journal."""
    journals, unreadable = _documents(answers)
    if unreadable:
        raise SystemExit("could not read the run journal on %s; refusing to run Kubespray before it can be" % ", ".join(unreadable))
    if any(journal["format"] > JOURNAL_FORMAT for journal in journals):
        raise SystemExit("a control-plane node holds a journal of a newer format than this runner reads; update the program")
    return max(journals, key=lambda journal: (journal["startedAt"], journal["finished"])) if journals else None


# What a run changes, in the operator's words: the manifest keys that make its target.
TARGET_KEYS = {
    "kubesprayVersion": "kubernetes.kubesprayVersion",
    "kubeVersion": "kubernetes.kubeVersion",
    "varsHash": "the cluster settings (group_vars)",
    "registryAuthDigest": "the nodes' registry account",
    "controlPlane": "the control-plane nodes",
    "workers": "the workers",
    "controlPlaneSchedulable": "whether the control plane runs workloads",
}


def resume_runs(journal, current):
    """The runs an interrupted run still owes, when the config still asks for its target. When it
    asks for something else, the cluster is neither here nor there: refused, with what differs."""
    target = journal["target"]
    differences = ["%s (the run's %s, now %s)" % (label, json.dumps(target.get(key)), json.dumps(current.get(key)))
                   for key, label in TARGET_KEYS.items() if target.get(key) != current.get(key)]
    runs = journal["runs"]
    if not differences:
        return runs[journal["finished"]:]
    done = [_describe(run) for run in runs[:journal["finished"]]] or ["nothing"]
    left = [_describe(run) for run in runs[journal["finished"]:]]
    raise PlanError(
        "the Kubespray run started %s stopped after %s, before %s, so the cluster is partly changed; "
        "the config now asks for something else: %s. Set those keys back to the run's values and run "
        "pulumi up again, which finishes the run; then make the new change. (Only if the cluster was "
        "repaired by hand: remove %s on every control-plane node.)"
        % (journal["startedAt"], ", ".join(done), ", ".join(left), "; ".join(differences), JOURNAL))


def _read_everywhere(settings, key, current, path):
    read = "sudo sh -c 'if [ -e %s ]; then cat %s; else exit %d; fi'" % (path, path, NO_RECORD)
    answers = {}
    for name, address in sorted(current["controlPlane"].items()):
        result = _ssh(settings, key, address, read)
        answers[name] = (result.returncode, result.stdout if result.returncode == 0 else result.stderr)
    return answers


def _write_everywhere(settings, key, current, path, document):
    """To every control-plane node, so that losing one loses no history."""
    text = json.dumps(document)
    for name, address in sorted(current["controlPlane"].items()):
        result = _ssh(settings, key, address, "sudo install -D -m 0600 /dev/stdin %s" % path, stdin=text)
        if result.returncode != 0:
            raise SystemExit("could not write %s on %s: %s" % (path, name, result.stderr.strip()))


def _write_record(settings, key, current, manifest, known_hosts):
    record = {"format": RECORD_FORMAT, "appliedAt": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "manifest": manifest, "knownHosts": known_hosts}
    _write_everywhere(settings, key, current, APPLIED, record)


def _remove_journal(settings, key, current):
    for name, address in sorted(current["controlPlane"].items()):
        result = _ssh(settings, key, address, "sudo rm -f %s" % JOURNAL)
        if result.returncode != 0:
            raise SystemExit("could not remove %s on %s: %s" % (JOURNAL, name, result.stderr.strip()))


def merged_known_hosts(*texts):
    """known_hosts lines of several sources, each address and name pinned once: a line any of whose
    names an earlier source already pins is dropped (a reused address keeps the current VM's key)."""
    lines, seen = [], set()
    for text in texts:
        for line in (text or "").splitlines():
            if not line.strip():
                continue
            patterns = set(line.split()[0].split(","))
            if patterns & seen:
                continue
            seen |= patterns
            lines.append(line)
    return "".join(line + "\n" for line in lines)


def recheck_removals(journal, answers):
    """In an unfinished graceful remove-node run, the hosts that do not answer any more (they went
    away while the run was stopped) move to an ungraceful run of their own right after it; those
    that answer are still drained and reset. Returns the hosts moved."""
    switched = []
    done, pending = journal["runs"][:journal["finished"]], journal["runs"][journal["finished"]:]
    runs = []
    for run in pending:
        runs.append(run)
        if run.get("playbook") != "remove-node.yml" or run["extraVars"].get("reset_nodes") == "false":
            continue
        gone = sorted(name for name, address in run["removedHosts"].items() if not answers(address))
        if not gone:
            continue
        stay = [name for name in run["extraVars"]["node"].split(",") if name not in gone]
        ungraceful = {
            "playbook": "remove-node.yml",
            "extraVars": {**run["extraVars"], "node": ",".join(gone), **UNGRACEFUL},
            "removedHosts": {name: run["removedHosts"][name] for name in gone},
        }
        if stay:
            run["extraVars"]["node"] = ",".join(stay)
            run["removedHosts"] = {name: run["removedHosts"][name] for name in stay}
            runs.append(ungraceful)
        else:
            runs[-1] = ungraceful
        switched += gone
    journal["runs"] = done + runs
    return switched


def _plan(settings, key, current, known_hosts_path, known_hosts):
    """A new journal for the change from the applied record to `current`, or None when nothing runs."""
    record = choose_record(_read_everywhere(settings, key, current, APPLIED))
    previous = record["manifest"] if record else None
    fresh, unreachable = [], []
    if previous is not None:
        for name, address in sorted({**current["controlPlane"], **current["workers"]}.items()):
            probe = _ssh(settings, key, address, "test -e /etc/kubernetes/kubelet.conf")
            if probe.returncode == 1:
                fresh.append(name)
            elif probe.returncode != 0:
                raise SystemExit("cannot reach %s (%s) over SSH: %s" % (name, address, probe.stderr.strip()))
        # A leaving worker is reset only when it answers with the key pinned for it when it joined;
        # one that is gone (or predates pinned keys) is removed without being touched.
        old_known = record.get("knownHosts", "")
        with open(known_hosts_path, "w") as out:
            out.write(merged_known_hosts(known_hosts, old_known))
        pinned = {line.split()[0].split(",")[0] for line in old_known.splitlines() if line.strip()}
        for name in removed_workers(previous, current)[0]:
            address = previous["workers"][name]
            if address not in pinned:
                say("erpdc: the record pins no host key for %s (%s); removing it without a reset" % (name, address))
                unreachable.append(name)
            elif not _answers_ssh(settings, key, address):
                say("erpdc: %s (%s) does not answer with its pinned host key; removing it without a reset" % (name, address))
                unreachable.append(name)
    runs = plan_runs(previous, current, fresh, unreachable)
    if not runs:
        if record is None or record["manifest"] != current or record.get("knownHosts") != known_hosts:
            _write_record(settings, key, current, current, known_hosts)
        return None
    return {"format": JOURNAL_FORMAT, "startedAt": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "target": current, "runs": runs, "finished": 0,
            "knownHosts": merged_known_hosts(known_hosts, record.get("knownHosts", "") if record else "")}


def main():
    bundle = json.load(sys.stdin)
    settings, current, known_hosts = bundle["settings"], bundle["manifest"], bundle["knownHosts"]
    cache = os.path.join(os.path.expanduser("~"), ".cache", "erpdc")
    log_dir = os.path.join(os.path.expanduser("~"), ".local", "state", "erpdc", "logs")
    os.makedirs(log_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="erpdc-kubespray-")  # mode 0700
    try:
        os.umask(0o077)
        for relative, content in bundle["files"].items():
            path = os.path.join(work, "inventory", relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as out:
                out.write(content)
        key = os.path.join(work, "id_admin")
        with open(key, "w") as out:
            out.write(bundle["privateKey"])
        os.chmod(key, 0o600)
        known_hosts_path = os.path.join(work, "known_hosts")
        with open(known_hosts_path, "w") as out:
            out.write(known_hosts)

        journal = choose_journal(_read_everywhere(settings, key, current, JOURNAL))
        try:
            if journal is not None and journal["finished"] >= len(journal["runs"]):
                # Every step had finished; only the record and the cleanup were missing.
                _write_record(settings, key, current, journal["target"], journal["knownHosts"])
                _remove_journal(settings, key, current)
                journal = None
            if journal is not None:
                resume_runs(journal, current)  # refuses when the config has moved on
                say("erpdc: resuming the run started %s: %d of %d step(s) done" % (journal["startedAt"], journal["finished"], len(journal["runs"])))
                # The bundle's pins first (the program's current keys), then the journal's for nodes that leave.
                with open(known_hosts_path, "w") as out:
                    out.write(merged_known_hosts(known_hosts, journal["knownHosts"]))
                for name in recheck_removals(journal, lambda address: _answers_ssh(settings, key, address)):
                    say("erpdc: %s does not answer with its pinned host key any more; removing it without a reset" % name)
            else:
                journal = _plan(settings, key, current, known_hosts_path, known_hosts)
        except PlanError as error:
            raise SystemExit("erpdc: refusing to run Kubespray: %s" % error)
        if journal is None:
            say("erpdc: the cluster already matches; no playbook to run")
            return
        _write_everywhere(settings, key, current, JOURNAL, journal)
        source = _kubespray(settings, cache)
        playbook_bin = _ansible(settings, cache, source)
        for index in range(journal["finished"], len(journal["runs"])):
            run = journal["runs"][index]
            if "taint" in run:
                _taint_control_plane(settings, key, current, run["taint"])
            else:
                _run_playbook(playbook_bin, source, work, settings, run, log_dir)
            journal["finished"] = index + 1
            _write_everywhere(settings, key, current, JOURNAL, journal)
        _write_record(settings, key, current, current, known_hosts)
        _remove_journal(settings, key, current)
        say("erpdc: %s applied %s" % (elapsed(), ", ".join(_describe(run) for run in journal["runs"])))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
