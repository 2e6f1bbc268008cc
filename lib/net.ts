// IPv4 address math and the "is this host inside the contour?" test, on top of ipaddr.js.
import * as ipaddr from "ipaddr.js";

export interface Ipv4Network {
    readonly cidr: string;
    readonly prefixLength: number;
    readonly network: string;
    readonly broadcast: string;
    contains(address: string): boolean;
}

export function isIpv4(value: string): boolean {
    return ipaddr.IPv4.isValidFourPartDecimal(value);
}

/** Parses "10.0.0.0/24"; returns undefined when the text is not a CIDR whose host bits are zero. */
export function parseNetwork(cidr: string): Ipv4Network | undefined {
    if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr) || !ipaddr.IPv4.isValidCIDR(cidr)) {
        return undefined;
    }
    const [address, prefixLength] = ipaddr.IPv4.parseCIDR(cidr);
    const network = ipaddr.IPv4.networkAddressFromCIDR(cidr);
    if (network.toString() !== address.toString()) {
        return undefined;
    }
    const range: [ipaddr.IPv4, number] = [network, prefixLength];
    return {
        cidr,
        prefixLength,
        network: network.toString(),
        broadcast: ipaddr.IPv4.broadcastAddressFromCIDR(cidr).toString(),
        contains: (candidate: string) => isIpv4(candidate) && ipaddr.IPv4.parse(candidate).match(range),
    };
}

/** The network a host address sits in, e.g. ("10.0.0.7", 24) -> "10.0.0.0/24". */
export function networkOf(address: string, prefixLength: number): string {
    return `${ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefixLength}`).toString()}/${prefixLength}`;
}

const INTERNAL_IP_RANGES = new Set(["private", "loopback", "linkLocal", "carrierGradeNat"]);
// Names that can never resolve on the public internet (RFC 6761, RFC 6762, RFC 8375).
export const RESERVED_INTERNAL_SUFFIXES: readonly string[] = ["local", "internal", "lan", "home.arpa", "localhost"];

/**
 * True when `host` (a name or an IPv4 address) can only be inside the closed contour:
 * a private, loopback or link-local address, a single-label name, or a name under one of
 * `internalDomains` or a suffix reserved for private use.
 */
export function isInternalHost(host: string, internalDomains: readonly string[]): boolean {
    const name = host.toLowerCase().replace(/\.$/, "");
    if (isIpv4(name)) {
        return INTERNAL_IP_RANGES.has(ipaddr.IPv4.parse(name).range());
    }
    if (name.startsWith("[") || name.includes(":")) {
        const bare = name.replace(/^\[|\]$/g, "");
        if (!ipaddr.IPv6.isValid(bare)) {
            return false;
        }
        return ["uniqueLocal", "loopback", "linkLocal"].includes(ipaddr.IPv6.parse(bare).range());
    }
    if (!name.includes(".")) {
        return true;
    }
    return [...internalDomains, ...RESERVED_INTERNAL_SUFFIXES].some(
        (domain) => name === domain.toLowerCase() || name.endsWith(`.${domain.toLowerCase()}`),
    );
}

/** The host part of a URL or of a bare "host[:port]" reference (as used for an OCI registry). */
export function hostOf(reference: string): string | undefined {
    try {
        const url = new URL(reference.includes("://") ? reference : `oci://${reference}`);
        return url.hostname || undefined;
    } catch {
        return undefined;
    }
}

export function ipToNumber(address: string): number {
    return ipaddr.IPv4.parse(address).toByteArray().reduce((value, byte) => value * 256 + byte, 0);
}

/** True when two IPv4 networks share at least one address. */
export function networksOverlap(left: Ipv4Network, right: Ipv4Network): boolean {
    return left.contains(right.network) || right.contains(left.network);
}

/**
 * The hosts a text refers to: the host of every URL in it (a line can carry several, as an apt
 * source's URIs field does), or the registry of a container image reference under an `image` key
 * (no registry means Docker Hub).
 */
export function referencedHosts(key: string, value: string): string[] {
    const urls = [...value.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^/:?#\s"'<>]+)/gi)].map((match) => match[1] as string);
    if (urls.length > 0) return urls;
    if (/(^|\.)image$/.test(key) && /^[a-z0-9][a-z0-9./-]*(:[A-Za-z0-9._-]+)?$/.test(value)) {
        const first = value.split("/")[0] as string;
        return [value.includes("/") && (first.includes(".") || first.includes(":")) ? (first.split(":")[0] as string) : "docker.io"];
    }
    return [];
}

/** Names that exist only inside a Kubernetes cluster. */
export const CLUSTER_SUFFIXES = ["svc", "cluster.local"];
