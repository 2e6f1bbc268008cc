// DNS name rules shared by the config checks and the zone generator (RFC 1035 labels, lowercase).

export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A domain of at least two lowercase labels, e.g. erp.uno. */
export function isDnsDomain(value: string): boolean {
    const labels = value.split(".");
    return value.length <= 253 && labels.length >= 2 && labels.every((label) => DNS_LABEL.test(label));
}
