import { strict as assert } from "assert";
import bcrypt from "bcryptjs";
import YAML from "yaml";
import { atom, nsSysConfig, nsUnit, renderTerm, tuple } from "../../../dns/nsConfig";
import { htpasswdLine, nginxSites, registryConfig } from "../../../infraServices/services";

describe("registry configuration", () => {
    it("stores on the data disk, allows deletes and authenticates with htpasswd", () => {
        const config = YAML.parse(registryConfig({ rootDirectory: "/srv/registry", listen: "127.0.0.1:5000", htpasswdPath: "/etc/docker/registry/htpasswd", realm: "r" }));
        assert.equal(config.storage.filesystem.rootdirectory, "/srv/registry");
        assert.equal(config.storage.delete.enabled, true);
        assert.deepEqual(config.auth.htpasswd, { realm: "r", path: "/etc/docker/registry/htpasswd" });
        assert.equal(config.http.addr, "127.0.0.1:5000");
    });

    it("writes a bcrypt htpasswd line that verifies, and the same line for the same password", () => {
        const line = htpasswdLine("erpdc", "correct horse");
        const [user, hash] = line.trim().split(":");
        assert.equal(user, "erpdc");
        assert.match(hash as string, /^\$2b\$10\$/);
        assert.ok(bcrypt.compareSync("correct horse", hash as string));
        assert.ok(!bcrypt.compareSync("wrong horse", hash as string));
        assert.equal(htpasswdLine("erpdc", "correct horse"), line);
        assert.notEqual(htpasswdLine("erpdc", "other"), line);
    });
});

describe("nginx sites", () => {
    const site = (name: string) => ({ serverName: `${name}.erp.uno`, listenPort: 443, certificate: `/tls/${name}.crt`, certificateKey: `/tls/${name}.key` });
    const conf = nginxSites({
        registry: { ...site("registry"), upstream: "127.0.0.1:5000" },
        charts: { ...site("charts"), root: "/srv/charts" },
        files: { ...site("files"), root: "/srv/files" },
    });

    it("puts no limit on pushed layers and streams chunked uploads to the registry", () => {
        const registry = conf.split("server {")[1] as string;
        assert.match(registry, /server_name registry\.erp\.uno;/);
        assert.match(registry, /client_max_body_size 0;/);
        assert.match(registry, /proxy_request_buffering off;/);
        assert.match(registry, /proxy_pass http:\/\/127\.0\.0\.1:5000;/);
    });

    it("serves TLS only, with each service's own certificate", () => {
        for (const name of ["registry", "charts", "files"]) {
            assert.match(conf, new RegExp(`ssl_certificate /tls/${name}\\.crt;`));
        }
        assert.equal((conf.match(/listen 443 ssl;/g) ?? []).length, 3);
        assert.ok(!/listen 80/.test(conf));
    });
});

describe("synrc/ns configuration", () => {
    it("renders Erlang terms with escaped strings and plain atoms only", () => {
        assert.equal(renderTerm(tuple(atom("a"), 'q"uote\\', 1, [true])), '{a, "q\\"uote\\\\", 1, [\n  true\n]}');
        assert.throws(() => renderTerm(atom("Bad Atom")), /not a plain Erlang atom/);
    });

    it("listens on the infra VM's address, port 53, without root hints, and finds the zone", () => {
        const config = nsSysConfig({ listenAddress: "10.0.0.5", port: 53, zonePath: "/zones/erp.uno.zone.json" });
        assert.match(config, /\{address, "10\.0\.0\.5"\}/);
        assert.match(config, /\{port, 53\}/);
        assert.match(config, /\{use_root_hints, false\}/);
        assert.match(config, /\{zones, "\/zones\/erp\.uno\.zone\.json"\}/);
        assert.ok(config.trimEnd().endsWith("]."));
    });

    it("caps the service's memory above its measured ~60 MB footprint", () => {
        const unit = nsUnit("erp.uno", 128);
        assert.match(unit, /^MemoryMax=128M$/m);
        assert.match(unit, /^MemoryHigh=96M$/m);
        assert.match(unit, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    });
});
