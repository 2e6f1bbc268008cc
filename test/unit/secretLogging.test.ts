// No secret output of a command reaches a log: @pulumi/command logs a command's stdout and stderr
// as it runs unless `logging` excludes them (node_modules/@pulumi/command/remote/command.d.ts:
// "If there might be secrets in the output, you can disable logging here and mark the outputs as
// secret via 'additionalSecretOutputs'. Defaults to logging both stdout and stderr.").
import { strict as assert } from "assert";
import type { RecordedResource } from "../../render/engine";
import { runStackFile, STACKS } from "../helpers";

/** The streams a command's `logging` input sends to the log (the provider's default: both). */
function loggedStreams(command: RecordedResource): string[] {
    const logging = command.inputs.logging as string | undefined;
    switch (logging ?? "stdoutAndStderr") {
        case "stdoutAndStderr":
            return ["stdout", "stderr"];
        case "stdout":
            return ["stdout"];
        case "stderr":
            return ["stderr"];
        case "none":
            return [];
        default:
            throw new Error(`${command.name}: logging ${logging} is none of @pulumi/command's values`);
    }
}

describe("secret command outputs stay out of the logs", function () {
    this.timeout(60_000);
    for (const stack of STACKS) {
        it(`${stack}: every command whose stdout or stderr is secret does not log it`, async () => {
            const { resources } = await runStackFile(stack);
            const commands = resources.filter((r) => r.type === "command:remote:Command" || r.type === "command:local:Command");
            const leaks = commands.flatMap((command) => command.additionalSecretOutputs.filter((output) => loggedStreams(command).includes(output)).map((output) => `${command.name}: ${output}`));
            assert.deepEqual(leaks, []);
            // The admin kubeconfig is stdout of kubeconfig, and Ansible's whole output stdout of kubespray: both secret.
            for (const name of ["kubeconfig", "kubespray"]) {
                const command = commands.find((c) => c.name === name);
                assert.ok(command?.additionalSecretOutputs.includes("stdout"), `${name}'s stdout is not secret`);
                assert.equal(command !== undefined && loggedStreams(command).includes("stdout"), false, `${name} logs its stdout`);
            }
        });
    }
});
