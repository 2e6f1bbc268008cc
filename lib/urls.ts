// The grammar every URL in the stack configuration is held to, on top of the WHATWG URL parser
// (Node's URL) and the Public Suffix List (tldts).
//
// The parser alone is too forgiving for values that other tools read as text: it silently drops
// tabs and newlines inside a URL and trims spaces and control characters around it (WHATWG URL
// "basic URL parser", https://url.spec.whatwg.org/#concept-basic-url-parser), turns "\" into "/"
// and resolves "." and ".." segments. cloud-init, apt (deb822 fields split on whitespace), pip and
// Proxmox receive the text as written, so the text itself must already be the URL the parser sees.
import { parse as parsePublicSuffix } from "tldts";
import { DNS_LABEL } from "./dnsNames";
import { isIpv4, RESERVED_INTERNAL_SUFFIXES } from "./net";

export interface UrlGrammar {
    /** Schemes the consumer speaks, without the colon. */
    readonly schemes: readonly string[];
    /** The path the consumer expects, tested on the parsed pathname; any path when absent. */
    readonly path?: RegExp;
    /** What the path must be, for the message. */
    readonly pathText?: string;
}

// C0 controls, space and DEL: the WHATWG parser removes or trims them, deb822 and shell split on them.
const WHITESPACE_OR_CONTROL = /[\u0000-\u0020\u007f-\u009f\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]/u;
// A "." or ".." segment, written or percent-encoded, and encoded separators or NUL, which servers
// decode after routing (the traversal the parser's own normalisation hides).
const DOT_SEGMENT = /\/(\.|%2e){1,2}(\/|$)/i;
const ENCODED_SEPARATOR = /%(2f|5c|00)/i;

function describeCharacter(text: string): string {
    const match = WHITESPACE_OR_CONTROL.exec(text) as RegExpExecArray;
    const code = (match[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0");
    return `U+${code} at position ${match.index + 1}`;
}

/** True for a host name of DNS labels (RFC 1035, lowercase as the URL parser leaves it) or an IPv4 address. */
function isHostName(host: string): boolean {
    if (isIpv4(host)) return true;
    const labels = host.split(".");
    return host.length <= 253 && labels.every((label) => DNS_LABEL.test(label)) && !/^\d+$/.test(labels[labels.length - 1] as string);
}

/**
 * Why `text` is not a URL its consumer can take, or undefined when it is. The reason names what is
 * wrong; the caller adds the fix for its key.
 */
export function urlProblem(text: string, grammar: UrlGrammar): string | undefined {
    if (text === "") return "empty";
    if (WHITESPACE_OR_CONTROL.test(text)) {
        return `contains whitespace or a control character (${describeCharacter(text)}), which the tools reading it take as the end of the URL or the start of another field`;
    }
    if (text.includes("\\")) return 'contains "\\", which URL parsers read as "/" and servers do not';
    let url: URL;
    try {
        url = new URL(text);
    } catch {
        return "not a URL (the WHATWG URL parser refuses it)";
    }
    const scheme = url.protocol.slice(0, -1);
    if (!grammar.schemes.includes(scheme)) {
        return `a ${scheme}: URL, where ${grammar.schemes.map((s) => `${s}:`).join(" or ")} is read`;
    }
    if (url.username !== "" || url.password !== "") {
        return "carries credentials, which every log and process list would show; give the mirror its access by network, not in the URL";
    }
    if (!isHostName(url.hostname)) {
        return `its host ${JSON.stringify(url.hostname)} is neither an IPv4 address nor a DNS name`;
    }
    const rawPath = text.slice(text.indexOf("//") + 2).replace(/^[^/?#]*/, "").replace(/[?#].*$/, "");
    if (DOT_SEGMENT.test(rawPath)) return 'has a "." or ".." path segment; write the path the server serves';
    if (ENCODED_SEPARATOR.test(rawPath)) return "has a percent-encoded /, \\ or NUL in its path";
    if (url.search !== "" || url.hash !== "" || /[?#]/.test(text)) return "has a query or a fragment, which no mirror path needs";
    if (grammar.path !== undefined && !grammar.path.test(url.pathname)) {
        return `its path ${JSON.stringify(url.pathname)} is not ${grammar.pathText ?? "what the consumer reads"}`;
    }
    return undefined;
}

/**
 * Why `domain` cannot mark names as inside the contour, or undefined when it can: a public suffix
 * (com, co.uk, github.io: the Public Suffix List, private section included) would make everyone's
 * names under it count as internal. A suffix reserved for private use (home.arpa) is no such suffix.
 */
export function publicSuffixProblem(domain: string): string | undefined {
    const parsed = parsePublicSuffix(domain, { allowPrivateDomains: true });
    const listed = parsed.isIcann === true || parsed.isPrivate === true;
    if (parsed.publicSuffix === domain && listed && !RESERVED_INTERNAL_SUFFIXES.includes(domain)) {
        return `a public suffix (Public Suffix List${parsed.isPrivate ? ", private section" : ""}): names under it belong to anyone who registers one`;
    }
    return undefined;
}
