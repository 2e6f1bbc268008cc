// The ERP/1 closed-contour datacenter: read the stack config and plan it, create the layers,
// export outputs. Pulumi calls the exported function with no argument; the offline render passes
// its own sink to collect the generated files.
import * as pulumi from "@pulumi/pulumi";
import { ErpApps } from "./apps";
import { KubesprayCluster } from "./cluster";
import { SynrcNs } from "./dns";
import { InfraServices } from "./infraServices";
import { ArtifactSink } from "./lib/artifacts";
import { LocalCa } from "./pki";
import { loadPlan } from "./plan";
import { ProxmoxLayer } from "./proxmox";

export = async (artifacts: ArtifactSink = new ArtifactSink()) => {
    // Every config problem is reported here, at once, before any resource is registered.
    const { plan, proxmoxApiToken, proxmoxSshKey } = loadPlan();

    const ca = new LocalCa("local-ca", { plan: plan.pki });
    const proxmox = new ProxmoxLayer("proxmox", {
        plan: plan.proxmox,
        proxmoxApiToken,
        ...(proxmoxSshKey === undefined ? {} : { proxmoxSshKey }),
        artifacts,
        trustedCaCertificates: [ca.certificatePem],
        nodeBoundWorkloads: plan.apps.nodeBound,
    });
    const dns = new SynrcNs("dns", { plan: plan.dns, proxmox, artifacts });
    const services = new InfraServices("infra-services", { plan: plan.infraServices, proxmox, ca, artifacts });
    const cluster = new KubesprayCluster("cluster", { plan: plan.cluster, proxmox, dns, services, artifacts });
    const apps = new ErpApps("apps", { plan: plan.apps, proxmox, services, ca, cluster, artifacts });

    return {
        environment: plan.environment,
        inventory: proxmox.inventory,
        sshPublicKey: proxmox.adminKey.publicKeyOpenssh,
        sshPrivateKey: pulumi.secret(proxmox.adminKey.privateKeyOpenssh),
        caCertificate: ca.certificatePem,
        dnsServers: plan.proxmox.network.dnsServers,
        zoneSerial: dns.serial,
        registry: { host: services.registryHost, username: services.registryUsername, pullUsername: services.registryPullUsername },
        registryPassword: services.registryPassword,
        registryPullPassword: services.registryPullPassword,
        chartsUrl: services.chartsUrl,
        filesUrl: services.filesUrl,
        bundleTargets: services.bundleTargets,
        apiEndpoint: cluster.apiEndpoint,
        kubeconfig: cluster.kubeconfig,
        argocdUrl: apps.argocdUrl,
        argocdAdminPassword: apps.argocdAdminPassword,
        portalUrl: apps.portalUrl,
    };
};
