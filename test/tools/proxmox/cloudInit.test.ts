// Real consumer check: Debian's cloud-init accepts every rendered document.
// Needs the `cloud-init` package (installed by .ci/run); fails, never skips, without it.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderStack } from "../../../render/render";
import { STACKS } from "../../helpers";
import { userData } from "../../../proxmox/cloudInit";
import { deterministicEd25519 } from "../../../render/mockKeys";

function cloudInit(...args: string[]): string {
    try {
        return execFileSync("cloud-init", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
        const failure = error as { code?: string; stdout?: string; stderr?: string };
        if (failure.code === "ENOENT") {
            throw new Error("cloud-init is not installed: apt-get install cloud-init (see .ci/run)");
        }
        throw new Error(`cloud-init ${args.join(" ")} failed:\n${failure.stdout ?? ""}${failure.stderr ?? ""}`);
    }
}

describe("cloud-init accepts the rendered documents", () => {
    let work: string;
    before(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-cloudinit-"))));
    after(() => fs.rmSync(work, { recursive: true, force: true }));

    for (const stack of STACKS) {
        describe(`the ${stack} stack`, () => {
            let documents: [string, string][];
            before(async () => {
                documents = [...(await renderStack(stack)).files].filter(([file]) => file.startsWith("cloud-init/"));
                assert.ok(documents.length >= 4);
            });

            it("every user-data passes `cloud-init schema`", () => {
                for (const [file, content] of documents.filter(([f]) => f.endsWith("/user-data"))) {
                    const target = path.join(work, stack, file);
                    fs.mkdirSync(path.dirname(target), { recursive: true });
                    fs.writeFileSync(target, content);
                    assert.match(cloudInit("schema", "--config-file", target), /Valid (cloud-config|schema)/, file);
                }
            });

            it("every network-config converts to systemd-networkd with the VM's address, route and resolvers", () => {
                for (const [file, content] of documents.filter(([f]) => f.endsWith("/network-config"))) {
                    const source = path.join(work, stack, file);
                    const output = path.join(work, stack, `${file}.networkd`);
                    fs.mkdirSync(path.dirname(source), { recursive: true });
                    fs.writeFileSync(source, content);
                    cloudInit("devel", "net-convert", "-p", source, "-k", "yaml", "-D", "ubuntu", "-O", "networkd", "-d", output);
                    const units = fs
                        .readdirSync(path.join(output, "etc/systemd/network"))
                        .map((unit) => fs.readFileSync(path.join(output, "etc/systemd/network", unit), "utf8"))
                        .join("\n");
                    const address = /addresses:\n\s+- (\S+)/.exec(content)?.[1];
                    const gateway = /via: (\S+)/.exec(content)?.[1];
                    const mac = /macaddress: (\S+)/.exec(content)?.[1];
                    assert.ok(units.includes(`Address=${address}`), `${file}: no Address=${address} in\n${units}`);
                    assert.match(units, new RegExp(`Gateway=${gateway?.replace(/\./g, "\\.")}`), file);
                    assert.match(units, new RegExp(`MACAddress=${mac}`, "i"), file);
                    assert.match(units, /DNS=/, file);
                }
            });
        });
    }

    it("a user-data with the local CA in its slot passes `cloud-init schema` too", () => {
        const pem = deterministicEd25519("ca-slot").publicKeyPem.replace(/PUBLIC KEY/g, "CERTIFICATE");
        const target = path.join(work, "with-ca-user-data");
        fs.writeFileSync(
            target,
            userData({
                hostname: "infra1",
                fqdn: "infra1.erp.uno",
                adminUser: "erpadmin",
                sshPublicKeys: [deterministicEd25519("ca-slot").publicKeyOpenssh.trim()],
                aptMirror: "http://10.0.0.2/ubuntu",
                ntpServers: ["10.0.0.1"],
                trustedCaCertificates: [pem],
            }),
        );
        assert.match(cloudInit("schema", "--config-file", target), /Valid (cloud-config|schema)/);
    });

    it("`cloud-init schema` does reject a broken document (the check can fail)", () => {
        const target = path.join(work, "broken-user-data");
        fs.writeFileSync(target, "#cloud-config\nusers: 42\npackages: {a: 1}\n");
        assert.throws(() => cloudInit("schema", "--config-file", target), /failed/);
    });
});
