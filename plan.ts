// The stack's plan: the shaped configuration goes through each layer's plan in named stages, and
// every problem from every stage comes back in one error before any resource is registered.
// Data flows one way: config -> plan -> layers. A stage runs its own checks whenever the sections
// it reads have a sound shape; what it derives from an earlier stage's model waits for that model,
// so a problem is reported once and never again as a consequence in a later stage.
import * as pulumi from "@pulumi/pulumi";
import { planApps, type AppsPlan } from "./apps/plan";
import { planCluster, type ClusterPlan } from "./cluster/plan";
import { readConfig, type Environment, type ParsedConfig, type ProviderSettings, type StackConfig } from "./config";
import { ConfigError, Problems } from "./config/problems";
import { planDns, serviceNames, type DnsPlan } from "./dns/plan";
import { planInfraServices, type InfraServicesPlan } from "./infraServices/plan";
import { isDnsDomain } from "./lib/dnsNames";
import { publicSuffixProblem } from "./lib/urls";
import { hostOf, isIpv4 } from "./lib/net";
import { planPki, type PkiPlan } from "./pki/plan";
import { planProxmox, type ProxmoxPlan, type ReservedAddress } from "./proxmox/plan";

export interface StackPlan {
    readonly environment: Environment;
    readonly domain: string;
    /** The stack's domain first, then `internalDomains`: names under these are inside the contour. */
    readonly internalDomains: readonly string[];
    readonly proxmox: ProxmoxPlan;
    readonly dns: DnsPlan;
    readonly pki: PkiPlan;
    readonly infraServices: InfraServicesPlan;
    readonly cluster: ClusterPlan;
    readonly apps: AppsPlan;
    /** Problems that do not stop a non-production stack (e.g. a public mirror in dev). */
    readonly warnings: readonly string[];
}

export interface PlanInput {
    readonly config: ParsedConfig;
    /** Shape problems found while reading; reported with the plan's own. */
    readonly problems?: readonly string[];
    readonly provider: ProviderSettings;
    readonly stackName: string;
}

/** True when every section a stage reads has a sound shape. */
function has<K extends keyof StackConfig>(config: ParsedConfig, ...keys: K[]): config is ParsedConfig & Pick<StackConfig, K> {
    return keys.every((key) => config[key] !== undefined);
}

/** The plan of a shaped configuration. Pure; throws a ConfigError listing every problem. */
export function planStack({ config, problems: shapeProblems = [], provider, stackName }: PlanInput): StackPlan {
    if (!has(config, "environment", "domain", "internalDomains")) {
        // Without the environment and the domain no rule can be judged: report the shape alone.
        throw new ConfigError(shapeProblems.length > 0 ? shapeProblems : ["environment and domain are required"]);
    }
    const production = config.environment === "production";
    const internalDomains = [config.domain, ...config.internalDomains];
    const known = internalDomains.every((domain) => isDnsDomain(domain) && publicSuffixProblem(domain) === undefined);
    const problems = new Problems({ production, internalDomains, known });
    problems.add(...shapeProblems);

    // Stage "stack": what every layer relies on.
    checkStack(config, stackName, problems);
    const reserved = reservedAddresses(config);
    // Stage "proxmox": hosts, image, node network, VMs and their placement.
    const proxmox = has(config, "proxmox", "image", "network", "vms", "mirrors")
        ? planProxmox(config, provider, problems, { protectVms: config.protectVms ?? production, reserved })
        : undefined;
    // The derived names need a sound domain; with a wrong one, only the domain's problem is reported.
    const names = proxmox && known ? serviceNames(config.domain, proxmox) : undefined;
    // Stages "dns", "pki", "infra services", "cluster", "apps": each checks its own keys, then
    // builds on the VMs and the names when the Proxmox stage produced them.
    const dns = has(config, "dns") ? planDns(config, proxmox, names, problems) : undefined;
    const pki = has(config, "pki") ? planPki(config, names, problems) : undefined;
    const infraServices = has(config, "vms", "registry", "bundle") ? planInfraServices(config, names, stackName, problems) : undefined;
    const cluster = has(config, "kubernetes", "registry") ? planCluster(config, proxmox, names, reserved, problems) : undefined;
    // ArgoCD's tested range is checked against a Kubernetes version the cluster stage accepted only.
    const apps = has(config, "apps") ? planApps({ ...config, kubernetes: cluster ? config.kubernetes : undefined }, proxmox, names, problems) : undefined;

    problems.throwIfAny();
    if (!proxmox || !dns || !pki || !infraServices || !cluster || !apps) {
        // Unreachable: a stage without a model has reported why.
        throw new ConfigError(["the plan is incomplete although no problem was reported; this is a bug in erpdc"]);
    }
    return {
        environment: config.environment,
        domain: config.domain,
        internalDomains,
        proxmox,
        dns,
        pki,
        infraServices,
        cluster,
        apps,
        warnings: problems.warnings,
    };
}

