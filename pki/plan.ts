// The local CA's plan: its settings and every server certificate the contour needs, with the
// names and addresses each one carries.
import type { Environment, StackConfig } from "../config";
import type { Problems } from "../config/problems";
import type { ServiceNames } from "../dns/plan";

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

/** What the PKI plan reads of the configuration. */
export type PkiConfig = Pick<StackConfig, "environment" | "pki">;

/** Days before expiry at which `pulumi up` renews a server certificate (LocalCa's earlyRenewalHours). */
export const RENEWAL_DAYS = 30;

export function planPki(config: PkiConfig, names: ServiceNames | undefined, problems: Problems): PkiPlan | undefined {
    const { caValidityDays, serverValidityDays, organization } = config.pki;
    // The subject's O attribute: ub-organization-name is 64 characters (RFC 5280, appendix A.1), and
    // control characters end up in every tool that prints the subject (openssl x509 -subject, logs).
    if (/[\p{Cc}\p{Cf}]/u.test(organization) || [...organization].length > 64 || organization.trim() !== organization) {
        problems.fail("pki.organization", organization, "the organization in each certificate's subject is at most 64 printable characters without a control character or surrounding spaces (RFC 5280); e.g. ERP/1");
    }
    if (serverValidityDays > caValidityDays) {
        problems.fail("pki.serverValidityDays", serverValidityDays, `outlives the CA (pki.caValidityDays ${caValidityDays}), and clients refuse a certificate once its CA has expired; use at most ${caValidityDays}`);
    }
    if (serverValidityDays <= RENEWAL_DAYS) {
        problems.fail("pki.serverValidityDays", serverValidityDays, `certificates are renewed ${RENEWAL_DAYS} days before they expire, so this would renew them at every pulumi up; use more than ${RENEWAL_DAYS}, e.g. 397`);
    }
    if (names === undefined) {
        return undefined;
    }
    const { servers } = names;
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
