// Configuration of the infra VM's services: the CNCF distribution registry, and nginx in front of
// it with TLS and the registry's accounts, plus the classic Helm repository and the files area.
// Plain data in, text out.
import YAML from "yaml";
import { bcryptHash } from "../lib/bcrypt";

export const PATHS = {
    data: "/srv",
    registryRoot: "/srv/registry",
    charts: "/srv/charts",
    files: "/srv/files",
    registryConfig: "/etc/docker/registry/config.yml",
    /** Where the registry kept its accounts before nginx took them over; removed when found. */
    legacyRegistryHtpasswd: "/etc/docker/registry/htpasswd",
    htpasswd: "/etc/nginx/registry.htpasswd",
    nginxSite: "/etc/nginx/conf.d/erpdc.conf",
    tlsDir: "/etc/nginx/tls",
} as const;

export interface RegistryConfigInput {
    readonly rootDirectory: string;
    /** Loopback only: nginx in front of it authenticates and authorizes every request. */
    readonly listen: string;
}

export function registryConfig(input: RegistryConfigInput): string {
    return YAML.stringify({
        version: 0.1,
        log: { level: "info", fields: { service: "registry" } },
        storage: {
            filesystem: { rootdirectory: input.rootDirectory },
            delete: { enabled: true },
            cache: { blobdescriptor: "inmemory" },
            maintenance: { uploadpurging: { enabled: true, age: "168h", interval: "24h", dryrun: false } },
        },
        http: { addr: input.listen, headers: { "X-Content-Type-Options": ["nosniff"] } },
        health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
    });
}

/** One htpasswd line (bcrypt), as nginx reads it (crypt(3) of libxcrypt on Ubuntu 24.04 and Debian 12). */
export function htpasswdLine(username: string, password: string): string {
    return `${username}:${bcryptHash(password, `htpasswd:${username}`)}\n`;
}

// A small model of nginx configuration, rendered by one function, so that values are quoted once.
export interface Directive {
    readonly name: string;
    readonly args?: readonly (string | number)[];
    readonly block?: readonly Directive[];
}

const d = (name: string, ...args: (string | number)[]): Directive => ({ name, args });
const block = (name: string, args: (string | number)[], children: Directive[]): Directive => ({ name, args, block: children });

export function renderNginx(directives: readonly Directive[], indent = ""): string {
    return directives
        .map((directive) => {
            const args = (directive.args ?? []).map(nginxArg).join(" ");
            const head = `${indent}${directive.name}${args ? ` ${args}` : ""}`;
            return directive.block
                ? `${head} {\n${renderNginx(directive.block, `${indent}    `)}${indent}}\n`
                : `${head};\n`;
        })
        .join("");
}

