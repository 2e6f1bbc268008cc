// The accounts the admin user may not take, against the Debian tools that create system accounts:
// base-passwd's static list and the users systemd's sysusers.d files declare on this machine.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { isSystemAccount } from "../../../proxmox/facts";

describe("system accounts", () => {
    it("include every user of base-passwd's passwd.master and of the sysusers.d files installed here", () => {
        const master = fs.readFileSync("/usr/share/base-passwd/passwd.master", "utf8");
        const users = master.split("\n").filter(Boolean).map((line) => line.split(":")[0] as string);
        const sysusers = "/usr/lib/sysusers.d";
        for (const file of fs.readdirSync(sysusers)) {
            for (const line of fs.readFileSync(path.join(sysusers, file), "utf8").split("\n")) {
                const [type, name] = line.trim().split(/\s+/);
                if (type === "u" && name !== undefined) users.push(name);
            }
        }
        assert.ok(users.length > 15, users.join(" "));
        assert.deepEqual(users.filter((name) => !isSystemAccount(name)), []);
        assert.ok(!isSystemAccount("erpadmin"));
    });
});
