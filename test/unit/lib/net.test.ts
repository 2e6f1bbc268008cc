import { strict as assert } from "assert";
import { hostOf, isInternalHost, parseNetwork } from "../../../lib/net";

describe("network helpers", () => {
    it("parses a network and knows its bounds", () => {
        const network = parseNetwork("10.0.0.0/24");
        assert.equal(network?.broadcast, "10.0.0.255");
        assert.equal(network?.contains("10.0.0.200"), true);
        assert.equal(network?.contains("10.0.1.1"), false);
        assert.equal(parseNetwork("10.0.0.7/24"), undefined);
        assert.equal(parseNetwork("10.0.0.0"), undefined);
    });

    it("tells names and addresses inside the contour from public ones", () => {
        const domains = ["erp.uno"];
        for (const host of ["10.0.0.2", "192.168.1.1", "registry.erp.uno", "erp.uno", "mirror", "files.corp.internal"]) {
            assert.equal(isInternalHost(host, domains), true, host);
        }
        for (const host of ["8.8.8.8", "archive.ubuntu.com", "docker.io", "erp.uno.evil.com", "notfromerp.uno"]) {
            assert.equal(isInternalHost(host, domains), false, host);
        }
    });

    it("finds the host of URLs and registry references", () => {
        assert.equal(hostOf("http://10.0.0.2/ubuntu"), "10.0.0.2");
        assert.equal(hostOf("registry.erp.uno:5000"), "registry.erp.uno");
        assert.equal(hostOf("https://charts.erp.uno/stable"), "charts.erp.uno");
    });
});
