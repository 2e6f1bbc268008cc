// Deterministic bcrypt: the same password and context always give the same hash, so a resource
// that carries the hash (htpasswd, ArgoCD's admin secret) changes only when the password does.
import { createHmac } from "crypto";
import bcrypt from "bcryptjs";

/** A bcrypt hash whose salt is derived from the password and a context (HMAC-SHA256). */
export function bcryptHash(password: string, context: string, cost = 10): string {
    const saltBytes = [...createHmac("sha256", password).update(`erpdc-bcrypt:${context}`).digest().subarray(0, 16)];
    return bcrypt.hashSync(password, `$2b$${String(cost).padStart(2, "0")}$${bcrypt.encodeBase64(saltBytes, 16)}`);
}
