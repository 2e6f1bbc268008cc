// The local CA as the README describes it, read from the tls resources the production stack
// registers: the expected values come from the stack file and the README, not from the code.
import { strict as assert } from "assert";
import { baselineRun, find, runStackFile } from "../../helpers";

describe("local CA (production)", () => {
    it("makes an ECDSA P-256 root CA valid for 10 years, and no private key in a plain output", async () => {
        const { resources, outputs } = await baselineRun("production");
        const key = find(resources, "ca-key");
        assert.equal(key.inputs.algorithm, "ECDSA");
        assert.equal(key.inputs.ecdsaCurve, "P256");
        assert.equal(find(resources, "ca-cert").inputs.validityPeriodHours, 10 * 365 * 24);
        for (const [name, output] of Object.entries(outputs)) {
            if (JSON.stringify(output?.value).includes("PRIVATE KEY")) assert.equal(output?.secret, true, `${name} holds a private key in a plain output`);
        }
    });

    it("gives registry, charts and files every infra VM's name and address as SANs (each VM serves them), renewed in their last 30 days", async () => {
        const { resources } = await baselineRun("production");
        for (const service of ["registry", "charts", "files"]) {
            const csr = find(resources, `${service}-csr`);
            assert.deepEqual(csr.inputs.dnsNames, [`${service}.erp.uno`, "infra1.erp.uno", "infra2.erp.uno"], service);
            assert.deepEqual(csr.inputs.ipAddresses, ["10.0.0.5", "10.0.0.6"], service);
            assert.equal(find(resources, `${service}-cert`).inputs.earlyRenewalHours, 30 * 24, service);
        }
    });

    it("lists one infra VM alone where a stack has one", async () => {
        const { resources } = await baselineRun("staging");
        const csr = find(resources, "registry-csr");
        assert.deepEqual(csr.inputs.dnsNames, ["registry.staging.erp.uno", "infra1.staging.erp.uno"]);
        assert.deepEqual(csr.inputs.ipAddresses, ["10.0.20.5"]);
    });
});
