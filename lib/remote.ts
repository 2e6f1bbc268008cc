// Provisioning of running VMs over SSH with the admin key: files travel as a JSON bundle on the
// command's stdin (a secret input when any file is secret), never inside the command line, and a
// command runs again only when its files or script change.
import * as fs from "fs";
import * as path from "path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export interface RemoteFile {
    readonly path: string;
    readonly content: string;
    readonly mode?: string;
    readonly owner?: string;
    readonly group?: string;
    /** Write only when the file does not exist yet. */
    readonly keep?: boolean;
}

const INSTALL_FILES = fs.readFileSync(path.join(__dirname, "files", "install-files.py"), "utf8");

/** Installs Debian packages on a VM from its configured mirror, keeping configuration files the program wrote. */
export const APT_INSTALL = "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confold";

export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'"'"'`)}'`;
}

export interface ProvisionArgs {
    readonly connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
    readonly files: pulumi.Input<readonly pulumi.Input<RemoteFile>[]>;
    /** Shell run before the files are written (e.g. installing packages), with stdin closed. */
    readonly before?: string;
    /** Shell run after the files are written (e.g. a config test and a reload). */
    readonly after?: string;
}

/** The shell script of a provisioning command: before (stdin closed), write the bundle, after. */
export function provisionScript(args: Pick<ProvisionArgs, "before" | "after">): string {
    return [
        "set -eu",
        // stdin carries the bundle for the installer: nothing before it may read from it.
        args.before === undefined ? "" : `(\n${args.before}\n) </dev/null`,
        `sudo python3 -c ${shellQuote(INSTALL_FILES)}`,
        args.after ?? "",
    ]
        .filter((line) => line !== "")
        .join("\n");
}

export function provision(name: string, args: ProvisionArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    return new command.remote.Command(
        name,
        {
            connection: args.connection,
            create: provisionScript(args),
            stdin: pulumi.output(args.files).apply((files) => JSON.stringify({ files })),
        },
        opts,
    );
}
