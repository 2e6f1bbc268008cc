// The contour's local CA and the server certificates of the infra VM's services and the ingress
// names, as the plan lists them.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { RENEWAL_DAYS, type CertificateRequest, type PkiPlan, type ServerCertificateRequests } from "./plan";

export interface ServerCertificate {
    readonly certificatePem: pulumi.Output<string>;
    /** Secret. */
    readonly privateKeyPem: pulumi.Output<string>;
}

export interface LocalCaArgs {
    readonly plan: PkiPlan;
}

export class LocalCa extends pulumi.ComponentResource {
    /** Trusted by every VM (cloud-init) and exported; public. */
    readonly certificatePem: pulumi.Output<string>;
    /** One certificate per entry of the plan (registry, charts, files, argocd, portal). */
    readonly serverCertificates: Readonly<Record<keyof ServerCertificateRequests, ServerCertificate>>;
    private readonly caKeyPem: pulumi.Output<string>;
    private readonly settings: PkiPlan["settings"];

    constructor(name: string, args: LocalCaArgs, opts?: pulumi.ComponentResourceOptions) {
        // The type token predates the pki/ folder; it is part of every URN in existing state, so it stays.
        super("erpdc:infra:LocalCa", name, {}, opts);
        const { plan } = args;
        this.settings = plan.settings;
        const caKey = new tls.PrivateKey("ca-key", this.keyArgs(), { parent: this });
        // Secret wherever it is used, whether or not the engine applies the provider's own marking.
        this.caKeyPem = pulumi.secret(caKey.privateKeyPem);
        const caCert = new tls.SelfSignedCert(
            "ca-cert",
            {
                privateKeyPem: this.caKeyPem,
                isCaCertificate: true,
                validityPeriodHours: plan.settings.caValidityDays * 24,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
                subject: { commonName: `${plan.settings.organization} ${plan.environment} root CA`, organization: plan.settings.organization },
            },
            { parent: this },
        );
        this.certificatePem = caCert.certPem;

        const requests = plan.serverCertificates;
        this.serverCertificates = {
            registry: this.issue("registry", requests.registry),
            charts: this.issue("charts", requests.charts),
            files: this.issue("files", requests.files),
            argocd: this.issue("argocd", requests.argocd),
            portal: this.issue("portal", requests.portal),
        };
        this.registerOutputs({ certificatePem: this.certificatePem });
    }

    private keyArgs(): tls.PrivateKeyArgs {
        const { algorithm, ecdsaCurve, rsaBits } = this.settings;
        return algorithm === "ECDSA" ? { algorithm: "ECDSA", ecdsaCurve } : { algorithm: "RSA", rsaBits };
    }

    /** A server certificate signed by the local CA; `name` prefixes its resources' names. */
    private issue(name: string, request: CertificateRequest): ServerCertificate {
        const key = new tls.PrivateKey(`${name}-key`, this.keyArgs(), { parent: this });
        const keyPem = pulumi.secret(key.privateKeyPem);
        const csr = new tls.CertRequest(
            `${name}-csr`,
            {
                privateKeyPem: keyPem,
                subject: { commonName: request.dnsNames[0] ?? name, organization: this.settings.organization },
                dnsNames: [...request.dnsNames],
                ...(request.ipAddresses.length > 0 ? { ipAddresses: [...request.ipAddresses] } : {}),
            },
            { parent: this },
        );
        const certificate = new tls.LocallySignedCert(
            `${name}-cert`,
            {
                certRequestPem: csr.certRequestPem,
                caPrivateKeyPem: this.caKeyPem,
                caCertPem: this.certificatePem,
                validityPeriodHours: this.settings.serverValidityDays * 24,
                // Renewed by a plain `pulumi up` during the last month of its life.
                earlyRenewalHours: RENEWAL_DAYS * 24,
                allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            },
            { parent: this },
        );
        return { certificatePem: certificate.certPem, privateKeyPem: keyPem };
    }
}
