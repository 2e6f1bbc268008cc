// The ERP/1 closed-contour datacenter: read the stack config, create the layers, export outputs.
// Pulumi calls the exported function with no argument; the offline render passes its own sink to
// collect the generated files.
import * as pulumi from "@pulumi/pulumi";
import { ErpApps } from "./apps";
import { KubesprayCluster } from "./cluster";
import { loadStackConfig } from "./config";
import { SynrcNs } from "./dns";
import { ProxmoxLayer } from "./infra";
import { InfraServices } from "./infra/infraHost";
import { LocalCa } from "./infra/pki";
import { ArtifactSink } from "./render/artifacts";

export = async (artifacts: ArtifactSink = new ArtifactSink()) => {
    const { stack, proxmoxApiToken } = loadStackConfig();

    const ca = new LocalCa("local-ca", { config: stack });
    const infra = new ProxmoxLayer("proxmox", {
        config: stack,
        proxmoxApiToken,
        artifacts,
        trustedCaCertificates: [ca.certificatePem],
    });
    const dns = new SynrcNs("dns", { config: stack, infra, artifacts });
    const services = new InfraServices("infra-services", { config: stack, infra, ca, artifacts });
    const cluster = new KubesprayCluster("cluster", { config: stack, infra, dns, services, artifacts });
    const apps = new ErpApps("apps", { config: stack, infra, services, ca, cluster, artifacts });

    return {
        environment: stack.environment,
        inventory: infra.inventory,
        sshPublicKey: infra.adminKey.publicKeyOpenssh,
        sshPrivateKey: pulumi.secret(infra.adminKey.privateKeyOpenssh),
        caCertificate: ca.certificatePem,
        dnsServers: stack.network.dnsServers,
        zoneSerial: stack.dns.zone.records[0]?.data.serial,
        registry: { host: services.registryHost, username: services.registryUsername },
        registryPassword: services.registryPassword,
        chartsUrl: services.chartsUrl,
        filesUrl: services.filesUrl,
        apiEndpoint: cluster.apiEndpoint,
        kubeconfig: cluster.kubeconfig,
        argocdUrl: apps.argocdUrl,
        argocdAdminPassword: apps.argocdAdminPassword,
        portalUrl: apps.portalUrl,
    };
};