function checkStack(config: Pick<StackConfig, "environment" | "domain" | "internalDomains" | "protectVms">, stackName: string, problems: Problems): void {
    if (!isDnsDomain(config.domain)) {
        problems.fail("domain", config.domain, "not a DNS domain; use lowercase labels of letters, digits and hyphens, e.g. erp.uno");
    } else if (publicSuffixProblem(config.domain) !== undefined) {
        problems.fail("domain", config.domain, `${publicSuffixProblem(config.domain)}; use a domain of your own under it, e.g. erp.uno`);
    }
    config.internalDomains.forEach((entry, i) => {
        if (!isDnsDomain(entry)) {
            problems.fail(`internalDomains[${i}]`, entry, "not a DNS domain; use e.g. mgmt.erp.uno");
        } else if (publicSuffixProblem(entry) !== undefined) {
            problems.fail(`internalDomains[${i}]`, entry, `${publicSuffixProblem(entry)}; list only domains of your own, e.g. mgmt.erp.uno`);
        }
    });
    if (config.environment === "production" && config.protectVms === false) {
        problems.fail("protectVms", false, "production VMs are always protected; remove the key");
    }
    // The environment decides protection and how public hosts are treated: a stack file copied
    // from another stack must not quietly keep that stack's environment.
    if (stackName !== config.environment && !stackName.startsWith(`${config.environment}-`)) {
        problems.fail(
            "environment",
            config.environment,
            `the stack is "${stackName}"; a stack's environment is its name or its name's first part (production, production-eu); set environment to the stack's, or use a stack named ${config.environment}`,
        );
    }
}

/**
 * Addresses on the contour that belong to machines this program does not build: the hosts of the
 * mirrors it downloads from (when given as addresses) and the NTP servers. No VM, virtual IP or
 * MetalLB address may take one.
 */
function reservedAddresses(config: ParsedConfig): ReservedAddress[] {
    const urls: [string, string | undefined][] = [
        ["mirrors.apt", config.mirrors?.apt],
        ["image.url", config.image?.url],
        ["dns.nsArtifact.url", config.dns?.nsArtifact.url],
        ["kubernetes.kubespraySource.url", config.kubernetes?.kubespraySource.url],
        ["kubernetes.pythonIndexUrl", config.kubernetes?.pythonIndexUrl],
        ["apps.gitRepoUrl", config.apps?.gitRepoUrl],
    ];
    const reserved: ReservedAddress[] = [];
    for (const [owner, url] of urls) {
        const host = url === undefined ? undefined : hostOf(url);
        if (host !== undefined && isIpv4(host)) reserved.push({ address: host, owner: `the host of ${owner}` });
    }
    (config.network?.ntpServers ?? []).forEach((server, i) => {
        if (isIpv4(server)) reserved.push({ address: server, owner: `network.ntpServers[${i}]` });
    });
    return reserved;
}

export interface LoadedPlan {
    readonly plan: StackPlan;
    /** The Proxmox API token, a secret from the first moment it is read. */
    readonly proxmoxApiToken: pulumi.Output<string>;
    /** The provider's SSH key, a secret, when one is set. */
    readonly proxmoxSshKey?: pulumi.Output<string>;
}

/** Reads the stack's configuration and plans it (for tools run outside the program: no logging). */
export function readPlan(): LoadedPlan {
    const { config, problems, provider, stackName, proxmoxApiToken, proxmoxSshKey } = readConfig();
    return { plan: planStack({ config, problems, provider, stackName }), proxmoxApiToken, ...(proxmoxSshKey === undefined ? {} : { proxmoxSshKey }) };
}

/** Reads and plans the stack, and logs the plan's warnings once (the program's entry). */
export function loadPlan(): LoadedPlan {
    const loaded = readPlan();
    for (const warning of loaded.plan.warnings) {
        pulumi.log.warn(warning);
    }
    return loaded;
}
