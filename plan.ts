// The stack's plan: the shaped configuration goes through each layer's plan in named stages, and
// every problem from every stage comes back in one error before any resource is registered.
// Data flows one way: config -> plan -> layers. A stage runs when the stages it reads from have
// produced a model; a problem in a stage never adds follow-on errors in the stages after it.
import * as pulumi from "@pulumi/pulumi";
import { planApps, type AppsPlan } from "./apps/plan";
import { planCluster, type ClusterPlan } from "./cluster/plan";
import { readConfig, type Environment, type ProviderSettings, type StackConfig } from "./config";
import { ConfigError, Problems } from "./config/problems";
import { planDns, type DnsPlan } from "./dns/plan";
import { planInfraServices, type InfraServicesPlan } from "./infraServices/plan";
import { isDnsDomain } from "./lib/dnsNames";
import { planPki, type PkiPlan } from "./pki/plan";
import { planProxmox, type ProxmoxPlan } from "./proxmox/plan";

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

/** The plan of a shaped configuration. Pure; throws a ConfigError listing every problem. */
export function planStack(config: StackConfig, provider: ProviderSettings): StackPlan {
    const production = config.environment === "production";
    const internalDomains = [config.domain, ...config.internalDomains];
    const problems = new Problems({ production, internalDomains });

    // Stage "stack": what every layer relies on.
    checkStack(config, problems);
    // Stage "proxmox": hosts, image, node network, VMs and their placement.
    const proxmox = planProxmox(config, provider, problems, config.protectVms ?? production);
    // Stage "dns": the derived names and the zone.
    const dns = proxmox && planDns(config, proxmox, problems);
    // Stages "pki", "infra services", "cluster", "apps": each from the VMs and the names.
    const pki = dns && planPki(config, dns);
    const infraServices = dns && planInfraServices(config, dns, problems);
    const cluster = proxmox && dns && planCluster(config, proxmox, dns, problems);
    const apps = proxmox && dns && planApps(config, proxmox, dns, problems);

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

function checkStack(config: StackConfig, problems: Problems): void {
    if (!isDnsDomain(config.domain)) {
        problems.fail("domain", config.domain, "not a DNS domain; use lowercase labels of letters, digits and hyphens, e.g. erp.uno");
    }
    config.internalDomains.forEach((entry, i) => {
        if (!isDnsDomain(entry)) {
            problems.fail(`internalDomains[${i}]`, entry, "not a DNS domain; use e.g. mgmt.erp.uno");
        }
    });
    if (config.environment === "production" && config.protectVms === false) {
        problems.fail("protectVms", false, "production VMs are always protected; remove the key");
    }
}

export interface LoadedPlan {
    readonly plan: StackPlan;
    /** The Proxmox API token, a secret from the first moment it is read. */
    readonly proxmoxApiToken: pulumi.Output<string>;
}

/** Reads the stack's configuration and plans it (for tools run outside the program: no logging). */
export function readPlan(): LoadedPlan {
    const { config, provider, proxmoxApiToken } = readConfig();
    return { plan: planStack(config, provider), proxmoxApiToken };
}

/** Reads and plans the stack, and logs the plan's warnings once (the program's entry). */
export function loadPlan(): LoadedPlan {
    const loaded = readPlan();
    for (const warning of loaded.plan.warnings) {
        pulumi.log.warn(warning);
    }
    return loaded;
}
