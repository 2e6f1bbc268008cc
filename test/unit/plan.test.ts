import { strict as assert } from "assert";
import { ConfigError } from "../../config";
import { runStack, type RecordedResource } from "../../render/engine";
import { fromConfigMap } from "../../render/stackConfig";
import { plannedStack, stackDocument, STACKS, VALID_TOKEN } from "../helpers";

type Doc = Record<string, any>;

interface InvalidCase {
    readonly name: string;
    readonly stack?: string;
    readonly edit: (config: Doc) => void;
    /** The message must name the key and its value, and say how to fix it. */
    readonly expect: RegExp;
}

const vms = (d: Doc) => d["erpdc:vms"];
const PUBLIC_IMAGE = "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img";

const INVALID: InvalidCase[] = [
    { name: "even control-plane count", edit: (d) => { vms(d).controlPlane.count = 2; vms(d).controlPlane.addresses.pop(); }, expect: /vms\.controlPlane\.count is 2: etcd .* needs an odd number \(1, 3, 5\)/ },
    { name: "no control-plane node", edit: (d) => { vms(d).controlPlane.count = 0; vms(d).controlPlane.addresses = []; }, expect: /vms\.controlPlane\.count is 0: .*odd number/ },
    {
        name: "more control-plane nodes than hosts under strict anti-affinity",
        edit: (d) => { vms(d).controlPlane.count = 5; vms(d).controlPlane.addresses.push("10.0.0.14", "10.0.0.15"); },
        expect: /vms\.controlPlane\.count is 5: strict anti-affinity .* only 3 host\(s\) .* add Proxmox hosts, lower the count, or set proxmox\.controlPlaneAntiAffinity to "preferred"/,
    },
    { name: "no infra VM", edit: (d) => { vms(d).infra.count = 0; vms(d).infra.addresses = []; }, expect: /vms\.infra\.count is 0: DNS, the registry and the chart server run on the infra VMs/ },
    { name: "duplicate address", edit: (d) => { vms(d).workers.addresses[1] = "10.0.0.21"; }, expect: /vms\.workers\.addresses\[1\] is "10\.0\.0\.21": k8s-worker1 has it already; give every VM its own address/ },
    { name: "address used by the control plane and a worker", edit: (d) => { vms(d).workers.addresses[2] = "10.0.0.11"; }, expect: /vms\.workers\.addresses\[2\] is "10\.0\.0\.11": k8s-control1 has it already/ },
    { name: "duplicate VM ID between roles", edit: (d) => { vms(d).workers.vmIdStart = 111; }, expect: /vms\.workers\.vmIdStart is 111: gives k8s-worker1 VM ID 111, which is already k8s-control2's; move the ranges of vmIdStart apart/ },
    { name: "template VM ID taken by a VM", edit: (d) => { vms(d).template.vmIdStart = 120; vms(d).workers.vmIdStart = 121; }, expect: /vms\.workers\.vmIdStart is 121: gives k8s-worker1 VM ID 121, which is already the template on pve2's/ },
    { name: "duplicate hostname", edit: (d) => { vms(d).workers.namePrefix = "k8s-control"; }, expect: /vms\.workers\.namePrefix is "k8s-control": gives k8s-control1, which vms\.controlPlane \(k8s-control1\) already has; give every role its own prefix/ },
    { name: "address outside the node network", edit: (d) => { vms(d).infra.addresses = ["10.0.1.5"]; }, expect: /vms\.infra\.addresses\[0\] is "10\.0\.1\.5": outside network\.cidr 10\.0\.0\.0\/24; use an address inside it/ },
    { name: "address equal to the gateway", edit: (d) => { vms(d).infra.addresses = ["10.0.0.1"]; }, expect: /vms\.infra\.addresses\[0\] is "10\.0\.0\.1": is the gateway's address \(network\.gateway\); give the VM its own/ },
    { name: "address equal to the network address", edit: (d) => { vms(d).infra.addresses = ["10.0.0.0"]; }, expect: /vms\.infra\.addresses\[0\] is "10\.0\.0\.0": is the network address of 10\.0\.0\.0\/24; use a host address/ },
    { name: "address equal to the broadcast address", edit: (d) => { vms(d).workers.addresses[0] = "10.0.0.255"; }, expect: /vms\.workers\.addresses\[0\] is "10\.0\.0\.255": is the broadcast address of 10\.0\.0\.0\/24/ },
    { name: "not an IPv4 address", edit: (d) => { vms(d).workers.addresses[0] = "10.0.0.300"; }, expect: /vms\.workers\.addresses\[0\] is "10\.0\.0\.300": not an IPv4 address/ },
    { name: "fewer addresses than VMs", edit: (d) => { vms(d).workers.count = 4; }, expect: /vms\.workers\.addresses is \[.*\]: lists 3 address\(es\) for vms\.workers\.count 4; give exactly one per VM/ },
    { name: "unknown Proxmox host", edit: (d) => { vms(d).workers.hosts = ["pve9"]; }, expect: /vms\.workers\.hosts\[0\] is "pve9": not a Proxmox host; use one of pve1, pve2, pve3/ },
    {
        name: "host memory exceeded",
        edit: (d) => { vms(d).workers.memoryMiB = 262144; },
        expect: /proxmox\.hosts\[\d\] \(pve\d\) is over capacity: the placement puts .*k8s-worker\d.* MiB of memory against 245760 MiB usable .* add a Proxmox host or lower vms\.<role>\.memoryMiB/,
    },
    { name: "vCPUs exceeded", edit: (d) => { vms(d).workers.cores = 100; }, expect: /over capacity: .* vCPUs against 64 \(cores x proxmox\.cpuOvercommit 2\)/ },
    { name: "image on a public host in production", edit: (d) => { d["erpdc:image"].url = PUBLIC_IMAGE; }, expect: /image\.url is "https:\/\/cloud-images\.ubuntu\.com.*": cloud-images\.ubuntu\.com is outside the closed contour; point it at the internal mirror/ },
    { name: "missing image checksum", edit: (d) => { delete d["erpdc:image"].checksum; }, expect: /image\.checksum is missing: Proxmox verifies the downloaded image against it; copy the sha256 line/ },
    { name: "checksum of the wrong length", edit: (d) => { d["erpdc:image"].checksum = "d1940f7d"; }, expect: /image\.checksum is "d1940f7d": a sha256 checksum is 64 hexadecimal digits/ },
    { name: "image URL that is not a disk image", edit: (d) => { d["erpdc:image"].url = "http://10.0.0.2/files/noble.iso"; }, expect: /image\.url is ".*noble\.iso": use the http\(s\) URL of the Ubuntu 24\.04 cloud image/ },
    { name: "non-thin disk datastore", edit: (d) => { d["erpdc:proxmox"].datastores.disks.type = "lvm"; }, expect: /proxmox\.datastores\.disks\.type is "lvm": VM disks must be thin-provisioned; use an LVM-thin \("lvmthin"\), ZFS \("zfspool"\) or Ceph RBD \("rbd"\)/ },
    { name: "bad domain", edit: (d) => { d["erpdc:domain"] = "ERP_UNO"; }, expect: /domain is "ERP_UNO": not a DNS domain; use lowercase labels/ },
    { name: "CIDR with host bits", edit: (d) => { d["erpdc:network"].cidr = "10.0.0.5/24"; }, expect: /network\.cidr is "10\.0\.0\.5\/24": use an IPv4 network with its host bits zero/ },
    { name: "gateway outside the network", edit: (d) => { d["erpdc:network"].gateway = "10.0.1.1"; }, expect: /network\.gateway is "10\.0\.1\.1": outside network\.cidr/ },
    { name: "VLAN out of range", edit: (d) => { d["erpdc:proxmox"].network.vlan = 5000; }, expect: /proxmox\.network\.vlan is 5000: a VLAN ID is 1 to 4094/ },
    { name: "duplicate Proxmox host name", edit: (d) => { d["erpdc:proxmox"].hosts[1].name = "pve1"; }, expect: /proxmox\.hosts\[1\]\.name is "pve1": proxmox\.hosts\[0\] has the same name; host names must be unique/ },
    { name: "unknown environment", edit: (d) => { d["erpdc:environment"] = "prod"; }, expect: /environment is "prod": use one of "dev", "staging", "production"/ },
    { name: "unknown HA mode", edit: (d) => { d["erpdc:proxmox"].haMode = "pve9"; }, expect: /proxmox\.haMode is "pve9": use one of "rules", "groups", "none"/ },
    { name: "HA on a single host", stack: "dev", edit: (d) => { d["erpdc:proxmox"].haMode = "rules"; }, expect: /proxmox\.haMode is "rules": HA needs at least two Proxmox hosts and there is 1; set it to "none"/ },
    { name: "public apt mirror in production", edit: (d) => { d["erpdc:mirrors"].apt = "http://archive.ubuntu.com/ubuntu"; }, expect: /mirrors\.apt is "http:\/\/archive\.ubuntu\.com\/ubuntu": archive\.ubuntu\.com is outside the closed contour/ },
    { name: "a retired mirrors key", edit: (d) => { d["erpdc:mirrors"].registry = "registry.erp.uno"; }, expect: /mirrors\.registry was removed: the program builds the registry on the infra VM as registry\.<domain>; delete the key/ },
    { name: "misspelt key", edit: (d) => { vms(d).controlPlane.cout = 3; }, expect: /vms\.controlPlane\.cout is 3: not a configuration key; did you mean count\?/ },
    { name: "missing role", edit: (d) => { delete vms(d).workers; }, expect: /vms\.workers is missing: set it in Pulumi\.<stack>\.yaml/ },
    { name: "missing Proxmox endpoint", edit: (d) => { delete d["proxmoxve:endpoint"]; }, expect: /proxmoxve:endpoint is missing: set it with `pulumi config set proxmoxve:endpoint https:\/\/pve1\.erp\.uno:8006\/`/ },
    { name: "plain-HTTP Proxmox endpoint", edit: (d) => { d["proxmoxve:endpoint"] = "http://10.0.1.11:8006/"; }, expect: /proxmoxve:endpoint is "http:\/\/10\.0\.1\.11:8006\/": use the HTTPS URL of the Proxmox API/ },
    { name: "production VMs unprotected", edit: (d) => { d["erpdc:protectVms"] = false; }, expect: /protectVms is false: production VMs are always protected; remove the key/ },
    { name: "root as the admin user", edit: (d) => { vms(d).adminUser = "root"; }, expect: /vms\.adminUser is "root": use a lowercase Linux user name other than root/ },
    { name: "DNS record outside the domain", edit: (d) => { d["erpdc:dns"].extraRecords = [{ name: "mail.example.com", type: "A", data: { ip: "10.0.0.40" } }]; }, expect: /dns\.extraRecords\[0\]\.name is "mail\.example\.com": is outside the domain erp\.uno; use a name relative to it/ },
    { name: "DNS record that duplicates a generated name", edit: (d) => { d["erpdc:dns"].extraRecords = [{ name: "registry", type: "A", data: { ip: "10.0.0.40" } }]; }, expect: /dns\.extraRecords\[0\]\.name is "registry": registry\.erp\.uno is generated from the inventory; choose another name/ },
    { name: "DNS record with a bad label", edit: (d) => { d["erpdc:dns"].extraRecords = [{ name: "Bad_Name", type: "A", data: { ip: "10.0.0.40" } }]; }, expect: /dns\.extraRecords\[0\]\.name is "Bad_Name": not a DNS name/ },
    { name: "DNS record synrc/ns would drop", edit: (d) => { d["erpdc:dns"].extraRecords = [{ name: "mail", type: "A", data: { ip: "10.0.0.400" } }]; }, expect: /dns\.extraRecords\[0\]\.data is \{"ip":"10\.0\.0\.400"\}: ip "10\.0\.0\.400" is not an IPv4 address/ },
    { name: "API address outside the node network", edit: (d) => { d["erpdc:network"].apiAddress = "10.0.5.10"; }, expect: /network\.apiAddress is "10\.0\.5\.10": outside network\.cidr 10\.0\.0\.0\/24/ },
    { name: "API address taken by a VM", edit: (d) => { d["erpdc:network"].apiAddress = "10.0.0.11"; }, expect: /network\.apiAddress is "10\.0\.0\.11": k8s-control1 has it already; give the API virtual IP a free address/ },
    { name: "API and ingress on one address", edit: (d) => { d["erpdc:network"].ingressAddress = "10.0.0.10"; }, expect: /network\.ingressAddress is "10\.0\.0\.10": network\.apiAddress has it already/ },
    { name: "VM on a Proxmox host's address", edit: (d) => { d["erpdc:proxmox"].hosts[0].address = "10.0.0.21"; }, expect: /vms\.workers\.addresses\[0\] is "10\.0\.0\.21": proxmox\.hosts\[0\] \(pve1\) has it already/ },
    { name: "synrc/ns from a public host in production", edit: (d) => { d["erpdc:dns"].nsArtifact.url = "https://github.com/synrc/ns/releases/erldns.tar.gz"; }, expect: /dns\.nsArtifact\.url is "https:\/\/github\.com\/.*": github\.com is outside the closed contour/ },
    { name: "malformed synrc/ns checksum", edit: (d) => { d["erpdc:dns"].nsArtifact.sha256 = "XYZ"; }, expect: /dns\.nsArtifact\.sha256 is "XYZ": a sha256 checksum is 64 lowercase hexadecimal digits/ },
    { name: "infra VM without a data disk", edit: (d) => { delete d["erpdc:vms"].infra.dataDiskGiB; }, expect: /vms\.infra\.dataDiskGiB is missing: the registry, the chart repository and the files area live on the infra VM's data disk/ },
    { name: "pod network overlapping the node network", edit: (d) => { d["erpdc:kubernetes"].podCidr = "10.0.0.0/16"; }, expect: /kubernetes\.podCidr is "10\.0\.0\.0\/16": overlaps network\.cidr 10\.0\.0\.0\/24; pods, services and nodes need separate networks/ },
    { name: "service network overlapping the pod network", edit: (d) => { d["erpdc:kubernetes"].serviceCidr = "10.233.64.0/20"; }, expect: /kubernetes\.serviceCidr is "10\.233\.64\.0\/20": overlaps kubernetes\.podCidr 10\.233\.64\.0\/18/ },
    { name: "Kubespray too old for Ubuntu 24.04", edit: (d) => { d["erpdc:kubernetes"].kubesprayVersion = "v2.25.0"; }, expect: /kubernetes\.kubesprayVersion is "v2\.25\.0": the VMs run Ubuntu 24\.04, which Kubespray supports from v2\.26\.0/ },
    { name: "Kubernetes version the release does not support", edit: (d) => { d["erpdc:kubernetes"].kubeVersion = "1.29.3"; }, expect: /kubernetes\.kubeVersion is "1\.29\.3": Kubespray v2\.28\.0 supports Kubernetes 1\.30 to 1\.32/ },
    { name: "Kubernetes version with a v", edit: (d) => { d["erpdc:kubernetes"].kubeVersion = "v1.32.5"; }, expect: /kubernetes\.kubeVersion is "v1\.32\.5": write it without the "v"/ },
    { name: "ansible-core outside the release's range", edit: (d) => { d["erpdc:kubernetes"].ansibleCoreVersion = "2.18.1"; }, expect: /kubernetes\.ansibleCoreVersion is "2\.18\.1": Kubespray v2\.28\.0 needs ansible-core >= 2\.16\.14 and < 2\.17\.0/ },
    { name: "MetalLB pool outside the node network", edit: (d) => { d["erpdc:kubernetes"].metallbPool = "10.0.1.30-10.0.1.49"; }, expect: /kubernetes\.metallbPool is "10\.0\.1\.30-10\.0\.1\.49": MetalLB answers ARP on the node network, so the pool must lie inside network\.cidr/ },
    { name: "MetalLB pool over VM addresses", edit: (d) => { d["erpdc:kubernetes"].metallbPool = "10.0.0.20-10.0.0.49"; }, expect: /kubernetes\.metallbPool is "10\.0\.0\.20-10\.0\.0\.49": holds 10\.0\.0\.21 \(k8s-worker1\), 10\.0\.0\.22 \(k8s-worker2\), 10\.0\.0\.23 \(k8s-worker3\); keep the pool clear/ },
    { name: "MetalLB pool without the ingress address", edit: (d) => { d["erpdc:kubernetes"].metallbPool = "10.0.0.40-10.0.0.49"; }, expect: /does not hold network\.ingressAddress 10\.0\.0\.30/ },
    { name: "Kubespray from a public host in production", edit: (d) => { d["erpdc:kubernetes"].kubespraySource.url = "https://github.com/kubernetes-sigs/kubespray/archive/v2.28.0.tar.gz"; }, expect: /kubernetes\.kubespraySource\.url is "https:\/\/github\.com\/.*": github\.com is outside the closed contour/ },
    { name: "Ansible from the public PyPI in production", edit: (d) => { d["erpdc:kubernetes"].pythonIndexUrl = "https://pypi.org/simple"; }, expect: /kubernetes\.pythonIndexUrl is "https:\/\/pypi\.org\/simple": pypi\.org is outside the closed contour/ },
    { name: "role restricted to too few hosts", edit: (d) => { vms(d).controlPlane.hosts = ["pve1", "pve2"]; }, expect: /vms\.controlPlane\.count is 3: strict anti-affinity .* only 2 host\(s\) are allowed/ },
];

describe("invalid stack configuration", () => {
    for (const testCase of INVALID) {
        it(`rejects ${testCase.name}, naming the key and the fix, before any resource exists`, async () => {
            const document = stackDocument(testCase.stack ?? "production");
            testCase.edit(document);
            const offline = fromConfigMap(document);
            const recorded: RecordedResource[] = [];
            await assert.rejects(
                runStack({ stack: testCase.stack ?? "production", config: offline.config, secretKeys: offline.secretKeys }, recorded),
                (error: unknown) => {
                    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
                    assert.match(error.message, testCase.expect);
                    return true;
                },
            );
            assert.deepEqual(recorded.map((resource) => resource.name), []);
        });
    }

    it("rejects a malformed API token without ever printing it", async () => {
        const document = stackDocument("production");
        const token = "root@pam!tok=not-a-uuid-SECRETVALUE";
        document["proxmoxve:apiToken"] = token;
        const offline = fromConfigMap(document);
        await assert.rejects(runStack({ stack: "production", config: offline.config }), (error: unknown) => {
            assert.ok(error instanceof ConfigError);
            assert.match(error.message, /proxmoxve:apiToken is malformed \(value not shown\): expected USER@REALM!TOKENID=UUID/);
            assert.ok(!error.message.includes("SECRETVALUE"));
            return true;
        });
    });

    it("asks for the API token when it is not set, with the command that sets it", async () => {
        const offline = fromConfigMap(stackDocument("production"));
        delete offline.config["proxmoxve:apiToken"];
        const recorded: RecordedResource[] = [];
        await assert.rejects(runStack({ stack: "production", config: offline.config }, recorded), /proxmoxve:apiToken is missing: .*pulumi config set --secret proxmoxve:apiToken/);
        assert.equal(recorded.length, 0);
    });

    it("reports every problem at once", () => {
        const edit = (raw: Record<string, any>) => {
            raw.vms.adminUser = "root";
            raw.proxmox.datastores.disks.type = "dir";
            raw.network.gateway = "192.168.1.1";
        };
        assert.throws(() => plannedStack("production", edit), (error: unknown) => {
            assert.ok(error instanceof ConfigError);
            assert.equal(error.problems.length, 3, error.message);
            return true;
        });
    });
});

describe("valid stack configuration", () => {
    for (const stack of STACKS) {
        it(`resolves the committed ${stack} stack`, () => {
            const config = plannedStack(stack);
            assert.equal(config.environment, stack);
            // Tarballs whose checksums are only known once mirrored: the only warnings.
            assert.deepEqual(config.warnings.map((w) => w.split(":")[0]), ["dns.nsArtifact.sha256 is missing", "kubernetes.kubespraySource.sha256 is missing"]);
        });
    }

    it("only warns about a public mirror outside production", () => {
        const config = plannedStack("dev", (raw) => (raw.mirrors.apt = "http://archive.ubuntu.com/ubuntu"));
        assert.equal(config.warnings.filter((w) => /mirrors\.apt .* outside the closed contour/.test(w)).length, 1);
    });

    it("keeps the token out of the plan", () => {
        const config = plannedStack("production");
        assert.ok(!JSON.stringify(config).includes(VALID_TOKEN));
    });
});
