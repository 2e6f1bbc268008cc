// The services of the first infra VM: the CNCF distribution registry behind nginx with TLS from the
// local CA, a classic Helm chart repository and the files area for Kubespray's offline files.
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import YAML from "yaml";
import type { StackConfig } from "../config";
import type { ArtifactSink } from "../render/artifacts";
import type { ProxmoxLayer } from "./index";
import type { LocalCa } from "./pki";
import { provision, type RemoteFile } from "./remote";
import { htpasswdLine, nginxSites, PATHS, registryConfig, type Site } from "./services";

export interface InfraServicesArgs {
    readonly config: StackConfig;
    readonly infra: ProxmoxLayer;
    readonly ca: LocalCa;
    readonly artifacts: ArtifactSink;
}

const APT_INSTALL = "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confold";
const REGISTRY_LISTEN = "127.0.0.1:5000";

export class InfraServices extends pulumi.ComponentResource {
    readonly registryHost: string;
    readonly registryUsername: string;
    /** Secret. */
    readonly registryPassword: pulumi.Output<string>;
    readonly chartsUrl: string;
    readonly filesUrl: string;
    /** Done when the registry and nginx run with the current configuration. */
    readonly ready: readonly command.remote.Command[];

    constructor(name: string, args: InfraServicesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("erpdc:infra:InfraServices", name, {}, opts);
        const { config, infra, ca, artifacts } = args;
        const host = config.vms.find((vm) => vm.role === "infra");
        if (host === undefined) {
            throw new Error("InfraServices needs an infra VM; the config resolver guarantees one");
        }
        this.registryHost = config.services.registry;
        this.registryUsername = config.registry.username;
        this.chartsUrl = `https://${config.services.charts}`;
        this.filesUrl = `https://${config.services.files}`;

        const password = new random.RandomPassword("registry-password", { length: 32, special: false }, { parent: this });
        this.registryPassword = pulumi.secret(password.result);

        const registryYaml = registryConfig({
            rootDirectory: PATHS.registryRoot,
            listen: REGISTRY_LISTEN,
            htpasswdPath: PATHS.htpasswd,
            realm: `ERP/1 ${config.environment} registry`,
        });
        const site = (service: keyof StackConfig["services"]): Site => ({
            serverName: config.services[service],
            listenPort: 443,
            certificate: `${PATHS.tlsDir}/${service}.crt`,
            certificateKey: `${PATHS.tlsDir}/${service}.key`,
        });
        const nginxConf = nginxSites({
            registry: { ...site("registry"), upstream: REGISTRY_LISTEN },
            charts: { ...site("charts"), root: PATHS.charts },
            files: { ...site("files"), root: PATHS.files },
        });
        artifacts.add("infra-host/registry/config.yml", registryYaml);
        artifacts.add("infra-host/nginx/erpdc.conf", nginxConf);

        const connection = infra.connection(host.address);
        // The data disk is mounted and the apt sources point at the mirror once cloud-init is done.
        const afterFirstBoot = { parent: this, dependsOn: [infra.ready[host.name] as command.remote.Command] };

        const registry = provision(
            `${host.name}-registry`,
            {
                connection,
                before: `${APT_INSTALL} docker-registry`,
                files: [
                    { path: PATHS.registryConfig, content: registryYaml, mode: "0640", group: "docker-registry" },
                    this.registryPassword.apply((secret) => ({
                        path: PATHS.htpasswd,
                        content: htpasswdLine(config.registry.username, secret),
                        mode: "0640",
                        group: "docker-registry",
                    })),
                ],
                after: [
                    `sudo install -d -o docker-registry -g docker-registry ${PATHS.registryRoot}`,
                    "sudo systemctl enable docker-registry",
                    "sudo systemctl restart docker-registry",
                ].join("\n"),
            },
            afterFirstBoot,
        );

        const tlsFiles: pulumi.Input<RemoteFile>[] = Object.entries(ca.serverCertificates).flatMap(([service, certificate]) => [
            pulumi.output(certificate.certificatePem).apply((pem) => ({ path: `${PATHS.tlsDir}/${service}.crt`, content: pem, mode: "0644" })),
            pulumi.output(certificate.privateKeyPem).apply((pem) => ({ path: `${PATHS.tlsDir}/${service}.key`, content: pem, mode: "0600" })),
        ]);
        const web = provision(
            `${host.name}-nginx`,
            {
                connection,
                before: `${APT_INSTALL} nginx\nsudo install -d ${PATHS.charts} ${PATHS.files}`,
                files: [
                    { path: PATHS.nginxSite, content: nginxConf },
                    // An empty classic Helm repository; the apps layer publishes charts into it.
                    { path: `${PATHS.charts}/index.yaml`, content: YAML.stringify({ apiVersion: "v1", entries: {} }), keep: true },
                    ...tlsFiles,
                ],
                after: "sudo nginx -t\nsudo systemctl reload-or-restart nginx",
            },
            afterFirstBoot,
        );
        this.ready = [registry, web];
        this.registerOutputs({ registryHost: this.registryHost, chartsUrl: this.chartsUrl, filesUrl: this.filesUrl });
    }
}
