# Waits until an ArgoCD Application has synced what its spec asks for and is healthy, or fails with
# ArgoCD's own reason: the failed sync operation's message and the resources it names, or, at the time
# limit, the sync and health status, the conditions and the resources that are not there yet.
#
# Run by the apps layer on the first control-plane node, where Kubespray installs kubectl
# ({{ bin_dir }}/kubectl, roles/kubernetes/control-plane/tasks/main.yml at v2.28.0) next to the admin
# kubeconfig. Python 3 standard library only.
#
# Environment: APP_NAMESPACE, APP_NAME, TIMEOUT_SECONDS, POLL_SECONDS, and KUBECTL (the command, split
# on spaces). The fields read are ArgoCD's Application status (pkg/apis/application/v1alpha1/types.go
# at v3.1.8).
# Exit status: 0 ready, 1 the sync operation failed, 2 the time limit passed.
import json
import os
import subprocess
import sys
import time

# The fields of a source that say what is deployed; the controller copies spec.source into
# status.sync.comparedTo.source when it compares (controller/state.go at v3.1.8) and into
# status.operationState.syncResult.source when it syncs.
SOURCE_FIELDS = ("repoURL", "chart", "path", "targetRevision")
FAILED_PHASES = ("Failed", "Error")
RUNNING_PHASES = ("Running", "Terminating")


def deployed(source):
    """What a source deploys, without the fields the API server and the controller serialise differently."""
    source = source or {}
    helm = source.get("helm") or {}
    return (
        tuple(source.get(field) or "" for field in SOURCE_FIELDS),
        helm.get("releaseName") or "",
        json.dumps(helm.get("valuesObject") or {}, sort_keys=True),
    )


def dig(document, *keys):
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def verdict(app):
    """("ready" | "failed" | "waiting", summary) for one reading of the Application."""
    wanted = deployed(dig(app, "spec", "source"))
    sync = dig(app, "status", "sync", "status") or "Unknown"
    health = dig(app, "status", "health", "status") or "Unknown"
    compared_current = deployed(dig(app, "status", "sync", "comparedTo", "source")) == wanted
    operation = dig(app, "status", "operationState") or {}
    phase = operation.get("phase")
    operation_current = deployed(dig(operation, "syncResult", "source")) == wanted
    if phase in FAILED_PHASES and operation_current:
        # Completed for this spec, retries spent: automated sync does not try the same revision again
        # ("Skipping auto-sync: failed previous sync attempt", controller/appcontroller.go at v3.1.8).
        return "failed", report(app)
    if not compared_current:
        return "waiting", "ArgoCD has not compared the current spec yet"
    if phase in RUNNING_PHASES:
        return "waiting", f"sync operation {phase}: {operation.get('message') or ''}".strip()
    if sync == "Synced" and health == "Healthy" and (phase is None or phase == "Succeeded" or not operation_current):
        # A stale operation is fine once the current spec compares Synced: a change that renders the
        # same manifests starts no sync.
        return "ready", f"Synced and Healthy at {dig(app, 'status', 'sync', 'revision') or '?'}"
    return "waiting", f"sync {sync}, health {health}"


def report(app):
    """ArgoCD's own account of where the Application stands, one fact per line."""
    lines = []
    sync = dig(app, "status", "sync", "status") or "Unknown"
    health = dig(app, "status", "health") or {}
    lines.append(f"sync status: {sync} at revision {dig(app, 'status', 'sync', 'revision') or '?'}")
    lines.append(f"health: {health.get('status') or 'Unknown'}" + (f" ({health['message']})" if health.get("message") else ""))
    operation = dig(app, "status", "operationState") or {}
    if operation:
        message = operation.get("message")
        lines.append(f"last sync operation: {operation.get('phase')}" + (f": {message}" if message else ""))
        for resource in dig(operation, "syncResult", "resources") or []:
            failed = resource.get("status") not in (None, "Synced", "Pruned", "PruneSkipped") or resource.get("hookPhase") in FAILED_PHASES
            if failed:
                message = resource.get("message")
                lines.append(f"  {name_of(resource)}: {resource.get('status') or resource.get('hookPhase')}" + (f": {message}" if message else ""))
    for condition in dig(app, "status", "conditions") or []:
        lines.append(f"condition {condition.get('type')}: {condition.get('message')}")
    for resource in dig(app, "status", "resources") or []:
        resource_health = resource.get("health") or {}
        if resource.get("status") == "OutOfSync" or resource_health.get("status") not in (None, "Healthy"):
            detail = ", ".join(part for part in (resource.get("status"), resource_health.get("status"), resource_health.get("message")) if part)
            lines.append(f"  {name_of(resource)}: {detail}")
    return "\n".join(lines)


def name_of(resource):
    namespace = resource.get("namespace")
    return f"{resource.get('kind')} {namespace + '/' if namespace else ''}{resource.get('name')}"


def elapsed(since):
    """The time since `since` (time.monotonic()), as +H:MM:SS for the progress lines."""
    seconds = int(time.monotonic() - since)
    return "+%d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def read_application(kubectl, namespace, name):
    result = subprocess.run(
        [*kubectl, "get", "applications.argoproj.io", name, "--namespace", namespace, "--output", "json"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"kubectl exited with {result.returncode}")
    return json.loads(result.stdout)


def main():
    namespace = os.environ["APP_NAMESPACE"]
    name = os.environ["APP_NAME"]
    timeout = float(os.environ["TIMEOUT_SECONDS"])
    poll = float(os.environ["POLL_SECONDS"])
    kubectl = os.environ["KUBECTL"].split()
    started = time.monotonic()
    deadline = started + timeout
    last_said = None
    app = None
    last_error = None
    while True:
        try:
            app = read_application(kubectl, namespace, name)
            last_error = None
            state, summary = verdict(app)
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as error:
            # The API server restarting, or the Application not there yet: try again until the limit.
            last_error = str(error)
            state, summary = "waiting", f"cannot read the Application: {last_error}"
        if summary != last_said:
            print(f"{elapsed(started)} {namespace}/{name}: {summary}", file=sys.stderr, flush=True)
            last_said = summary
        if state == "ready":
            print(f"{namespace}/{name}: {summary}")
            return 0
        if state == "failed":
            # Automated sync does not try the same revision again after a failure, so `pulumi up`
            # would meet the same failed operation: say how to start a new one.
            print(f"ArgoCD could not sync {namespace}/{name}:\n{summary}\n"
                  f"ArgoCD does not retry a failed sync of the same spec by itself: once the cause is fixed, "
                  f"start a sync of {name} (ArgoCD's UI, or `argocd app sync {name}`), then run `pulumi up` again",
                  file=sys.stderr)
            return 1
        if time.monotonic() >= deadline:
            account = report(app) if app is not None else "the Application was never read"
            if last_error is not None:
                account += f"\nlast read failed: {last_error}"
            print(f"{namespace}/{name} is not Synced and Healthy after {timeout:g} s:\n{account}", file=sys.stderr)
            return 2
        time.sleep(poll)


if __name__ == "__main__":
    sys.exit(main())
