// Real Ed25519 keys for the mock engine, derived from the resource name so that two renders of
// the same stack are identical. They only ever exist offline; a real `pulumi up` gets its key from
// the tls provider.
import { createHash, createPrivateKey, createPublicKey } from "crypto";

// DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows it.
const OPENSSH_ARMOR = "OPENSSH PRIVATE KEY";
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface Ed25519KeyMaterial {
    readonly publicKeyOpenssh: string;
    readonly publicKeyPem: string;
    readonly privateKeyOpenssh: string;
    readonly privateKeyPem: string;
    readonly publicKeyFingerprintSha256: string;
}

export function deterministicEd25519(label: string): Ed25519KeyMaterial {
    const seed = createHash("sha256").update(`erpdc-offline-render/${label}`).digest();
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
    const publicKey = createPublicKey(privateKey);
    const rawPublic = (publicKey.export({ format: "der", type: "spki" }) as Buffer).subarray(-32);

    const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(rawPublic)]);
    const check = seed.subarray(0, 4);
    let privateSection = Buffer.concat([
        check,
        check,
        sshString("ssh-ed25519"),
        sshString(rawPublic),
        sshString(Buffer.concat([seed, rawPublic])),
        sshString(""),
    ]);
    const padding = Buffer.from(Array.from({ length: (8 - (privateSection.length % 8)) % 8 }, (_, i) => i + 1));
    privateSection = Buffer.concat([privateSection, padding]);
    const body = Buffer.concat([
        Buffer.from("openssh-key-v1\0"),
        sshString("none"),
        sshString("none"),
        sshString(""),
        uint32(1),
        sshString(publicBlob),
        sshString(privateSection),
    ]);
    const wrapped = body.toString("base64").replace(/(.{70})/g, "$1\n").replace(/\n$/, "");
    return {
        publicKeyOpenssh: `ssh-ed25519 ${publicBlob.toString("base64")}\n`,
        publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
        privateKeyOpenssh: `-----BEGIN ${OPENSSH_ARMOR}-----\n${wrapped}\n-----END ${OPENSSH_ARMOR}-----\n`,
        privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
        publicKeyFingerprintSha256: `SHA256:${createHash("sha256").update(publicBlob).digest("base64").replace(/=+$/, "")}`,
    };
}

function uint32(value: number): Buffer {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(value);
    return buffer;
}

function sshString(value: string | Buffer): Buffer {
    const bytes = typeof value === "string" ? Buffer.from(value) : value;
    return Buffer.concat([uint32(bytes.length), bytes]);
}
