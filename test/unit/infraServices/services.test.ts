import { strict as assert } from "assert";
import bcrypt from "bcryptjs";
import YAML from "yaml";
import { htpasswdLine, nginxSites, registryConfig } from "../../../infraServices/services";

describe("registry configuration", () => {
    it("stores on the data disk, allows deletes, and listens on loopback only, leaving the accounts to nginx", () => {
        const config = YAML.parse(registryConfig({ rootDirectory: "/srv/registry", listen: "127.0.0.1:5000" }));
        assert.equal(config.storage.filesystem.rootdirectory, "/srv/registry");
        assert.equal(config.storage.delete.enabled, true);
        assert.equal(config.auth, undefined);
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
        registry: { ...site("registry"), upstream: "127.0.0.1:5000", htpasswd: "/etc/nginx/registry.htpasswd", realm: "ERP/1 registry", pushUser: "erpdc" },
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

    it("asks every registry request for an account, and lets only the push account write", () => {
        const registry = conf.split("server {")[1] as string;
        assert.match(registry, /auth_basic "ERP\/1 registry";/);
        assert.match(registry, /auth_basic_user_file \/etc\/nginx\/registry\.htpasswd;/);
        assert.match(registry, /if \(\$erpdc_registry_write_denied\) \{\s*return 403;/);
        const map = /map \$request_method:\$remote_user \$erpdc_registry_write_denied \{([^}]*)\}/.exec(conf)?.[1] ?? "";
        const rules = [...map.matchAll(/"?(~[^";\s]+|default)"?\s+(\d);/g)].map((m) => [m[1] as string, Number(m[2])] as const);
        // The map as nginx evaluates it: the first matching regex wins, else the default.
        const denied = (method: string, user: string) => {
            const key = `${method}:${user}`;
            const rule = rules.find(([pattern]) => pattern !== "default" && new RegExp(pattern.slice(1)).test(key));
            return (rule ?? rules.find(([pattern]) => pattern === "default"))?.[1];
        };
        assert.equal(denied("GET", "erpdc-pull"), 0);
        assert.equal(denied("HEAD", "erpdc-pull"), 0);
        assert.equal(denied("PUT", "erpdc"), 0);
        assert.equal(denied("POST", ""), 0, "an anonymous write must reach auth_basic and get its 401 challenge");
        assert.equal(denied("PUT", "erpdc-pull"), 1);
        assert.equal(denied("DELETE", "erpdc-pull"), 1);
        assert.equal(denied("PATCH", "erpdc2"), 1);
    });

    it("serves TLS only, with each service's own certificate", () => {
        for (const name of ["registry", "charts", "files"]) {
            assert.match(conf, new RegExp(`ssl_certificate /tls/${name}\\.crt;`));
        }
        assert.equal((conf.match(/listen 443 ssl;/g) ?? []).length, 3);
        assert.ok(!/listen 80/.test(conf));
    });
});