function nginxArg(value: string | number): string {
    const text = String(value);
    // nginx splits tokens only at whitespace, ";", "{", "}" and quotes; anything else may stand bare.
    return /^[A-Za-z0-9_./:$=\-*^~@+,\[\]()|]+$/.test(text) ? text : `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

export interface Site {
    readonly serverName: string;
    readonly listenPort: number;
    readonly certificate: string;
    readonly certificateKey: string;
}

export interface RegistryAccess {
    readonly upstream: string;
    /** The htpasswd file of every account; any of them may read. */
    readonly htpasswd: string;
    readonly realm: string;
    /** The only account that may write (push, delete). */
    readonly pushUser: string;
}

export interface NginxInput {
    readonly registry: Site & RegistryAccess;
    readonly charts: Site & { readonly root: string };
    readonly files: Site & { readonly root: string };
}

/**
 * Mozilla's Server Side TLS "intermediate" profile (guideline 5.7, ssl-config.mozilla.org for
 * nginx): TLS 1.2 and 1.3; for 1.2 its AEAD suites with ECDHE (its DHE ones need a dhparam file and
 * are left out: the local CA's keys are ECDSA or RSA, and every client of the contour speaks
 * ECDHE), the client's order, its curves, a day's session cache without tickets.
 */
export const TLS_INTERMEDIATE = {
    protocols: ["TLSv1.2", "TLSv1.3"],
    ciphers: [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ],
    curves: ["X25519", "prime256v1", "secp384r1"],
    /** Two years, as the profile's HSTS. */
    hstsMaxAge: 63072000,
} as const;

/**
 * HSTS on every answer (errors too: "always"). nginx inherits add_header from the server only in a
 * location that has none of its own (ngx_http_headers_module), so a location with its own headers
 * repeats this one.
 */
const HSTS = d("add_header", "Strict-Transport-Security", `max-age=${TLS_INTERMEDIATE.hstsMaxAge}`, "always");

function tls(site: Site): Directive[] {
    return [
        d("listen", site.listenPort, "ssl"),
        d("server_name", site.serverName),
        d("ssl_certificate", site.certificate),
        d("ssl_certificate_key", site.certificateKey),
        d("ssl_protocols", ...TLS_INTERMEDIATE.protocols),
        d("ssl_ciphers", TLS_INTERMEDIATE.ciphers.join(":")),
        d("ssl_ecdh_curve", TLS_INTERMEDIATE.curves.join(":")),
        d("ssl_prefer_server_ciphers", "off"),
        d("ssl_session_cache", "shared:erpdc_tls:10m"),
        d("ssl_session_timeout", "1d"),
        d("ssl_session_tickets", "off"),
        // No version in the Server header or error pages.
        d("server_tokens", "off"),
        HSTS,
    ];
}

/** The server blocks (an http-context file for conf.d/). */
export function nginxSites(input: NginxInput): string {
    const { registry, charts, files } = input;
    const servers: Directive[] = [
        // Reads (GET, HEAD) are for every account; anything else only for the push account. A request
        // without a user goes on to auth_basic, which asks for credentials (401), as registry clients
        // expect before they send them; a known user who may not write gets 403.
        block("map", ["$request_method:$remote_user", "$erpdc_registry_write_denied"], [
            d("default", 1),
            d("~^(GET|HEAD):", 0),
            d("~^[A-Z]+:$", 0),
            d(`~^[A-Z]+:${escapeRegex(registry.pushUser)}$`, 0),
        ]),
        block("server", [], [
            ...tls(registry),
            // Image layers are large and pushed in chunks: no size limit, no request buffering.
            d("client_max_body_size", 0),
            d("chunked_transfer_encoding", "on"),
            block("location", ["/v2/"], [
                d("auth_basic", registry.realm),
                d("auth_basic_user_file", registry.htpasswd),
                block("if", ["($erpdc_registry_write_denied)"], [d("return", 403)]),
                // Registry clients check this header on every answer, the 401 included.
                d("add_header", "Docker-Distribution-Api-Version", "registry/2.0", "always"),
                HSTS,
                d("proxy_pass", `http://${registry.upstream}`),
                d("proxy_set_header", "Host", "$http_host"),
                d("proxy_set_header", "X-Real-IP", "$remote_addr"),
                d("proxy_set_header", "X-Forwarded-For", "$proxy_add_x_forwarded_for"),
                d("proxy_set_header", "X-Forwarded-Proto", "$scheme"),
                d("proxy_request_buffering", "off"),
                d("proxy_buffering", "off"),
                d("proxy_read_timeout", 900),
                d("proxy_send_timeout", 900),
            ]),
            block("location", ["/"], [d("return", 404)]),
        ]),
        block("server", [], [
            ...tls(charts),
            d("root", charts.root),
            block("location", ["=", "/index.yaml"], [d("default_type", "text/yaml"), d("add_header", "Cache-Control", "no-cache"), HSTS]),
            block("location", ["~", "\\.tgz$"], [d("default_type", "application/gzip")]),
            block("location", ["/"], [d("autoindex", "off"), d("try_files", "$uri", "=404")]),
        ]),
        block("server", [], [...tls(files), d("root", files.root), block("location", ["/"], [d("autoindex", "on"), d("try_files", "$uri", "$uri/", "=404")])]),
    ];
    return `# Generated by erpdc (infraServices/services.ts); changes on the host are overwritten.\n${renderNginx(servers)}`;
}

function escapeRegex(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
