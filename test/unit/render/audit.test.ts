import { strict as assert } from "assert";
import { auditFiles, firstBootFindings, mirrorList } from "../../../render/audit";
import { renderStack } from "../../../render/render";
import { fromConfigMap } from "../../../render/stackConfig";
import { plannedStack, stackDocument } from "../../helpers";

describe("air-gap audit", () => {
    it("finds nothing outside the contour in the production render", async () => {
        const { files } = await renderStack("production");
        const config = plannedStack("production");
        assert.deepEqual(auditFiles(files, config.internalDomains), []);
    });

    it("finds a public mirror with its file and line", async () => {
        const document = stackDocument("dev") as Record<string, any>;
        document["erpdc:mirrors"].apt = "http://archive.ubuntu.com/ubuntu";
        const { files } = await renderStack("dev", fromConfigMap(document));
        const findings = auditFiles(files, ["dev.erp.uno", "erp.uno"]);
        const userData = findings.filter((f) => f.file === "cloud-init/infra1/user-data");
        assert.equal(userData.length, 2, JSON.stringify(findings));
        assert.equal(userData[0]?.host, "archive.ubuntu.com");
        const lines = (files.get("cloud-init/infra1/user-data") as string).split("\n");
        assert.match(lines[(userData[0]?.line as number) - 1] as string, /uri: http:\/\/archive\.ubuntu\.com\/ubuntu/);
    });

    it("finds that every VM's first boot stays inside the contour, and names what a user-data lacks", async () => {
        const { files } = await renderStack("production");
        assert.deepEqual(firstBootFindings(files), []);
        const userData = files.get("cloud-init/infra1/user-data") as string;
        const broken = new Map([["cloud-init/infra1/user-data", userData.replaceAll("snapd.seeded.service ", "").replace("ENABLED=0", "ENABLED=1")]]);
        assert.deepEqual(firstBootFindings(broken).map((f) => f.text), ["snapd.seeded.service is not masked", "motd news is not turned off"]);
        // Stopped but not masked: it starts again at the next boot.
        const stoppedOnly = new Map([["cloud-init/infra1/user-data", userData.replace(/(systemctl mask [^;&|]*?)snapd\.seeded\.service /, "$1")]]);
        assert.deepEqual(firstBootFindings(stoppedOnly).map((f) => f.text), ["snapd.seeded.service is not masked"]);
    });

    it("counts an image without a registry as Docker Hub", () => {
        const findings = auditFiles(new Map([["x.yaml", "spec:\n  image: nginx:1.27\n  other: registry.erp.uno/erpuno/x:2026.11.1\n"]]), ["erp.uno"]);
        assert.deepEqual(findings.map((f) => [f.line, f.host]), [[2, "docker.io"]]);
    });

    it("lists what the stack needs mirrored: the OS image, files, charts and every component image", async () => {
        const { files } = await renderStack("production");
        const config = plannedStack("production");
        const mirrors = mirrorList(config, files);
        assert.match(mirrors.osImage, /noble-server-cloudimg-amd64\.img \(sha256 d1940f7d/);
        assert.ok(mirrors.files.includes(config.dns.nsArtifact.url));
        assert.equal(mirrors.images.filter((image) => image.includes("/erpuno/")).length, 31);
        assert.ok(mirrors.charts.some((chart) => chart.startsWith("argo-cd 8.6.4")));
    });

    it("lists the pinned files as SHA256SUMS lines the mirror can be checked with, the stack file's pins among them", async () => {
        const { files } = await renderStack("production");
        const stackFile = stackDocument("production") as Record<string, any>;
        const sums = mirrorList(plannedStack("production"), files).sha256sums;
        for (const line of sums) assert.match(line, /^[0-9a-f]{64} {2}\S+$/);
        assert.ok(sums.includes(`${stackFile["erpdc:kubernetes"].kubespraySource.sha256}  files/kubespray/kubespray-2.28.0.tar.gz`));
        assert.ok(sums.includes(`${stackFile["erpdc:image"].checksum}  files/cloud-images/noble/2026-07-26/noble-server-cloudimg-amd64.img`));
    });
});
