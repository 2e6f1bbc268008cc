// The contour's local CA and the server certificates of the infra VM's services.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { StackConfig } from "../config";

export interface ServerCertificate {
    readonly certificatePem: pulumi.Output<string>;
    /** Secret. */
    readonly privateKeyPem: pulumi.Output<string>;
}

export interface LocalCaArgs {
    readonly config: StackConfig;
}

export class LocalCa extends pulumi.ComponentResource {
    /** Trusted by every VM (cloud-init) and exported; public. */
    readonly certificatePem: pulumi.Output<string>;
    /** One certificate per service name (registry, charts, files). */
    readonly serverCertificates: Readonly<Record<string, ServerCertificate>>;

    constructor(name: string, args: LocalCaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("erpdc:infra:LocalCa", name, {}, opts);
        const { config } = args;
        const { pki } = config;
        const keyArgs = (): tls.PrivateKeyArgs =>
            pki.algorithm === "ECDSA" ? { algorithm: "ECDSA", ecdsaCurve: pki.ecdsaCurve } : { algorithm: "RSA", rsaBits: pki.rsaBits };

        const caKey = new tls.PrivateKey("ca-key", keyArgs(), { parent: this });
        // Secret wherever it is used, whether or not the engine applies the provider's own marking.
        const caKeyPem = pulumi.secret(caKey.privateKeyPem);
        const caCert = new tls.SelfSignedCert(
            "ca-cert",
            {
                privateKeyPem: caKeyPem,
                isCaCertificate: true,
                validityPeriodHours: pki.caValidityDays * 24,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
                subject: { commonName: `${pki.organization} ${config.environment} root CA`, organization: pki.organization },
            },
            { parent: this },
        );
        this.certificatePem = caCert.certPem;

        const infraVms = config.vms.filter((vm) => vm.role === "infra");
        const certificates: Record<string, ServerCertificate> = {};
        for (const [service, hostname] of Object.entries(config.services)) {
            const key = new tls.PrivateKey(`${service}-key`, keyArgs(), { parent: this });
            const keyPem = pulumi.secret(key.privateKeyPem);
            const request = new tls.CertRequest(
                `${service}-csr`,
                {
                    privateKeyPem: keyPem,
                    subject: { commonName: hostname, organization: pki.organization },
                    dnsNames: [hostname, ...infraVms.map((vm) => vm.fqdn)],
                    ipAddresses: infraVms.map((vm) => vm.address),
                },
                { parent: this },
            );
            const certificate = new tls.LocallySignedCert(
                `${service}-cert`,
                {
                    certRequestPem: request.certRequestPem,
                    caPrivateKeyPem: caKeyPem,
                    caCertPem: caCert.certPem,
                    validityPeriodHours: pki.serverValidityDays * 24,
                    // Renewed by a plain `pulumi up` during the last month of its life.
                    earlyRenewalHours: 30 * 24,
                    allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
                },
                { parent: this },
            );
            certificates[service] = { certificatePem: certificate.certPem, privateKeyPem: keyPem };
        }
        this.serverCertificates = certificates;
        this.registerOutputs({ certificatePem: this.certificatePem });
    }
}
