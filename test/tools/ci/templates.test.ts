// The CI templates users copy: parsed as YAML, validated by the registries' schema tools, and checked
// for the flow the README promises.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { auditFiles } from "../../../render/audit";
import { ROOT } from "../../../render/stackConfig";

// The validator ships a CommonJS build without ES module types, so it is loaded with require.
const { validateWorkflow } = require("@action-validator/core") as { validateWorkflow(source: string): { errors: unknown[] } };

const GITHUB = path.join(ROOT, ".github", "workflows", "infrastructure.yml");
const GITLAB = path.join(ROOT, ".gitlab-ci.yml");

const GITLAB_CI_LOCAL = path.join(ROOT, "node_modules", "gitlab-ci-local", "src", "index.js");

interface Run {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs gitlab-ci-local once per argument list in a throwaway repository holding `source` as .gitlab-ci.yml. */
function gitlabCiLocal(source: string, runs: string[][], env: NodeJS.ProcessEnv = process.env): Run[] {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-gitlab-"));
    try {
        fs.writeFileSync(path.join(dir, ".gitlab-ci.yml"), source);
        const git = (...args: string[]) => spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@erp.uno", ...args], { cwd: dir });
        git("init", "-q");
        git("add", ".");
        git("commit", "-qm", "ci");
        return runs.map((args) => spawnSync(process.execPath, [GITLAB_CI_LOCAL, ...args], { cwd: dir, encoding: "utf8", env, timeout: 60000 }));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function gitlabLint(source: string): { status: number | null; output: string } {
    const [run] = gitlabCiLocal(source, [["--list"]]) as [Run];
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("CI templates", function () {
    this.timeout(120000);
    const github = fs.readFileSync(GITHUB, "utf8");
    const gitlab = fs.readFileSync(GITLAB, "utf8");

    it("the GitHub workflow passes the SchemaStore schema (action-validator), and a broken one does not", () => {
        assert.deepEqual(validateWorkflow(github).errors, []);
        assert.ok(validateWorkflow("on: push\njobs:\n  x:\n    runs-on: [a]\n    steps: 7\n").errors.length > 0);
    });

    it("the GitLab pipeline passes GitLab's JSON schema (gitlab-ci-local), and a broken one does not", () => {
        const good = gitlabLint(gitlab);
        assert.equal(good.status, 0, good.output);
        assert.match(good.output, /json schema validated/);
        const bad = gitlabLint("stages: [a]\njob:\n  stage: a\n  script: 7\n  when: sometimes\n");
        assert.notEqual(bad.status, 0, bad.output);
    });

    // Which secrets a job can read: the names its definition references (GitHub: `secrets.NAME`;
    // GitLab: any variable that is neither predefined nor one of the template's own non-secret ones).
    const githubSecrets = (job: unknown): string[] => [...new Set([...JSON.stringify(job).matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1] as string))].sort();
    const GITLAB_PLAIN = new Set(["STACK", "NPM_MIRROR", "NPM_CONFIG_REGISTRY", "PULUMI_SKIP_UPDATE_CHECK", "GIT_DEPTH", "PULUMI_CONFIG_PASSPHRASE_FILE"]);
    const gitlabSecrets = (job: unknown): string[] =>
        [...new Set([...JSON.stringify(job).matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string))]
            .filter((name) => !name.startsWith("CI_") && !GITLAB_PLAIN.has(name))
            .sort();
    const runs = (job: any): string => [...(job.steps ?? []).map((s: any) => s.run ?? ""), ...(job.before_script ?? []), ...(job.script ?? [])].join("\n");
    const STATEFUL = /\bpulumi\s+(up|refresh|destroy|import|cancel|state|stack)\b/;

    it("GitHub: pull-request code gets no write credential, reaches state only as an approved preview on its own runners, and only main's code updates", () => {
        const workflow = YAML.parse(github);
        assert.deepEqual(Object.keys(workflow.on).sort(), ["pull_request", "push"], "no pull_request_target or workflow_run: they run with the base branch's secrets");
        assert.deepEqual(workflow.permissions, {}, "each job asks for its own token scopes");
        assert.deepEqual(githubSecrets(workflow.env), [], "a workflow-level secret reaches every job, pull-request ones included");
        const jobs = Object.entries(workflow.jobs) as [string, any][];
        const onPullRequest = jobs.filter(([, job]) => job.if === undefined || /pull_request/.test(job.if));
        const updates = jobs.filter(([, job]) => /\bpulumi up\b/.test(runs(job)));
        assert.deepEqual(updates.map(([name]) => name), ["up", "up-production"]);
        for (const [name, job] of jobs) {
            if (githubSecrets(job).length > 0) assert.ok(job.environment, `${name} reads secrets outside an environment (repository secrets reach pull requests)`);
            for (const step of job.steps) {
                if (step.uses) {
                    assert.match(step.uses, /^actions\/checkout@v4$/, "only the checkout action bundled with GitHub Enterprise Server");
                    assert.equal(step.with?.["persist-credentials"], false, `${name}: the token stays out of .git/config, where the checked-out code can read it`);
                }
                assert.ok(!/\$\{\{/.test(step.run ?? ""), `${name}: expressions reach scripts through env, never pasted into them`);
            }
        }
        for (const [name, job] of onPullRequest) {
            assert.ok(!job["runs-on"].includes("erp-deploy"), `${name} runs pull-request code on a deploy runner`);
            assert.ok(!STATEFUL.test(runs(job)), `${name} runs a state-changing pulumi command`);
            const secrets = githubSecrets(job);
            if (secrets.length === 0) continue;
            assert.equal(job.environment, "preview-${{ matrix.stack }}", `${name}: secrets for pull-request code only behind the preview environments' reviewers`);
            assert.deepEqual(secrets, ["PULUMI_CONFIG_PASSPHRASE", "STATE_READ_ACCESS_KEY_ID", "STATE_READ_SECRET_ACCESS_KEY"]);
            assert.ok(job["runs-on"].includes("erp-preview"), name);
        }
        assert.deepEqual(onPullRequest.map(([name]) => name), ["checks", "artifacts", "preview"]);
        assert.deepEqual(workflow.jobs.preview.strategy.matrix.stack, ["dev", "staging", "production"]);
        assert.deepEqual(workflow.jobs.artifacts.strategy.matrix.stack, ["dev", "staging", "production"]);
        assert.ok(runs(workflow.jobs.preview).includes("--policy-pack policy"));
        for (const [name, job] of updates) {
            assert.equal(job.if, "github.event_name == 'push' && github.ref == 'refs/heads/main'", name);
            assert.ok(job["runs-on"].includes("erp-deploy"), name);
            assert.deepEqual(githubSecrets(job), ["PULUMI_CONFIG_PASSPHRASE", "PVE_SSH_KEY", "STATE_ACCESS_KEY_ID", "STATE_SECRET_ACCESS_KEY"]);
        }
        assert.deepEqual(workflow.jobs.up.strategy.matrix.stack, ["dev", "staging"]);
        assert.equal(workflow.jobs.up.environment, "${{ matrix.stack }}");
        assert.equal(workflow.jobs["up-production"].environment, "production");
        assert.equal(workflow.jobs["up-production"].needs, "up");
    });

    // GitLab's own rules decide which jobs a pipeline gets: gitlab-ci-local evaluates them and expands
    // `extends`, so the checks below see each job as GitLab runs it.
    function gitlabJobs(source: string, variables: Record<string, string>): { names: string[]; expanded: Record<string, any> } {
        const env = { ...process.env, GCL_IGNORE_PREDEFINED_VARS: Object.keys(variables).join(",") };
        const vars = Object.entries(variables).flatMap(([k, v]) => ["--variable", `${k}=${v}`]);
        const [list, preview] = gitlabCiLocal(source, [["--list-csv", ...vars], ["--preview"]], env) as [Run, Run];
        assert.equal(list.status, 0, list.stderr);
        assert.equal(preview.status, 0, preview.stderr);
        const names = list.stdout.split("\n").filter((line) => line.includes(";") && !line.startsWith("name;")).map((line) => line.split(";")[0] as string);
        return { names, expanded: YAML.parse(preview.stdout.slice(preview.stdout.indexOf("---"))) };
    }
    const baseJob = (name: string) => name.replace(/: \[.*\]$/, "");

    it("GitLab: merge-request pipelines run no pulumi and read no secret, on runners apart from the deploy pool; main previews then updates each stack, production by hand", () => {
        const mr = gitlabJobs(gitlab, { CI_PIPELINE_SOURCE: "merge_request_event", CI_MERGE_REQUEST_TARGET_BRANCH_NAME: "main" });
        assert.deepEqual(mr.names, ["checks", "artifacts: [dev]", "artifacts: [staging]", "artifacts: [production]"]);
        assert.deepEqual(gitlabSecrets(mr.expanded.variables), [], "pipeline-wide variables reach merge-request jobs");
        for (const name of new Set(mr.names.map(baseJob))) {
            const job = mr.expanded[name];
            assert.deepEqual(gitlabSecrets(job), [], `${name} reads a secret variable`);
            assert.ok(!/\bpulumi\b/.test(runs(job)), `${name} runs pulumi on merge-request code`);
            assert.ok(job.tags.includes("erp-mr") && !job.tags.includes("erp-deploy"), `${name} runs on ${job.tags}`);
        }
        assert.deepEqual(mr.expanded.artifacts.artifacts.paths, ["artifacts.diff"]);
        assert.ok(mr.expanded.artifacts.artifacts.expose_as, "the merge request widget links the diff");

        const main = gitlabJobs(gitlab, { CI_COMMIT_BRANCH: "main", CI_DEFAULT_BRANCH: "main" });
        assert.deepEqual(main.names, ["checks", "preview:dev", "up:dev", "preview:staging", "up:staging", "preview:production", "up:production"]);
        for (const name of main.names.filter((n) => /\bpulumi\b/.test(runs(main.expanded[n])))) {
            const job = main.expanded[name];
            assert.ok(job.tags.includes("erp-deploy") && !job.tags.includes("erp-mr"), `${name} runs on ${job.tags}`);
            assert.deepEqual(job.rules, name === "up:production" ? [{ if: "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", when: "manual" }] : [{ if: "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" }], name);
            assert.equal(job.environment.name, job.variables.STACK, `${name}: the environment scopes the stack's passphrase`);
        }
        assert.deepEqual(main.expanded["up:production"].needs.map((n: any) => n.job), ["preview:production"]);
        assert.match(runs(main.expanded["preview:production"]), /pulumi preview --stack "\$STACK" --policy-pack policy/);
    });

    // The update jobs' agent lines, run by bash with `pulumi up` replaced by a look at the agent and the
    // environment: the key is in the agent, not in pulumi's environment, and a stack that sets
    // proxmoxve:sshPrivateKey instead (no variable) does not fail the job.
    function agentLines(script: string): string {
        const lines = script.split("\n");
        const start = lines.findIndex((line) => line.includes("ssh-agent -s"));
        const end = lines.findIndex((line) => line.startsWith("pulumi up"));
        assert.ok(start >= 0 && end > start, script);
        return [...lines.slice(start, end), "ssh-add -l || true", 'echo "left: ${PVE_SSH_KEY:-}${PVE_SSH_KEY_B64:-}"'].join("\n");
    }
    function runAgent(script: string, env: Record<string, string>): string {
        const result = spawnSync("bash", ["-e", "-c", script], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env } });
        assert.equal(result.status, 0, result.stderr);
        return result.stdout;
    }

    it("both start the agent from the key when it is set, keep it out of pulumi's environment, and run without it", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-agent-"));
        try {
            spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "erpdc-ci-test", "-f", path.join(dir, "id")]);
            const key = fs.readFileSync(path.join(dir, "id"), "utf8");
            const workflow = YAML.parse(github);
            const githubStep = workflow.jobs["up-production"].steps.find((step: any) => /ssh-agent/.test(step.run ?? "")).run as string;
            const gitlabScript = (YAML.parse(gitlab)[".up"].script as string[]).join("\n");
            for (const [template, env] of [
                [agentLines(githubStep), { PVE_SSH_KEY: key }],
                [agentLines(gitlabScript), { PVE_SSH_KEY_B64: Buffer.from(key).toString("base64") }],
            ] as const) {
                const withKey = runAgent(template, env);
                assert.match(withKey, /erpdc-ci-test \(ED25519\)/);
                assert.match(withKey, /^left: $/m);
                assert.match(runAgent(template, {}), /The agent has no identities/);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("neither needs the internet at run time", () => {
        const findings = auditFiles(new Map([[".github/workflows/infrastructure.yml", github], [".gitlab-ci.yml", gitlab]]), ["erp.uno"]);
        assert.deepEqual(findings, []);
        assert.ok(!/npmjs|github\.com|get\.pulumi|pulumi\.com|curl -fsSL https/.test(github + gitlab));
    });
});
