// The services of every infra VM: the CNCF distribution registry behind nginx with TLS from the
// local CA, a classic Helm chart repository and the files area for Kubespray's offline files. Each
// infra VM holds its own copy; writers (chart publishing, bundle loading) write to every one.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import YAML from "yaml";
import type { BundleTargets } from "../bundle/targets";
import type { ArtifactSink } from "../lib/artifacts";
import { APT_INSTALL, provision, shellQuote, type RemoteFile } from "../lib/remote";
import type { LocalCa } from "../pki";
import type { ProxmoxLayer } from "../proxmox";
import type { InfraServicesPlan } from "./plan";
import { htpasswdLine, nginxSites, PATHS, registryConfig, type Site } from "./services";

export interface InfraServicesArgs {
    readonly plan: InfraServicesPlan;
    readonly proxmox: ProxmoxLayer;
    readonly ca: LocalCa;
    readonly artifacts: ArtifactSink;
}

const REGISTRY_LISTEN = "127.0.0.1:5000";

export class InfraServices extends pulumi.ComponentResource {
    readonly registryHost: string;
    /** The push account: the operator, CI and chart publishing write with it. */
    readonly registryUsername: string;
    /** Secret. */
    readonly registryPassword: pulumi.Output<string>;
    /** The pull-only account the nodes' containerd reads with. */
    readonly registryPullUsername: string;
    /** Secret. */
    readonly registryPullPassword: pulumi.Output<string>;
    readonly chartsUrl: string;
    readonly filesUrl: string;
    /** The registry's own address on each infra VM, behind nginx: writers reach it through SSH. */
    readonly registryListen = REGISTRY_LISTEN;
    /** The directory on the infra VM the classic chart repository serves. */
    readonly chartsRoot: string;
    /**
     * Done when the registry and nginx run with the current configuration on every infra VM, and,
     * when the stack names a bundle, when every VM holds it.
     */
    readonly ready: readonly (command.remote.Command | command.local.Command)[];
    /** Where `npm run bundle:load` writes, VM by VM (no secret: the SSH key is an output of its own). */
    readonly bundleTargets: pulumi.Output<BundleTargets>;

    constructor(name: string, args: InfraServicesArgs, opts?: pulumi.ComponentResourceOptions) {
        // The type token predates the infraServices/ folder; it is part of every URN in existing state, so it stays.
        super("erpdc:infra:InfraServices", name, {}, opts);
        const { plan, proxmox, ca, artifacts } = args;
        const { names } = plan;
        this.registryHost = names.registry;
        this.registryUsername = plan.registryUsername;
        this.registryPullUsername = plan.registryPullUsername;
        this.chartsUrl = `https://${names.charts}`;
        this.filesUrl = `https://${names.files}`;
        this.chartsRoot = PATHS.charts;

        // Rotated by replacing the resource: `pulumi up --replace <its URN>`.
        const password = new random.RandomPassword("registry-password", { length: 32, special: false }, { parent: this });
        this.registryPassword = pulumi.secret(password.result);
        const pullPassword = new random.RandomPassword("registry-pull-password", { length: 32, special: false }, { parent: this });
        this.registryPullPassword = pulumi.secret(pullPassword.result);

        const registryYaml = registryConfig({ rootDirectory: PATHS.registryRoot, listen: REGISTRY_LISTEN });
        const site = (service: keyof InfraServicesPlan["names"]): Site => ({
            serverName: names[service],
            listenPort: 443,
            certificate: `${PATHS.tlsDir}/${service}.crt`,
            certificateKey: `${PATHS.tlsDir}/${service}.key`,
        });
        const nginxConf = nginxSites({
            registry: {
                ...site("registry"),
                upstream: REGISTRY_LISTEN,
                htpasswd: PATHS.htpasswd,
                realm: `ERP/1 ${plan.environment} registry`,
                pushUser: plan.registryUsername,
            },
            charts: { ...site("charts"), root: PATHS.charts },
            files: { ...site("files"), root: PATHS.files },
        });
        artifacts.add("infra-host/registry/config.yml", registryYaml);
        artifacts.add("infra-host/nginx/erpdc.conf", nginxConf);

        // One htpasswd for every infra VM: bcrypt is slow on purpose, so it is hashed once.
        const htpasswd = pulumi
            .all([this.registryPassword, this.registryPullPassword])
            .apply(([push, pull]) => htpasswdLine(plan.registryUsername, push) + htpasswdLine(plan.registryPullUsername, pull));

        const ready: (command.remote.Command | command.local.Command)[] = [];
        for (const host of plan.hosts) {
            const connection = proxmox.connection(host.name);
            // The data disk is mounted and the apt sources point at the mirror once cloud-init is done;
            // a rebuilt VM is provisioned again (replaceWith).
            const afterFirstBoot = {
                parent: this,
                dependsOn: [proxmox.ready[host.name] as command.remote.Command],
                replaceWith: [proxmox.vms[host.name] as pulumi.Resource],
            };

            const registry = provision(
                `${host.name}-registry`,
                {
                    connection,
                    before: `${APT_INSTALL} docker-registry`,
                    files: [{ path: PATHS.registryConfig, content: registryYaml, mode: "0640", group: "docker-registry" }],
                    after: [
                        // nginx holds the accounts now; an older registry's own file must not linger.
                        `sudo rm -f ${PATHS.legacyRegistryHtpasswd}`,
                        `sudo install -d -o docker-registry -g docker-registry ${PATHS.registryRoot}`,
                        "sudo systemctl enable docker-registry",
                        "sudo systemctl restart docker-registry",
                    ].join("\n"),
                },
                afterFirstBoot,
            );

            const { registry: registryCertificate, charts: chartsCertificate, files: filesCertificate } = ca.serverCertificates;
            const served = { registry: registryCertificate, charts: chartsCertificate, files: filesCertificate };
            const tlsFiles: pulumi.Input<RemoteFile>[] = Object.entries(served).flatMap(([service, certificate]) => [
                pulumi.output(certificate.certificatePem).apply((pem) => ({ path: `${PATHS.tlsDir}/${service}.crt`, content: pem, mode: "0644" })),
                pulumi.output(certificate.privateKeyPem).apply((pem) => ({ path: `${PATHS.tlsDir}/${service}.key`, content: pem, mode: "0600" })),
            ]);
            const web = provision(
                `${host.name}-nginx`,
                {
                    connection,
                    // Debian's and Ubuntu's default site listens on port 80 for nothing the contour serves.
                    before: `${APT_INSTALL} nginx\nsudo rm -f /etc/nginx/sites-enabled/default\nsudo install -d ${PATHS.charts} ${PATHS.files}`,
                    files: [
                        { path: PATHS.nginxSite, content: nginxConf },
                        htpasswd.apply((content) => ({
                            path: PATHS.htpasswd,
                            content,
                            mode: "0640",
                            // nginx's workers run as www-data on Ubuntu and Debian.
                            group: "www-data",
                        })),
                        // An empty classic Helm repository; the apps layer publishes charts into it.
                        { path: `${PATHS.charts}/index.yaml`, content: YAML.stringify({ apiVersion: "v1", entries: {} }), keep: true },
                        ...tlsFiles,
                    ],
                    after: "sudo nginx -t\nsudo systemctl reload-or-restart nginx",
                },
                afterFirstBoot,
            );
            ready.push(registry, web);
        }
        this.bundleTargets = bundleTargetsOf(plan, proxmox, this.chartsUrl);
        if (plan.bundle !== undefined) ready.push(bundleLoad(this, plan.bundle, this.bundleTargets, proxmox.adminKey.privateKeyOpenssh, ready));
        this.ready = ready;
        this.registerOutputs({ registryHost: this.registryHost, chartsUrl: this.chartsUrl, filesUrl: this.filesUrl, bundleTargets: this.bundleTargets });
    }
}

