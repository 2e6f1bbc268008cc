// The datacenter's rules as Pulumi policies. Each is a plain object, so tests call it directly.
import type { Policies, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { ALL_ROLE_TAGS, CALVER } from "../lib/conventions";
import { CLUSTER_SUFFIXES, isInternalHost, referencedHosts } from "../lib/net";

const VM = "proxmoxve:index/vmLegacy:VmLegacy";

export interface PolicyConfig {
    /** Proxmox datastores that are LVM-thin or ZFS. */
    readonly thinDatastores: readonly string[];
    /** Domains inside the closed contour, besides private addresses. */
    readonly internalDomains: readonly string[];
}

export const DEFAULT_CONFIG: PolicyConfig = { thinDatastores: ["local-lvm", "local-zfs"], internalDomains: ["erp.uno"] };

const configSchema = {
    properties: {
        thinDatastores: { type: "array" as const, items: { type: "string" as const }, default: [...DEFAULT_CONFIG.thinDatastores] },
        internalDomains: { type: "array" as const, items: { type: "string" as const }, default: [...DEFAULT_CONFIG.internalDomains] },
    },
};

const isTemplate = (props: Record<string, any>) => props.template === true;

/** Every string inside a value, with the path it was found at. */
function strings(value: unknown, at = ""): [string, string][] {
    if (typeof value === "string") return [[at, value]];
    if (Array.isArray(value)) return value.flatMap((item, i) => strings(item, `${at}[${i}]`));
    if (value !== null && typeof value === "object") {
        return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) => strings(inner, at ? `${at}.${key}` : key));
    }
    return [];
}

export const vmDisksOnThinDatastores: ResourceValidationPolicy = {
    name: "vm-disks-on-thin-datastores",
    description: "VM and template disks live on LVM-thin or ZFS datastores (thin provisioning only).",
    enforcementLevel: "mandatory",
    configSchema,
    validateResource: (args, reportViolation) => {
        if (args.type !== VM) return;
        const { thinDatastores } = args.getConfig<PolicyConfig>();
        for (const disk of args.props.disks ?? []) {
            if (!thinDatastores.includes(disk.datastoreId)) {
                reportViolation(`${args.name}: disk ${disk.interface} is on "${disk.datastoreId}", which is not a thin datastore (${thinDatastores.join(", ")})`);
            }
        }
    },
};

export const vmRoleTags: ResourceValidationPolicy = {
    name: "vm-role-tags",
    description: "Every VM carries a role tag and an env-<name> tag; operators and the other layers find VMs by them.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        if (args.type !== VM || isTemplate(args.props)) return;
        const tags: string[] = args.props.tags ?? [];
        if (!tags.some((tag) => ALL_ROLE_TAGS.includes(tag))) reportViolation(`${args.name}: no role tag (${ALL_ROLE_TAGS.join(", ")})`);
        if (!tags.some((tag) => tag.startsWith("env-"))) reportViolation(`${args.name}: no env-<name> tag`);
    },
};

export const productionVmsProtected: ResourceValidationPolicy = {
    name: "production-vms-protected",
    description: "Production VMs are protected, so that no update replaces or deletes them by accident.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        if (args.type !== VM || isTemplate(args.props) || !(args.props.tags ?? []).includes("env-production")) return;
        if (!args.opts.protect) reportViolation(`${args.name}: a production VM without protect`);
        if (args.props.protection !== true) reportViolation(`${args.name}: a production VM without the Proxmox protection flag`);
    },
};

export const controlPlaneAntiAffinity: StackValidationPolicy = {
    name: "control-plane-anti-affinity",
    description: "No two control-plane nodes on one Proxmox host while there are hosts enough.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const vms = args.resources.filter((r) => r.type === VM && !isTemplate(r.props));
        const hosts = new Set(vms.map((vm) => vm.props.nodeName));
        const controlPlane = vms.filter((vm) => (vm.props.tags ?? []).includes("k8s-control-plane"));
        const used = new Set(controlPlane.map((vm) => vm.props.nodeName));
        if (used.size < Math.min(controlPlane.length, hosts.size)) {
            reportViolation(`control-plane nodes ${controlPlane.map((vm) => `${vm.name}@${vm.props.nodeName}`).join(", ")} share hosts while ${hosts.size} hosts exist`);
        }
    },
};

export const internalSourcesOnly: ResourceValidationPolicy = {
    name: "internal-sources-only",
    description: "Every URL, image and chart comes from the internal mirrors: nothing points outside the contour.",
    enforcementLevel: "mandatory",
    configSchema,
    validateResource: (args, reportViolation) => {
        const { internalDomains } = args.getConfig<PolicyConfig>();
        for (const [path, value] of strings(args.props)) {
            for (const line of value.split("\n")) {
                for (const host of referencedHosts(path, line.trim())) {
                    if (!isInternalHost(host, [...internalDomains, ...CLUSTER_SUFFIXES])) {
                        reportViolation(`${args.name}: ${path} points at ${host}, outside the contour (${line.trim().slice(0, 80)})`);
                    }
                }
            }
        }
    },
};

function imageTag(image: string): string | undefined {
    const lastSlash = image.lastIndexOf("/");
    const colon = image.indexOf(":", lastSlash + 1);
    return colon < 0 ? undefined : image.slice(colon + 1);
}

export const noLatestCalendarVersions: ResourceValidationPolicy = {
    name: "no-latest-calendar-versions",
    description: "No image is untagged or 'latest'; ERP/1 images and the erp-uno chart carry calendar versions.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        for (const [path, value] of strings(args.props)) {
            if (!/(^|\.)image$/.test(path)) continue;
            const tag = imageTag(value);
            if (tag === undefined || tag === "latest") reportViolation(`${args.name}: ${path} "${value}" has no pinned tag`);
            else if (value.includes("/erpuno/") && !CALVER.test(tag)) reportViolation(`${args.name}: ${path} "${value}" is not a calendar version`);
        }
        const source = args.props?.spec?.source;
        if (args.props?.kind === "Application" && source?.chart === "erp-uno" && !CALVER.test(String(source.targetRevision))) {
            reportViolation(`${args.name}: erp-uno chart version "${source.targetRevision}" is not a calendar version`);
        }
        const version = args.props?.spec?.source?.helm?.valuesObject?.global?.version;
        if (version !== undefined && !CALVER.test(String(version))) {
            reportViolation(`${args.name}: global.version "${version}" is not a calendar version`);
        }
    },
};

/** Where key material and password hashes may legitimately appear (all of them secret inputs). */
const SECRET_CARRIERS = [/^tls:/, /^kubernetes:core\/v1:Secret$/, /^command:/, /^pulumi:providers:/, /^kubernetes:helm\.sh\/v3:Release$/];

export const keyMaterialOnlyInSecretCarriers: ResourceValidationPolicy = {
    name: "key-material-only-in-secret-carriers",
    description: "Private keys and password hashes appear only in inputs meant to carry secrets (tls, Secrets, commands, providers).",
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        if (SECRET_CARRIERS.some((pattern) => pattern.test(args.type))) return;
        for (const [path, value] of strings(args.props)) {
            if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value) || /\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}/.test(value)) {
                reportViolation(`${args.name}: ${path} holds key material or a password hash in a ${args.type}`);
            }
        }
    },
};

export const policies: Policies = [
    vmDisksOnThinDatastores,
    vmRoleTags,
    productionVmsProtected,
    controlPlaneAntiAffinity,
    internalSourcesOnly,
    noLatestCalendarVersions,
    keyMaterialOnlyInSecretCarriers,
];
