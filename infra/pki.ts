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
    private readonly caKeyPem: pulumi.Output<string>;
    private readonly keyArgs: () => tls.PrivateKeyArgs;
    private readonly settings: StackConfig["pki"];
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
        this.caKeyPem = caKeyPem;
        this.keyArgs = keyArgs;
        this.settings = pki;
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
            certificates[service] = this.issue(service, [hostname, ...infraVms.map((vm) => vm.fqdn)], infraVms.map((vm) => vm.address));
        }
        this.serverCertificates = certificates;
        this.registerOutputs({ certificatePem: this.certificatePem });
    }

    /** A server certificate signed by the local CA (infra services; ingress names such as argocd.). */
    issue(name: string, dnsNames: readonly string[], ipAddresses: readonly string[] = []): ServerCertificate {
        const key = new tls.PrivateKey(`${name}-key`, this.keyArgs(), { parent: this });
        const keyPem = pulumi.secret(key.privateKeyPem);
        const request = new tls.CertRequest(
            `${name}-csr`,
            {
                privateKeyPem: keyPem,
                subject: { commonName: dnsNames[0] ?? name, organization: this.settings.organization },
                dnsNames: [...dnsNames],
                ...(ipAddresses.length > 0 ? { ipAddresses: [...ipAddresses] } : {}),
            },
            { parent: this },
        );
        const certificate = new tls.LocallySignedCert(
            `${name}-cert`,
            {
                certRequestPem: request.certRequestPem,
                caPrivateKeyPem: this.caKeyPem,
                caCertPem: this.certificatePem,
                validityPeriodHours: this.settings.serverValidityDays * 24,
                // Renewed by a plain `pulumi up` during the last month of its life.
                earlyRenewalHours: 30 * 24,
                allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            },
            { parent: this },
        );
        return { certificatePem: certificate.certPem, privateKeyPem: keyPem };
    }
}
