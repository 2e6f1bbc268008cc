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

function gitlabLint(source: string): { status: number | null; output: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-gitlab-"));
    try {
        fs.writeFileSync(path.join(dir, ".gitlab-ci.yml"), source);
        const git = (...args: string[]) => spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@erp.uno", ...args], { cwd: dir });
        git("init", "-q");
        git("add", ".");
        git("commit", "-qm", "ci");
        const run = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "gitlab-ci-local", "src", "index.js"), "--list"], { cwd: dir, encoding: "utf8", timeout: 60000 });
        return { status: run.status, output: `${run.stdout}${run.stderr}` };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
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

    it("GitHub: previews every stack on pull requests, updates dev and staging on main, production behind an approval", () => {
        const workflow = YAML.parse(github);
        assert.deepEqual(workflow.jobs.preview.strategy.matrix.stack, ["dev", "staging", "production"]);
        assert.match(workflow.jobs.preview.if, /pull_request/);
        assert.ok(workflow.jobs.preview.steps.some((s: any) => /--policy-pack policy/.test(s.run ?? "")));
        assert.ok(workflow.jobs.preview.steps.some((s: any) => /issues\/\$PR_NUMBER\/comments/.test(s.run ?? "")));
        assert.deepEqual(workflow.jobs.up.strategy.matrix.stack, ["dev", "staging"]);
        assert.equal(workflow.jobs["up-production"].environment, "production");
        assert.equal(workflow.jobs["up-production"].needs, "up");
        for (const job of Object.values(workflow.jobs) as any[]) {
            assert.deepEqual(job["runs-on"], ["self-hosted", "erp-contour"]);
            for (const step of job.steps) {
                if (step.uses) assert.match(step.uses, /^actions\/checkout@v4$/, "only the checkout action bundled with GitHub Enterprise Server");
            }
        }
    });

    it("GitLab: the same flow, with a manual production job", () => {
        const pipeline = YAML.parse(gitlab);
        assert.deepEqual(pipeline.preview.parallel.matrix[0].STACK, ["dev", "staging", "production"]);
        assert.match(pipeline.preview.script.join("\n"), /merge_requests\/\$CI_MERGE_REQUEST_IID\/notes/);
        assert.equal(pipeline["up:production"].rules[0].when, "manual");
        assert.deepEqual(pipeline["up:production"].needs, ["up:staging"]);
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
