// The ERP/1 closed-contour datacenter: read the stack config, create the layers, export outputs.
// Pulumi calls the exported function with no argument; the offline render passes its own sink to
// collect the generated files.
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config";
import { ProxmoxLayer } from "./infra";
import { ArtifactSink } from "./render/artifacts";

export = async (artifacts: ArtifactSink = new ArtifactSink()) => {
    const { stack, proxmoxApiToken } = loadStackConfig();

    const infra = new ProxmoxLayer("proxmox", { config: stack, proxmoxApiToken, artifacts });

    return {
        environment: stack.environment,
        inventory: infra.inventory,
        sshPublicKey: infra.adminKey.publicKeyOpenssh,
        sshPrivateKey: pulumi.secret(infra.adminKey.privateKeyOpenssh),
    };
};