/**
 * The loader of npm run bundle:load, run where pulumi runs, after every VM's registry and nginx
 * (`services`), with what it reaches the VMs by on its standard input (secret: the admin key), so
 * that it needs no stack output of an earlier update.
 */
function bundleLoad(
    parent: pulumi.Resource,
    bundle: NonNullable<InfraServicesPlan["bundle"]>,
    targets: pulumi.Output<BundleTargets>,
    adminKey: pulumi.Output<string>,
    services: readonly pulumi.Resource[],
): command.local.Command {
    const access = pulumi.all([targets, adminKey]).apply(([bundleTargets, sshPrivateKey]) => JSON.stringify({ bundleTargets, sshPrivateKey }));
    return new command.local.Command(
        "bundle-load",
        {
            create: `node scripts/run-compiled.js bundle/loadCli ${shellQuote(pulumi.getStack())} ${shellQuote(bundle.dir)} --outputs -`,
            stdin: pulumi.secret(access),
            // Loaded again when the bundle's manifest changes, and when a VM is reached anew: without an
            // `update`, `create` runs again whenever an input changes (@pulumi/command 1.2.1 local/command.d.ts).
            triggers: [bundle.manifestSha256],
        },
        // Every VM's registry and nginx run before anything is loaded into them.
        { parent, dependsOn: [...services] },
    );
}

/** Where a bundle loader writes, VM by VM: how each infra VM is reached and where its services keep their data. */
function bundleTargetsOf(plan: InfraServicesPlan, proxmox: ProxmoxLayer, chartsUrl: string): pulumi.Output<BundleTargets> {
    const hosts = plan.hosts.map((host) => {
        const { host: address, user, hostKey } = proxmox.connection(host.name);
        return pulumi.all([address, user, hostKey]).apply(([reachedAt, admin, key]) => ({
            name: host.name,
            address: reachedAt,
            sshPort: 22,
            user: admin as string,
            hostKey: key as string,
            registry: REGISTRY_LISTEN,
            chartsRoot: PATHS.charts,
            filesRoot: PATHS.files,
        }));
    });
    return pulumi.all(hosts).apply((all) => ({ registryHost: plan.names.registry, chartsUrl, filesHost: plan.names.files, hosts: all }));
}
