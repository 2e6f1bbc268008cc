// The local CA's plan: its settings and every server certificate the contour needs, with the
// names and addresses each one carries.
import type { Environment, StackConfig } from "../config";
import type { DnsPlan } from "../dns/plan";

export interface CertificateRequest {
    readonly dnsNames: readonly string[];
    readonly ipAddresses: readonly string[];
}

/** The server certificates; each key is also the prefix of its resources' names (`<key>-cert`). */
export interface ServerCertificateRequests {
    readonly registry: CertificateRequest;
    readonly charts: CertificateRequest;
    readonly files: CertificateRequest;
    readonly argocd: CertificateRequest;
    readonly portal: CertificateRequest;
}

export interface PkiPlan {
    readonly environment: Environment;
    readonly settings: StackConfig["pki"];
    readonly serverCertificates: ServerCertificateRequests;
}

export function planPki(config: StackConfig, dns: DnsPlan): PkiPlan {
    const { names, servers } = dns;
    // The infra services answer under their service name and under every infra VM's own name and
    // address, so that a client can reach them before DNS or through another infra VM.
    const infraService = (name: string): CertificateRequest => ({
        dnsNames: [name, ...servers.map((vm) => vm.fqdn)],
        ipAddresses: servers.map((vm) => vm.address),
    });
    return {
        environment: config.environment,
        settings: config.pki,
        serverCertificates: {
            registry: infraService(names.registry),
            charts: infraService(names.charts),
            files: infraService(names.files),
            argocd: { dnsNames: [names.argocd], ipAddresses: [] },
            portal: { dnsNames: [names.portal], ipAddresses: [] },
        },
    };
}
