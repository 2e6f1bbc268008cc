// The invalid-config table: realistic operator mistakes against the committed stacks. Each names
// the key and the value the message must quote ("<key> is <value>"), and what the fix must say.
type Doc = Record<string, any>;

export const MISSING = Symbol("missing");

export interface InvalidCase {
    readonly name: string;
    /** The committed stack the mistake is made in; production when absent. */
    readonly stack?: string;
    /** The stack name the edited file runs under, when that is the mistake. */
    readonly as?: string;
    readonly edit: (doc: Doc) => void;
    /** The key the message must name. */
    readonly key: string;
    /** The value the message must quote after the key ("<key> is <value>"); MISSING for "<key> is missing". */
    readonly value?: unknown;
    /** What the rest of the message must say (the problem and the fix). */
    readonly expect: RegExp;
    /** How many problems the mistake gives; 1 when absent (nothing that only follows from it). */
    readonly problems?: number;
}

const e = (d: Doc, key: string) => d[`erpdc:${key}`];
const vms = (d: Doc) => e(d, "vms");
const pve = (d: Doc) => e(d, "proxmox");
const net = (d: Doc) => e(d, "network");
const k8s = (d: Doc) => e(d, "kubernetes");
const dns = (d: Doc) => e(d, "dns");
const apps = (d: Doc) => e(d, "apps");
const records = (...list: Record<string, unknown>[]) => (d: Doc) => (dns(d).extraRecords = list);
const PUBLIC_IMAGE = "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img";

const UNKNOWN_AND_SHAPE: InvalidCase[] = [
    { name: "a misspelt top-level key", edit: (d) => (d["erpdc:internalDomain"] = ["corp.example"]), key: "erpdc:internalDomain", value: ["corp.example"], expect: /not a configuration key; did you mean erpdc:internalDomains\?/ },
    { name: "protectVm for protectVms", stack: "staging", edit: (d) => (d["erpdc:protectVm"] = true), key: "erpdc:protectVm", value: true, expect: /did you mean erpdc:protectVms\?/ },
    { name: "registy for registry", edit: (d) => (d["erpdc:registy"] = { username: "erpdc" }), key: "erpdc:registy", value: { username: "erpdc" }, expect: /did you mean erpdc:registry\?/ },
    { name: "an unrelated top-level key", edit: (d) => (d["erpdc:colour"] = "blue"), key: "erpdc:colour", value: "blue", expect: /not a configuration key; the keys here are erpdc:environment, erpdc:domain/ },
    { name: "a misspelt nested key", edit: (d) => (vms(d).controlPlane.cout = 3), key: "vms.controlPlane.cout", value: 3, expect: /not a configuration key; did you mean count\?/ },
    { name: "dnsServer for dnsServers", edit: (d) => (net(d).dnsServer = ["10.0.0.5"]), key: "network.dnsServer", value: ["10.0.0.5"], expect: /did you mean dnsServers\?/ },
    { name: "a key of a host's map misspelt", edit: (d) => (pve(d).hosts[0].memory = 256), key: "proxmox.hosts[0].memory", value: 256, expect: /did you mean memoryGiB\?/ },
    { name: "a misspelt PKI key", edit: (d) => (d["erpdc:pki"] = { algorithim: "RSA" }), key: "pki.algorithim", value: "RSA", expect: /did you mean algorithm\?/ },
    { name: "a misspelt key in an extra record", edit: records({ name: "mail", type: "A", ttls: 60, data: { ip: "10.0.0.40" } }), key: "dns.extraRecords[0].ttls", value: 60, expect: /did you mean ttl\?/ },
    { name: "a misspelt Kubernetes key", edit: (d) => ((k8s(d).kubesprayVerison = "v2.28.0"), delete k8s(d).kubesprayVersion), key: "kubernetes.kubesprayVerison", value: "v2.28.0", expect: /did you mean kubesprayVersion\?/, problems: 2 },
    { name: "a provider key this program does not read", edit: (d) => (d["proxmoxve:username"] = "root@pam"), key: "proxmoxve:username", value: "root@pam", expect: /builds its own provider from proxmoxve:endpoint, proxmoxve:apiToken, proxmoxve:insecure, proxmoxve:sshPrivateKey only/ },
    { name: "a provider password, never echoed", edit: (d) => (d["proxmoxve:password"] = "hunter2"), key: "proxmoxve:password is (value not shown)", expect: /builds its own provider/ },
    { name: "a provider key set as a secret, never echoed", edit: (d) => (d["proxmoxve:ssh"] = { secure: "v1:hunter2" }), key: "proxmoxve:ssh is (value not shown)", expect: /builds its own provider/ },
    { name: "a secret under a key that does not exist, never echoed", edit: (d) => (d["erpdc:registryPassword"] = { secure: "v1:hunter2" }), key: "erpdc:registryPassword is (value not shown)", expect: /not a configuration key/ },
    { name: "a secret inside a section, under a key it does not have, never echoed", edit: (d) => (e(d, "mirrors").password = { secure: "v1:hunter2" }), key: "mirrors.password is (value not shown)", expect: /not a configuration key/ },
    { name: "a retired mirrors key", edit: (d) => (e(d, "mirrors").registry = "registry.erp.uno"), key: "mirrors.registry", value: "registry.erp.uno", expect: /was removed: the program builds the registry on the infra VM as registry\.<domain>; delete the key/ },
    { name: "the retired files mirror", edit: (d) => (e(d, "mirrors").files = "http://10.0.0.2/files"), key: "mirrors.files", value: "http://10.0.0.2/files", expect: /was removed: the program builds the files area/ },
    { name: "the retired charts mirror", edit: (d) => (e(d, "mirrors").charts = "https://charts.erp.uno"), key: "mirrors.charts", value: "https://charts.erp.uno", expect: /was removed: the program builds the chart repository/ },
    { name: "a shared flag on the disks", edit: (d) => (pve(d).datastores.disks.shared = false), key: "proxmox.datastores.disks.shared", value: false, expect: /was removed: whether VM disks are shared follows from their storage type/ },
    { name: "an RSA key size outside the choices", edit: (d) => (d["erpdc:pki"] = { algorithm: "RSA", rsaBits: 1024 }), key: "pki.rsaBits", value: 1024, expect: /use 2048 or 3072 or 4096/ },
    { name: "a word for a number", edit: (d) => (vms(d).workers.cores = "eight"), key: "vms.workers.cores", value: "eight", expect: /expected a number \(vCPUs per VM\)/ },
    { name: "a map where a list belongs", edit: (d) => (pve(d).hosts = { pve1: "10.0.1.11" }), key: "proxmox.hosts", value: { pve1: "10.0.1.11" }, expect: /expected a list/ },
    { name: "a list where a map belongs", edit: (d) => (d["erpdc:registry"] = ["erpdc"]), key: "registry", value: ["erpdc"], expect: /expected a map/ },
    { name: "text where a list belongs", edit: (d) => (d["erpdc:internalDomains"] = "corp.example"), key: "internalDomains", value: "corp.example", expect: /expected a list/ },
    { name: "a bridge name with a space", edit: (d) => (pve(d).network.bridge = "vmbr 0"), key: "proxmox.network.bridge", value: "vmbr 0", expect: /does not match \/\^\[A-Za-z\]\[A-Za-z0-9_\.-\]\{0,14\}\$\/ \(the Linux bridge/ },
    { name: "an unknown environment", edit: (d) => (d["erpdc:environment"] = "prod"), key: "environment", value: "prod", expect: /use one of "dev", "staging", "production"/ },
    { name: "an unknown HA mode", edit: (d) => (pve(d).haMode = "pve9"), key: "proxmox.haMode", value: "pve9", expect: /use one of "rules", "groups", "none"/ },
    { name: "no Proxmox host", edit: (d) => (pve(d).hosts = []), key: "proxmox.hosts", value: [], expect: /list at least 1 entries/ },
    { name: "zero cores", edit: (d) => (vms(d).workers.cores = 0), key: "vms.workers.cores", value: 0, expect: /use at least 1/ },
    { name: "a template disk over the limit", edit: (d) => (vms(d).template.diskGiB = 100), key: "vms.template.diskGiB", value: 100, expect: /use at most 64/ },
    { name: "a TTL too short", edit: (d) => (dns(d).ttl = 10), key: "dns.ttl", value: 10, expect: /use at least 30/ },
    { name: "a CA valid for 27 years", edit: (d) => (d["erpdc:pki"] = { caValidityDays: 10000 }), key: "pki.caValidityDays", value: 10000, expect: /use at most 7300/ },
    { name: "too many clone retries", edit: (d) => (pve(d).clones.retries = 20), key: "proxmox.clones.retries", value: 20, expect: /use at most 10/ },
    { name: "an MTU below IPv4's minimum", edit: (d) => (pve(d).network.mtu = 100), key: "proxmox.network.mtu", value: 100, expect: /use at least 576/ },
    { name: "a record type synrc/ns is not given", edit: records({ name: "v6", type: "AAAA", data: { ip: "fd00::1" } }), key: "dns.extraRecords[0].type", value: "AAAA", expect: /use one of "A", "CNAME", "MX", "SRV", "TXT"/ },
    { name: "yes for true", edit: (d) => (k8s(d).certManager = "yes"), key: "kubernetes.certManager", value: "yes", expect: /expected true or false/ },
    { name: "an unknown runner", edit: (d) => (k8s(d).runner = "remote"), key: "kubernetes.runner", value: "remote", expect: /use one of "local", "infra"/ },
    { name: "an unknown profile", edit: (d) => (apps(d).profile = "medium"), key: "apps.profile", value: "medium", expect: /use one of "light", "full"/ },
    { name: "an md5 checksum", edit: (d) => (e(d, "image").checksumAlgorithm = "md5"), key: "image.checksumAlgorithm", value: "md5", expect: /use one of "sha256", "sha512"/ },
    { name: "an empty storage ID", edit: (d) => (pve(d).datastores.snippets.id = ""), key: "proxmox.datastores.snippets.id", value: "", expect: /must not be empty/ },
    { name: "a negative memory reserve", edit: (d) => (pve(d).memoryReserveGiB = -1), key: "proxmox.memoryReserveGiB", value: -1, expect: /use at least 0/ },
    { name: "a missing role", edit: (d) => delete vms(d).workers, key: "vms.workers", value: MISSING, expect: /set it in Pulumi\.<stack>\.yaml to a map/ },
    { name: "an RSA size with an ECDSA CA", edit: (d) => (d["erpdc:pki"] = { rsaBits: 4096 }), key: "pki.rsaBits", value: 4096, expect: /applies only to pki\.algorithm "RSA"; remove it, or set pki\.algorithm to "RSA"/ },
    { name: "an ECDSA curve with an RSA CA", edit: (d) => (d["erpdc:pki"] = { algorithm: "RSA", ecdsaCurve: "P384" }), key: "pki.ecdsaCurve", value: "P384", expect: /applies only to pki\.algorithm "ECDSA"/ },
];

const STACK_AND_PROVIDER: InvalidCase[] = [
    { name: "a production stack file that says staging", edit: (d) => (d["erpdc:environment"] = "staging"), key: "environment", value: "staging", expect: /the stack is "production"; .* set environment to the stack's, or use a stack named staging/ },
    { name: "a copied stack file run as another stack", stack: "staging", as: "dev", edit: () => undefined, key: "environment", value: "staging", expect: /the stack is "dev"/ },
    { name: "unprotected production VMs", edit: (d) => (d["erpdc:protectVms"] = false), key: "protectVms", value: false, expect: /production VMs are always protected; remove the key/ },
    { name: "a domain with an underscore", edit: (d) => (d["erpdc:domain"] = "ERP_UNO"), key: "domain", value: "ERP_UNO", expect: /not a DNS domain; use lowercase labels/ },
    { name: "a domain in capitals", edit: (d) => (d["erpdc:domain"] = "Erp.Uno"), key: "domain", value: "Erp.Uno", expect: /not a DNS domain/ },
    { name: "a single-label domain", edit: (d) => (d["erpdc:domain"] = "erp"), key: "domain", value: "erp", expect: /not a DNS domain/ },
    { name: "a bad internal domain", edit: (d) => (d["erpdc:internalDomains"] = ["corp example"]), key: "internalDomains[0]", value: "corp example", expect: /not a DNS domain; use e\.g\. mgmt\.erp\.uno/ },
    { name: "no Proxmox endpoint", edit: (d) => delete d["proxmoxve:endpoint"], key: "proxmoxve:endpoint", value: MISSING, expect: /set it with `pulumi config set proxmoxve:endpoint https:\/\/pve1\.erp\.uno:8006\/`/ },
    { name: "a plain-HTTP endpoint", edit: (d) => (d["proxmoxve:endpoint"] = "http://10.0.1.11:8006/"), key: "proxmoxve:endpoint", value: "http://10.0.1.11:8006/", expect: /use the HTTPS URL of the Proxmox API/ },
    { name: "an endpoint with /api2/json", edit: (d) => (d["proxmoxve:endpoint"] = "https://10.0.1.11:8006/api2/json"), key: "proxmoxve:endpoint", value: "https://10.0.1.11:8006/api2/json", expect: /adds \/api2\/json itself and drops any path; use https:\/\/10\.0\.1\.11:8006\// },
    { name: "an endpoint behind a path", edit: (d) => (d["proxmoxve:endpoint"] = "https://proxy.erp.uno/pve/"), key: "proxmoxve:endpoint", value: "https://proxy.erp.uno/pve/", expect: /drops any path/ },
    { name: "a public endpoint in production", edit: (d) => (d["proxmoxve:endpoint"] = "https://pve.example.com:8006/"), key: "proxmoxve:endpoint", value: "https://pve.example.com:8006/", expect: /pve\.example\.com is outside the closed contour/ },
    { name: "not an endpoint at all", edit: (d) => (d["proxmoxve:endpoint"] = "pve1:8006"), key: "proxmoxve:endpoint", value: "pve1:8006", expect: /use the HTTPS URL/ },
    { name: "insecure as a word", edit: (d) => (d["proxmoxve:insecure"] = "yes"), key: "proxmoxve:insecure", value: "yes", expect: /use true or false/ },
    { name: "an unverified API certificate in production", edit: (d) => (d["proxmoxve:insecure"] = "true"), key: "proxmoxve:insecure", value: true, expect: /trust the cluster's CA instead \(\/etc\/pve\/pve-root-ca\.pem/ },
    { name: "an SSH key that is no key, never echoed", edit: (d) => (d["proxmoxve:sshPrivateKey"] = "hunter2"), key: "proxmoxve:sshPrivateKey is malformed (value not shown)", expect: /unencrypted private key in PEM or OpenSSH form/ },
    { name: "a realm user for SSH", edit: (d) => (pve(d).ssh = { username: "pulumi@pve" }), key: "proxmox.ssh.username", value: "pulumi@pve", expect: /as a Linux user, not a Proxmox realm user; use pulumi/ },
    { name: "an SSH user in capitals", edit: (d) => (pve(d).ssh = { username: "Admin" }), key: "proxmox.ssh.username", value: "Admin", expect: /use a Linux user name on the Proxmox hosts/ },
];

const PROXMOX: InvalidCase[] = [
    { name: "a duplicate host name", edit: (d) => (pve(d).hosts[1].name = "pve1"), key: "proxmox.hosts[1].name", value: "pve1", expect: /proxmox\.hosts\[0\] has the same name; host names must be unique/ },
    { name: "a host name with an underscore", edit: (d) => (pve(d).hosts[0].name = "pve_1"), key: "proxmox.hosts[0].name", value: "pve_1", expect: /use the Proxmox node name, a DNS label/ },
    { name: "a host by name instead of address", edit: (d) => (pve(d).hosts[0].address = "pve1.erp.uno"), key: "proxmox.hosts[0].address", value: "pve1.erp.uno", expect: /use the host's IPv4 management address/ },
    { name: "two hosts on one address", edit: (d) => (pve(d).hosts[2].address = "10.0.1.11"), key: "proxmox.hosts[2].address", value: "10.0.1.11", expect: /proxmox\.hosts\[0\] has the same address/ },
    { name: "production with one infra VM", edit: (d) => Object.assign(vms(d).infra, { count: 1, addresses: ["10.0.0.5"] }), key: "vms.infra.count", value: 1, expect: /production must survive the loss of any one Proxmox host, and losing pve1 stops infra1 \(1 of 1 infra VMs\): DNS, the registry, the chart repository and the files area would have no server left; run two infra VMs \(vms\.infra\.count 2 with a second address\)/ },
    { name: "production's infra VMs pinned to one host", edit: (d) => (vms(d).infra.hosts = ["pve2"]), key: "vms.infra.hosts", value: ["pve2"], expect: /losing pve2 stops infra1, infra2 \(2 of 2 infra VMs\): DNS, the registry, the chart repository and the files area would have no server left; put the infra VMs on separate hosts/ },
    { name: "production's workers pinned to one host", edit: (d) => (vms(d).workers.hosts = ["pve3"]), key: "vms.workers.count", value: 3, expect: /losing pve3 stops every worker \(k8s-worker1, k8s-worker2, k8s-worker3\): the ingress and erp-uno have no node left/ },
    { name: "HA with VM disks on local ZFS", edit: (d) => ((pve(d).haMode = "rules"), (pve(d).datastores.snippets = { id: "cephfs", type: "cephfs", shared: true })), key: "proxmox.haMode", value: "rules", expect: /the VM disks' storage local-zfs \(zfspool\) is local to each host, so the start there fails and strands the VM's config on that host; put the disks on shared storage/ },
    { name: "HA with snippets on a host's own directory", edit: (d) => ((pve(d).haMode = "rules"), (pve(d).datastores.disks = { id: "ceph-vm", type: "rbd" })), key: "proxmox.haMode", value: "rules", expect: /rebuilds its cloud-init drive from its snippets, and the snippets' storage local \(dir\) is local to each host/ },
    { name: "HA on two hosts", stack: "staging", edit: (d) => ((pve(d).haMode = "groups"), (pve(d).datastores.disks = { id: "ceph-vm", type: "rbd" }), (pve(d).datastores.snippets = { id: "cephfs", type: "cephfs", shared: true })), key: "proxmox.haMode", value: "groups", expect: /with two Proxmox hosts, losing one leaves the other without quorum, and its HA watchdog resets it; add a third host/ },
    { name: "HA on a single host", stack: "dev", edit: (d) => (pve(d).haMode = "rules"), key: "proxmox.haMode", value: "rules", expect: /HA needs at least two Proxmox hosts and there is 1; set it to "none"/ },
    { name: "a VLAN out of range", edit: (d) => (pve(d).network.vlan = 5000), key: "proxmox.network.vlan", value: 5000, expect: /a VLAN ID is 1 to 4094/ },
    { name: "VLAN 0", edit: (d) => (pve(d).network.vlan = 0), key: "proxmox.network.vlan", value: 0, expect: /a VLAN ID is 1 to 4094/ },
    { name: "a non-thin disk datastore", edit: (d) => (pve(d).datastores.disks.type = "lvm"), key: "proxmox.datastores.disks.type", value: "lvm", expect: /VM disks must be thin-provisioned; use an LVM-thin \("lvmthin"\), ZFS \("zfspool"\) or Ceph RBD \("rbd"\)/ },
    { name: "disks on a directory", edit: (d) => (pve(d).datastores.disks.type = "dir"), key: "proxmox.datastores.disks.type", value: "dir", expect: /must be thin-provisioned/ },
    { name: "a storage type Proxmox does not have", edit: (d) => (pve(d).datastores.disks.type = "zfs-pool"), key: "proxmox.datastores.disks.type", value: "zfs-pool", expect: /not a Proxmox storage type; use one of/ },
    { name: "the image on LVM-thin", edit: (d) => (pve(d).datastores.images = { id: "local-lvm", type: "lvmthin" }), key: "proxmox.datastores.images.type", value: "lvmthin", expect: /a lvmthin storage cannot hold the downloaded cloud image \(content type import\); use a storage of type dir, nfs, cifs, cephfs, btrfs/ },
    { name: "the image on an ESXi import source", edit: (d) => (pve(d).datastores.images = { id: "esxi1", type: "esxi" }), key: "proxmox.datastores.images.type", value: "esxi", expect: /cannot hold the downloaded cloud image/ },
    { name: "snippets on ZFS", edit: (d) => (pve(d).datastores.snippets = { id: "local-zfs", type: "zfspool" }), key: "proxmox.datastores.snippets.type", value: "zfspool", expect: /a zfspool storage cannot hold the cloud-init snippets/ },
    { name: "snippets on Ceph RBD", edit: (d) => (pve(d).datastores.snippets = { id: "ceph", type: "rbd", shared: true }), key: "proxmox.datastores.snippets.type", value: "rbd", expect: /cannot hold the cloud-init snippets/ },
    { name: "CephFS marked local", edit: (d) => (pve(d).datastores.snippets = { id: "cephfs", type: "cephfs", shared: false }), key: "proxmox.datastores.snippets.shared", value: false, expect: /cephfs storage is always shared by the hosts; set shared to true/ },
    { name: "NFS marked local", edit: (d) => (pve(d).datastores.images = { id: "nfs", type: "nfs" }), key: "proxmox.datastores.images.shared", value: false, expect: /nfs storage is always shared/ },
    { name: "a thin pool marked shared", edit: (d) => (pve(d).datastores.images = { id: "local-lvm", type: "lvmthin", shared: true }), key: "proxmox.datastores.images.shared", value: true, expect: /lvmthin storage is local to each host, never shared/, problems: 2 },
    { name: "an image URL on a public host", edit: (d) => (e(d, "image").url = PUBLIC_IMAGE), key: "image.url", value: PUBLIC_IMAGE, expect: /cloud-images\.ubuntu\.com is outside the closed contour; point it at the internal mirror/ },
    { name: "no image checksum", edit: (d) => delete e(d, "image").checksum, key: "image.checksum", value: MISSING, expect: /Proxmox verifies the downloaded image against it; copy the sha256 line/ },
    { name: "a short checksum", edit: (d) => (e(d, "image").checksum = "d1940f7d"), key: "image.checksum", value: "d1940f7d", expect: /a sha256 checksum is 64 hexadecimal digits/ },
    { name: "a sha256 checksum for sha512", edit: (d) => (e(d, "image").checksumAlgorithm = "sha512"), key: "image.checksum", value: "d1940f7d69d343355e183dff1e08a59852d32e7309baa7a4bad8365b11b005ac", expect: /a sha512 checksum is 128 hexadecimal digits/ },
    { name: "an ISO for the image", edit: (d) => (e(d, "image").url = "http://10.0.0.2/files/noble.iso"), key: "image.url", value: "http://10.0.0.2/files/noble.iso", expect: /use the http\(s\) URL of the Ubuntu 24\.04 cloud image/ },
    { name: "the image over FTP", edit: (d) => (e(d, "image").url = "ftp://10.0.0.2/noble.img"), key: "image.url", value: "ftp://10.0.0.2/noble.img", expect: /use the http\(s\) URL/ },
    { name: "a public apt mirror in production", edit: (d) => (e(d, "mirrors").apt = "http://archive.ubuntu.com/ubuntu"), key: "mirrors.apt", value: "http://archive.ubuntu.com/ubuntu", expect: /archive\.ubuntu\.com is outside the closed contour/ },
    { name: "an apt mirror without a scheme", edit: (d) => (e(d, "mirrors").apt = "10.0.0.2/ubuntu"), key: "mirrors.apt", value: "10.0.0.2/ubuntu", expect: /not a URL .*; use the http\(s\) URL of the Ubuntu archive's root/ },
    { name: "root as the admin user", edit: (d) => (vms(d).adminUser = "root"), key: "vms.adminUser", value: "root", expect: /use a lowercase Linux user name other than root/ },
    { name: "an admin user in capitals", edit: (d) => (vms(d).adminUser = "Admin"), key: "vms.adminUser", value: "Admin", expect: /use a lowercase Linux user name/ },
    { name: "a CPU type spelt with underscores", edit: (d) => (vms(d).cpuType = "x86_64-v2-AES"), key: "vms.cpuType", value: "x86_64-v2-AES", expect: /not a CPU type Proxmox and the provider know; use a built-in model such as x86-64-v2-AES/ },
    { name: "a custom CPU model without a name", edit: (d) => (vms(d).cpuType = "custom-"), key: "vms.cpuType", value: "custom-", expect: /not a CPU type/ },
    { name: "a CPU model the provider does not know", edit: (d) => (vms(d).cpuType = "GraniteRapids"), key: "vms.cpuType", value: "GraniteRapids", expect: /not a CPU type/ },
    { name: "a template name in capitals", edit: (d) => (vms(d).template.name = "U24"), key: "vms.template.name", value: "U24", expect: /use a DNS label/ },
    { name: "a template name too long with the host", edit: (d) => (vms(d).template.name = "u".repeat(60)), key: "vms.template.name", value: "u".repeat(60), expect: /the template on pve1 is named u+-pve1, which is not a DNS label \(at most 63 characters\)/ },
    { name: "template IDs below 100", edit: (d) => (vms(d).template.vmIdStart = 50), key: "vms.template.vmIdStart", value: 50, expect: /the templates take VM IDs 50 to 52, and Proxmox VM IDs run from 100 to 999999999/ },
    { name: "template IDs past the last", edit: (d) => (vms(d).template.vmIdStart = 999999998), key: "vms.template.vmIdStart", value: 999999998, expect: /take VM IDs 999999998 to 1000000000/ },
    { name: "a template disk larger than a role's", edit: (d) => (vms(d).template.diskGiB = 50), key: "vms.infra.diskGiB", value: 40, expect: /smaller than the template's disk \(vms\.template\.diskGiB 50\), and a clone's disk can only grow; give the role at least 50/ },
];

const NETWORK: InvalidCase[] = [
    { name: "a CIDR with host bits", edit: (d) => (net(d).cidr = "10.0.0.5/24"), key: "network.cidr", value: "10.0.0.5/24", expect: /use an IPv4 network with its host bits zero/ },
    { name: "a node network too small", edit: (d) => (net(d).cidr = "10.0.0.0/30"), key: "network.cidr", value: "10.0.0.0/30", expect: /the node network is too small; use \/29 or larger/ },
    { name: "a CIDR without a prefix", edit: (d) => (net(d).cidr = "10.0.0.0"), key: "network.cidr", value: "10.0.0.0", expect: /use an IPv4 network/ },
    { name: "an IPv6 node network", edit: (d) => (net(d).cidr = "fd00::/64"), key: "network.cidr", value: "fd00::/64", expect: /use an IPv4 network/ },
    { name: "a gateway outside the network", edit: (d) => (net(d).gateway = "10.0.1.1"), key: "network.gateway", value: "10.0.1.1", expect: /outside network\.cidr 10\.0\.0\.0\/24/ },
    { name: "the network address as gateway", edit: (d) => (net(d).gateway = "10.0.0.0"), key: "network.gateway", value: "10.0.0.0", expect: /is the network address of 10\.0\.0\.0\/24/ },
    { name: "a gateway by name", edit: (d) => (net(d).gateway = "gw.erp.uno"), key: "network.gateway", value: "gw.erp.uno", expect: /use an IPv4 address inside network\.cidr/ },
    { name: "an API address outside the network", edit: (d) => (net(d).apiAddress = "10.0.5.10"), key: "network.apiAddress", value: "10.0.5.10", expect: /outside network\.cidr 10\.0\.0\.0\/24/ },
    { name: "an API address a VM has", edit: (d) => (net(d).apiAddress = "10.0.0.11"), key: "network.apiAddress", value: "10.0.0.11", expect: /k8s-control1 has it already; give the API virtual IP a free address/ },
    { name: "the API and the ingress on one address", edit: (d) => (net(d).ingressAddress = "10.0.0.10"), key: "network.ingressAddress", value: "10.0.0.10", expect: /network\.apiAddress has it already/ },
    { name: "the API on a Proxmox host's address", edit: (d) => ((pve(d).hosts[0].address = "10.0.0.9"), (net(d).apiAddress = "10.0.0.9")), key: "network.apiAddress", value: "10.0.0.9", expect: /proxmox\.hosts\[0\] \(pve1\) has it already; give the API virtual IP a free address/ },
    { name: "the API on an NTP server", edit: (d) => ((net(d).ntpServers = ["10.0.0.3"]), (net(d).apiAddress = "10.0.0.3")), key: "network.apiAddress", value: "10.0.0.3", expect: /network\.ntpServers\[0\] uses it already/ },
    { name: "the ingress on the datacenter mirror", edit: (d) => ((net(d).ingressAddress = "10.0.0.2"), (k8s(d).metallbPool = "10.0.0.2-10.0.0.2")), key: "network.ingressAddress", value: "10.0.0.2", expect: /the host of mirrors\.apt uses it already; give the ingress a free address/ },
    { name: "the gateway as the API address", edit: (d) => (net(d).apiAddress = "10.0.0.1"), key: "network.apiAddress", value: "10.0.0.1", expect: /is the gateway's address/, problems: 2 },
    { name: "the broadcast address for the ingress", edit: (d) => (net(d).ingressAddress = "10.0.0.255"), key: "network.ingressAddress", value: "10.0.0.255", expect: /is the broadcast address/ },
    { name: "an empty resolver list", edit: (d) => (net(d).dnsServers = []), key: "network.dnsServers", value: [], expect: /leaves the VMs without a resolver/ },
    { name: "four resolvers", edit: (d) => (net(d).dnsServers = ["10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8"]), key: "network.dnsServers", value: ["10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8"], expect: /pods get at most 3 nameservers \(kubelet keeps to glibc's MAXNS\)/ },
    { name: "a resolver listed twice", edit: (d) => (net(d).dnsServers = ["10.0.0.5", "10.0.0.5"]), key: "network.dnsServers[1]", value: "10.0.0.5", expect: /network\.dnsServers\[0\] is the same server/ },
    { name: "a resolver by name", edit: (d) => (net(d).dnsServers = ["ns1.erp.uno"]), key: "network.dnsServers[0]", value: "ns1.erp.uno", expect: /use an IPv4 address/ },
    { name: "a public resolver in production", edit: (d) => (net(d).dnsServers = ["8.8.8.8"]), key: "network.dnsServers[0]", value: "8.8.8.8", expect: /8\.8\.8\.8 is outside the closed contour/ },
    { name: "a public NTP pool in production", edit: (d) => (net(d).ntpServers = ["pool.ntp.org"]), key: "network.ntpServers[0]", value: "pool.ntp.org", expect: /pool\.ntp\.org is outside the closed contour/ },
    { name: "an NTP server that is no name", edit: (d) => (net(d).ntpServers = ["ntp server"]), key: "network.ntpServers[0]", value: "ntp server", expect: /use an IPv4 address or a DNS name/ },
];

const VMS: InvalidCase[] = [
    { name: "an even control-plane count", edit: (d) => ((vms(d).controlPlane.count = 2), vms(d).controlPlane.addresses.pop()), key: "vms.controlPlane.count", value: 2, expect: /etcd runs on the control-plane nodes and needs an odd number \(1, 3, 5\)/ },
    { name: "no control-plane node", edit: (d) => Object.assign(vms(d).controlPlane, { count: 0, addresses: [] }), key: "vms.controlPlane.count", value: 0, expect: /odd number/ },
    { name: "more control-plane nodes than hosts, strictly apart", edit: (d) => Object.assign(vms(d).controlPlane, { count: 5, addresses: ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14", "10.0.0.15"] }), key: "vms.controlPlane.count", value: 5, expect: /strict anti-affinity .* only 3 host\(s\) .* or set proxmox\.controlPlaneAntiAffinity to "preferred"/ },
    { name: "a role restricted to too few hosts", edit: (d) => (vms(d).controlPlane.hosts = ["pve1", "pve2"]), key: "vms.controlPlane.count", value: 3, expect: /only 2 host\(s\) are allowed/ },
    { name: "no infra VM", edit: (d) => Object.assign(vms(d).infra, { count: 0, addresses: [] }), key: "vms.infra.count", value: 0, expect: /DNS, the registry and the chart server run on the infra VMs/ },
    { name: "four infra VMs", edit: (d) => Object.assign(vms(d).infra, { count: 4, addresses: ["10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8"] }), key: "vms.infra.count", value: 4, expect: /use 1, or 2-3 for redundant DNS/ },
    { name: "501 workers", edit: (d) => (vms(d).workers.count = 501), key: "vms.workers.count", value: 501, expect: /use 0 to 500/ },
    { name: "a duplicate address", edit: (d) => (vms(d).workers.addresses[1] = "10.0.0.21"), key: "vms.workers.addresses[1]", value: "10.0.0.21", expect: /k8s-worker1 has it already; give every VM its own address/ },
    { name: "one address for a node and a worker", edit: (d) => (vms(d).workers.addresses[2] = "10.0.0.11"), key: "vms.workers.addresses[2]", value: "10.0.0.11", expect: /k8s-control1 has it already/ },
    { name: "a VM on the datacenter mirror", edit: (d) => (vms(d).infra.addresses = ["10.0.0.2", "10.0.0.6"]), key: "vms.infra.addresses[0]", value: "10.0.0.2", expect: /the host of mirrors\.apt uses it already; give infra1 its own address/ },
    { name: "a VM on an NTP server", edit: (d) => ((net(d).ntpServers = ["10.0.0.4"]), (vms(d).infra.addresses = ["10.0.0.4", "10.0.0.6"])), key: "vms.infra.addresses[0]", value: "10.0.0.4", expect: /network\.ntpServers\[0\] uses it already/ },
    { name: "a VM on a Proxmox host's address", edit: (d) => (pve(d).hosts[0].address = "10.0.0.21"), key: "vms.workers.addresses[0]", value: "10.0.0.21", expect: /proxmox\.hosts\[0\] \(pve1\) has it already/ },
    { name: "a VM ID clash between roles", edit: (d) => (vms(d).workers.vmIdStart = 111), key: "vms.workers.vmIdStart", value: 111, expect: /gives k8s-worker1 VM ID 111, which is already k8s-control2's; move the ranges of vmIdStart apart/ },
    { name: "a clash on a later VM, quoting the key's own value", edit: (d) => (vms(d).workers.vmIdStart = 108), key: "vms.workers.vmIdStart", value: 108, expect: /gives k8s-worker3 VM ID 110, which is already k8s-control1's/ },
    { name: "a template ID a VM has", edit: (d) => ((vms(d).template.vmIdStart = 120), (vms(d).workers.vmIdStart = 121)), key: "vms.workers.vmIdStart", value: 121, expect: /gives k8s-worker1 VM ID 121, which is already the template on pve2's/ },
    { name: "one prefix for two roles", edit: (d) => (vms(d).workers.namePrefix = "k8s-control"), key: "vms.workers.namePrefix", value: "k8s-control", expect: /gives k8s-control1, which vms\.controlPlane \(k8s-control1\) already has; give every role its own prefix/ },
    { name: "a prefix that is no DNS label", edit: (d) => (vms(d).workers.namePrefix = "K8S_"), key: "vms.workers.namePrefix", value: "K8S_", expect: /VM names are the prefix plus a number and must be DNS labels/ },
    { name: "a prefix that takes the name servers' names", edit: (d) => (vms(d).workers.namePrefix = "ns"), key: "vms.workers.namePrefix", value: "ns", expect: /gives ns1, a name the zone already uses for a name server; choose another prefix/, problems: 2 },
    { name: "VM IDs below 100", edit: (d) => (vms(d).infra.vmIdStart = 50), key: "vms.infra.vmIdStart", value: 50, expect: /Proxmox VM IDs run from 100 to 999999999/ },
    { name: "VM IDs past the last", edit: (d) => (vms(d).workers.vmIdStart = 999999999), key: "vms.workers.vmIdStart", value: 999999999, expect: /run from 100 to 999999999/ },
    { name: "an address outside the node network", edit: (d) => (vms(d).infra.addresses = ["10.0.1.5", "10.0.0.6"]), key: "vms.infra.addresses[0]", value: "10.0.1.5", expect: /outside network\.cidr 10\.0\.0\.0\/24; use an address inside it/ },
    { name: "the gateway's address for a VM", edit: (d) => (vms(d).infra.addresses = ["10.0.0.1", "10.0.0.6"]), key: "vms.infra.addresses[0]", value: "10.0.0.1", expect: /is the gateway's address \(network\.gateway\); give the VM its own/ },
    { name: "the network address for a VM", edit: (d) => (vms(d).infra.addresses = ["10.0.0.0", "10.0.0.6"]), key: "vms.infra.addresses[0]", value: "10.0.0.0", expect: /is the network address of 10\.0\.0\.0\/24/ },
    { name: "the broadcast address for a VM", edit: (d) => (vms(d).workers.addresses[0] = "10.0.0.255"), key: "vms.workers.addresses[0]", value: "10.0.0.255", expect: /is the broadcast address of 10\.0\.0\.0\/24/ },
    { name: "not an IPv4 address", edit: (d) => (vms(d).workers.addresses[0] = "10.0.0.300"), key: "vms.workers.addresses[0]", value: "10.0.0.300", expect: /not an IPv4 address/ },
    { name: "fewer addresses than VMs", edit: (d) => (vms(d).workers.count = 4), key: "vms.workers.addresses", value: ["10.0.0.21", "10.0.0.22", "10.0.0.23"], expect: /lists 3 address\(es\) for vms\.workers\.count 4; give exactly one per VM/ },
    { name: "a map entry that is no VM name of the role", edit: (d) => (vms(d).workers.addresses = { "k8s-worker1": "10.0.0.21", "k8s-worker2": "10.0.0.22", worker3: "10.0.0.23" }), key: "vms.workers.addresses.worker3", value: "10.0.0.23", expect: /"worker3" is not a VM name of this role: use k8s-worker plus the VM's number \(e\.g\. k8s-worker3\), which also gives its VM ID/ },
    { name: "a VM number with a leading zero", edit: (d) => (vms(d).workers.addresses = { "k8s-worker1": "10.0.0.21", "k8s-worker2": "10.0.0.22", "k8s-worker03": "10.0.0.23" }), key: "vms.workers.addresses.k8s-worker03", value: "10.0.0.23", expect: /is not a VM name of this role/ },
    { name: "a map of addresses with a count that differs", edit: (d) => (vms(d).workers.addresses = { "k8s-worker1": "10.0.0.21", "k8s-worker3": "10.0.0.23" }), key: "vms.workers.addresses", value: { "k8s-worker1": "10.0.0.21", "k8s-worker3": "10.0.0.23" }, expect: /lists 2 address\(es\) for vms\.workers\.count 3; give exactly one per VM/ },
    { name: "a duplicate address in a map", edit: (d) => ((vms(d).workers.count = 2), (vms(d).workers.addresses = { "k8s-worker1": "10.0.0.21", "k8s-worker3": "10.0.0.21" })), key: "vms.workers.addresses.k8s-worker3", value: "10.0.0.21", expect: /k8s-worker1 has it already; give every VM its own address/ },
    { name: "a number in a map past the last VM ID", edit: (d) => ((vms(d).workers.vmIdStart = 999999990), (vms(d).workers.count = 1), (vms(d).workers.addresses = { "k8s-worker20": "10.0.0.21" })), key: "vms.workers.vmIdStart", value: 999999990, expect: /Proxmox VM IDs run from 100 to 999999999/ },
    { name: "a map of addresses with a number for an address", edit: (d) => (vms(d).workers.addresses = { "k8s-worker1": 21, "k8s-worker2": "10.0.0.22", "k8s-worker3": "10.0.0.23" }), key: "vms.workers.addresses.k8s-worker1", value: 21, expect: /expected text/ },
    { name: "addresses that are neither a list nor a map", edit: (d) => (vms(d).workers.addresses = "10.0.0.21"), key: "vms.workers.addresses", value: "10.0.0.21", expect: /use a list .* or a map/ },
    { name: "an unknown Proxmox host for a role", edit: (d) => (vms(d).workers.hosts = ["pve9"]), key: "vms.workers.hosts[0]", value: "pve9", expect: /not a Proxmox host; use one of pve1, pve2, pve3/ },
    { name: "more memory than a host has", edit: (d) => (vms(d).workers.memoryMiB = 262144), key: "proxmox.hosts[", expect: /is over capacity: the placement puts .*k8s-worker\d.* MiB of memory against 245760 MiB usable .* add a Proxmox host or lower vms\.<role>\.memoryMiB/, problems: 3 },
    { name: "more vCPUs than the hosts may give", edit: (d) => (vms(d).workers.cores = 100), key: "proxmox.hosts[", expect: /over capacity: .* vCPUs against 64 \(cores x proxmox\.cpuOvercommit 2\)/, problems: 3 },
    { name: "a reserve that leaves nothing", edit: (d) => (pve(d).memoryReserveGiB = 250), key: "proxmox.hosts[", expect: /over capacity: .* against 6144 MiB usable \(memoryGiB minus proxmox\.memoryReserveGiB\)/, problems: 3 },
];

const DNS: InvalidCase[] = [
    { name: "a record outside the domain", edit: records({ name: "mail.example.com", type: "A", data: { ip: "10.0.0.40" } }), key: "dns.extraRecords[0].name", value: "mail.example.com", expect: /is outside the domain erp\.uno; use a name relative to it \("mail"\) or under it/ },
    { name: "a record that takes a generated name", edit: records({ name: "registry", type: "A", data: { ip: "10.0.0.40" } }), key: "dns.extraRecords[0].name", value: "registry", expect: /registry\.erp\.uno is generated from the inventory; choose another name/ },
    { name: "a record on a VM's name", edit: records({ name: "infra1", type: "TXT", data: { txt: '"x"' } }), key: "dns.extraRecords[0].name", value: "infra1", expect: /infra1\.erp\.uno is generated from the inventory/ },
    { name: "a record name in capitals", edit: records({ name: "Bad_Name", type: "A", data: { ip: "10.0.0.40" } }), key: "dns.extraRecords[0].name", value: "Bad_Name", expect: /not a DNS name; use lowercase labels/ },
    { name: "an A record with a bad address", edit: records({ name: "mail", type: "A", data: { ip: "10.0.0.400" } }), key: "dns.extraRecords[0].data", value: { ip: "10.0.0.400" }, expect: /ip "10\.0\.0\.400" is not an IPv4 address; write it as synrc\/ns reads a A record/ },
    { name: "an A record with the wrong data key", edit: records({ name: "mail", type: "A", data: { address: "10.0.0.40" } }), key: "dns.extraRecords[0].data", value: { address: "10.0.0.40" }, expect: /data has keys address; synrc\/ns expects ip/, problems: 2 },
    { name: "a public address in production", edit: records({ name: "mail", type: "A", data: { ip: "8.8.8.8" } }), key: "dns.extraRecords[0].data.ip", value: "8.8.8.8", expect: /8\.8\.8\.8 is outside the closed contour/ },
    { name: "a CNAME to an address", edit: records({ name: "www", type: "CNAME", data: { dname: "10.0.0.40" } }), key: "dns.extraRecords[0].data.dname", value: "10.0.0.40", expect: /a CNAME target is a full DNS name that resolves, not an address/ },
    { name: "a CNAME to a bare label", edit: records({ name: "www", type: "CNAME", data: { dname: "portal" } }), key: "dns.extraRecords[0].data.dname", value: "portal", expect: /not a bare label; write e\.g\. portal\.erp\.uno/ },
    { name: "a CNAME to a name the zone lacks", edit: records({ name: "www", type: "CNAME", data: { dname: "nothing.erp.uno" } }), key: "dns.extraRecords[0].data.dname", value: "nothing.erp.uno", expect: /no record in the zone has this name, so the CNAME would point nowhere/ },
    { name: "a CNAME at the apex", edit: records({ name: "@", type: "CNAME", data: { dname: "portal.erp.uno" } }), key: "dns.extraRecords[0].name", value: "@", expect: /a CNAME cannot stand at the zone's apex/ },
    { name: "an MX to a public host in production", edit: records({ name: "@", type: "MX", data: { preference: 10, exchange: "mx.example.com" } }), key: "dns.extraRecords[0].data.exchange", value: "mx.example.com", expect: /mx\.example\.com is outside the closed contour/ },
    { name: "an MX without a preference", edit: records({ name: "@", type: "MX", data: { exchange: "mail.erp.uno" } }), key: "dns.extraRecords[0].data", value: { exchange: "mail.erp.uno" }, expect: /data has keys exchange; synrc\/ns expects preference, exchange/, problems: 2 },
    { name: "an SRV without service and protocol", edit: records({ name: "sip", type: "SRV", data: { priority: 0, weight: 5, port: 5060, target: "infra1.erp.uno" } }), key: "dns.extraRecords[0].name", value: "sip", expect: /an SRV record's name is _service\._proto \(RFC 2782\)/ },
    { name: "an SRV to a bare label", edit: records({ name: "_sip._tcp", type: "SRV", data: { priority: 0, weight: 5, port: 5060, target: "infra1" } }), key: "dns.extraRecords[0].data.target", value: "infra1", expect: /not a bare label/ },
    { name: "an SRV port out of range", edit: records({ name: "_sip._tcp", type: "SRV", data: { priority: 0, weight: 5, port: 70000, target: "infra1.erp.uno" } }), key: "dns.extraRecords[0].data", value: { priority: 0, weight: 5, port: 70000, target: "infra1.erp.uno" }, expect: /port must be 0-65535/ },
    { name: "an unquoted TXT", edit: records({ name: "note", type: "TXT", data: { txt: "hello" } }), key: "dns.extraRecords[0].data", value: { txt: "hello" }, expect: /txt must be one or more quoted strings/ },
    { name: "a TXT string over 255 characters", edit: records({ name: "note", type: "TXT", data: { txt: `"${"x".repeat(300)}"` } }), key: "dns.extraRecords[0].data", value: { txt: `"${"x".repeat(300)}"` }, expect: /at most 255 characters each/ },
    { name: "a record twice", edit: records({ name: "mail", type: "A", data: { ip: "10.0.0.40" } }, { name: "mail", type: "A", data: { ip: "10.0.0.40" } }), key: "dns.extraRecords[1]", value: "mail", expect: /repeats dns\.extraRecords\[0\]; remove one/ },
    { name: "a CNAME beside another record", edit: records({ name: "mail", type: "A", data: { ip: "10.0.0.40" } }, { name: "mail", type: "CNAME", data: { dname: "portal.erp.uno" } }), key: "dns.extraRecords[1].name", value: "mail", expect: /dns\.extraRecords\[0\] has the same name, and a CNAME must stand alone/ },
    { name: "synrc/ns from a public host in production", edit: (d) => (dns(d).nsArtifact.url = "https://github.com/synrc/ns/releases/erldns.tar.gz"), key: "dns.nsArtifact.url", value: "https://github.com/synrc/ns/releases/erldns.tar.gz", expect: /github\.com is outside the closed contour/ },
    { name: "a malformed synrc/ns checksum", edit: (d) => (dns(d).nsArtifact.sha256 = "XYZ"), key: "dns.nsArtifact.sha256", value: "XYZ", expect: /a sha256 checksum is 64 lowercase hexadecimal digits/ },
    { name: "an unpinned synrc/ns release in production", edit: (d) => delete dns(d).nsArtifact.sha256, key: "dns.nsArtifact.sha256", value: MISSING, expect: /production installs only the synrc\/ns release tarball it can pin; set the sha256/ },
    { name: "a synrc/ns memory cap below its start-up peak", edit: (d) => (dns(d).memoryMaxMiB = 128), key: "dns.memoryMaxMiB", value: 128, expect: /peaks at about 102 MiB while it starts .*; set at least 208/ },
    { name: "synrc/ns as a zip", edit: (d) => (dns(d).nsArtifact.url = "http://10.0.0.2/files/synrc-ns/erldns.zip"), key: "dns.nsArtifact.url", value: "http://10.0.0.2/files/synrc-ns/erldns.zip", expect: /use the http\(s\) URL of the synrc\/ns release tarball \(\.tar\.gz\)/ },
];

const INFRA_AND_PKI: InvalidCase[] = [
    { name: "an infra VM without a data disk", edit: (d) => delete vms(d).infra.dataDiskGiB, key: "vms.infra.dataDiskGiB", value: MISSING, expect: /the registry, the chart repository and the files area live on the infra VM's data disk/ },
    { name: "a registry user with a space", edit: (d) => (d["erpdc:registry"] = { username: "erp dc" }), key: "registry.username", value: "erp dc", expect: /use a lowercase user name/ },
    { name: "server certificates outliving the CA", edit: (d) => (d["erpdc:pki"] = { caValidityDays: 365, serverValidityDays: 397 }), key: "pki.serverValidityDays", value: 397, expect: /outlives the CA \(pki\.caValidityDays 365\), and clients refuse a certificate once its CA has expired; use at most 365/ },
    { name: "certificates renewed at every run", edit: (d) => (d["erpdc:pki"] = { serverValidityDays: 30 }), key: "pki.serverValidityDays", value: 30, expect: /renewed 30 days before they expire, so this would renew them at every pulumi up/ },
];

const KUBERNETES: InvalidCase[] = [
    { name: "a pod network over the node network", edit: (d) => (k8s(d).podCidr = "10.0.0.0/16"), key: "kubernetes.podCidr", value: "10.0.0.0/16", expect: /overlaps network\.cidr 10\.0\.0\.0\/24; pods, services and nodes need separate networks/ },
    { name: "a service network over the pod network", edit: (d) => (k8s(d).serviceCidr = "10.233.64.0/20"), key: "kubernetes.serviceCidr", value: "10.233.64.0/20", expect: /overlaps kubernetes\.podCidr 10\.233\.64\.0\/18/ },
    { name: "a service network larger than /12", edit: (d) => (k8s(d).serviceCidr = "172.0.0.0/11"), key: "kubernetes.serviceCidr", value: "172.0.0.0/11", expect: /kube-apiserver accepts a service network of \/12 at most/ },
    { name: "a service network of 8 addresses", edit: (d) => (k8s(d).serviceCidr = "10.233.0.0/29"), key: "kubernetes.serviceCidr", value: "10.233.0.0/29", expect: /kubeadm needs at least 10 service addresses/ },
    { name: "a pod network smaller than a node's range", edit: (d) => (k8s(d).podCidr = "10.233.64.0/26"), key: "kubernetes.podCidr", value: "10.233.64.0/26", expect: /Calico hands out \/26 blocks and a node of 110 pods needs 2, so it fits 0 node\(s\) and the cluster has 6/ },
    { name: "a pod network for four nodes", edit: (d) => (k8s(d).podCidr = "10.233.64.0/23"), key: "kubernetes.podCidr", value: "10.233.64.0/23", expect: /fits 4 node\(s\) and the cluster has 6; use a \/22 or larger network/ },
    { name: "a pod network with host bits", edit: (d) => (k8s(d).podCidr = "10.233.64.1/18"), key: "kubernetes.podCidr", value: "10.233.64.1/18", expect: /use an IPv4 network with its host bits zero/ },
    { name: "the contour's domain as the cluster domain", edit: (d) => (k8s(d).clusterDomain = "erp.uno"), key: "kubernetes.clusterDomain", value: "erp.uno", expect: /CoreDNS would answer for erp\.uno itself and pods could not resolve registry\.erp\.uno/ },
    { name: "a cluster domain above the contour's", stack: "dev", edit: (d) => (k8s(d).clusterDomain = "erp.uno"), key: "kubernetes.clusterDomain", value: "erp.uno", expect: /CoreDNS would answer for dev\.erp\.uno/ },
    { name: "a cluster domain that is no domain", edit: (d) => (k8s(d).clusterDomain = "Cluster_Local"), key: "kubernetes.clusterDomain", value: "Cluster_Local", expect: /use a DNS domain such as cluster\.local/ },
    { name: "Kubespray too old for Ubuntu 24.04", edit: (d) => (k8s(d).kubesprayVersion = "v2.25.0"), key: "kubernetes.kubesprayVersion", value: "v2.25.0", expect: /the VMs run Ubuntu 24\.04, which Kubespray supports from v2\.26\.0/, problems: 2 },
    { name: "a Kubespray release not in the table", edit: (d) => ((k8s(d).kubesprayVersion = "v2.30.0"), (k8s(d).kubespraySource.url = "http://10.0.0.2/files/kubespray/kubespray-2.30.0.tar.gz")), key: "kubernetes.kubesprayVersion", value: "v2.30.0", expect: /not in the compatibility table \(v2\.26\.0, v2\.27\.0, v2\.28\.0\)/ },
    { name: "a Kubespray version without the v", edit: (d) => (k8s(d).kubesprayVersion = "2.28.0"), key: "kubernetes.kubesprayVersion", value: "2.28.0", expect: /use a release tag such as v2\.28\.0/ },
    { name: "a Kubernetes minor the release does not support", edit: (d) => (k8s(d).kubeVersion = "1.29.3"), key: "kubernetes.kubeVersion", value: "1.29.3", expect: /Kubespray v2\.28\.0 supports Kubernetes 1\.30 to 1\.32/ },
    { name: "a Kubernetes patch without checksums", edit: (d) => (k8s(d).kubeVersion = "1.32.6"), key: "kubernetes.kubeVersion", value: "1.32.6", expect: /has no checksums for it and so cannot download it; it knows 1\.32\.0 to 1\.32\.5/ },
    { name: "a Kubernetes version with a v", edit: (d) => (k8s(d).kubeVersion = "v1.32.5"), key: "kubernetes.kubeVersion", value: "v1.32.5", expect: /write it without the "v"/ },
    { name: "a Kubernetes minor only", edit: (d) => (k8s(d).kubeVersion = "1.32"), key: "kubernetes.kubeVersion", value: "1.32", expect: /use a Kubernetes patch version such as 1\.32\.5/ },
    { name: "ansible-core above the gate", edit: (d) => (k8s(d).ansibleCoreVersion = "2.18.1"), key: "kubernetes.ansibleCoreVersion", value: "2.18.1", expect: /Kubespray v2\.28\.0 needs ansible-core >= 2\.16\.14 and < 2\.17\.0/ },
    { name: "ansible-core below the release's requirements", edit: (d) => (k8s(d).ansibleCoreVersion = "2.16.5"), key: "kubernetes.ansibleCoreVersion", value: "2.16.5", expect: /needs ansible-core >= 2\.16\.14/ },
    { name: "the tarball of another release", edit: (d) => (k8s(d).kubespraySource.url = "http://10.0.0.2/files/kubespray/kubespray-2.27.0.tar.gz"), key: "kubernetes.kubespraySource.url", value: "http://10.0.0.2/files/kubespray/kubespray-2.27.0.tar.gz", expect: /is the tarball of Kubespray 2\.27\.0, but kubernetes\.kubesprayVersion is v2\.28\.0/ },
    { name: "Kubespray from a public host in production", edit: (d) => (k8s(d).kubespraySource.url = "https://github.com/kubernetes-sigs/kubespray/archive/v2.28.0.tar.gz"), key: "kubernetes.kubespraySource.url", value: "https://github.com/kubernetes-sigs/kubespray/archive/v2.28.0.tar.gz", expect: /github\.com is outside the closed contour/ },
    { name: "Kubespray as a zip", edit: (d) => (k8s(d).kubespraySource.url = "http://10.0.0.2/files/kubespray/kubespray-2.28.0.zip"), key: "kubernetes.kubespraySource.url", value: "http://10.0.0.2/files/kubespray/kubespray-2.28.0.zip", expect: /use the http\(s\) URL of the Kubespray release tarball/ },
    { name: "an unpinned Kubespray tarball", edit: (d) => delete k8s(d).kubespraySource.sha256, key: "kubernetes.kubespraySource.sha256", value: MISSING, expect: /set it in Pulumi\.<stack>\.yaml to text \(the tarball's sha256, as sha256sum prints it: the runner trusts the file by it alone\)/ },
    { name: "a Kubespray checksum in capitals", edit: (d) => (k8s(d).kubespraySource.sha256 = "A".repeat(64)), key: "kubernetes.kubespraySource.sha256", value: "A".repeat(64), expect: /64 lowercase hexadecimal digits/ },
    { name: "Ansible from the public PyPI in production", edit: (d) => (k8s(d).pythonIndexUrl = "https://pypi.org/simple/"), key: "kubernetes.pythonIndexUrl", value: "https://pypi.org/simple/", expect: /pypi\.org is outside the closed contour/ },
    { name: "a package index that is no URL", edit: (d) => (k8s(d).pythonIndexUrl = "10.0.0.2/pypi"), key: "kubernetes.pythonIndexUrl", value: "10.0.0.2/pypi", expect: /use the http\(s\) URL of the internal PyPI mirror's simple index/ },
    { name: "a MetalLB pool outside the node network", edit: (d) => (k8s(d).metallbPool = "10.0.1.30-10.0.1.49"), key: "kubernetes.metallbPool", value: "10.0.1.30-10.0.1.49", expect: /MetalLB answers ARP on the node network, so the pool must lie inside network\.cidr/ },
    { name: "a MetalLB pool over the workers", edit: (d) => (k8s(d).metallbPool = "10.0.0.20-10.0.0.49"), key: "kubernetes.metallbPool", value: "10.0.0.20-10.0.0.49", expect: /holds 10\.0\.0\.21 \(k8s-worker1\), 10\.0\.0\.22 \(k8s-worker2\), 10\.0\.0\.23 \(k8s-worker3\); keep the pool clear/ },
    { name: "a MetalLB pool without the ingress", edit: (d) => (k8s(d).metallbPool = "10.0.0.40-10.0.0.49"), key: "kubernetes.metallbPool", value: "10.0.0.40-10.0.0.49", expect: /does not hold network\.ingressAddress 10\.0\.0\.30/ },
    { name: "a MetalLB pool over the mirror", edit: (d) => ((net(d).ingressAddress = "10.0.0.3"), (k8s(d).metallbPool = "10.0.0.2-10.0.0.3")), key: "kubernetes.metallbPool", value: "10.0.0.2-10.0.0.3", expect: /holds 10\.0\.0\.2 \(the host of mirrors\.apt\)/ },
    { name: "a MetalLB pool over an NTP server", edit: (d) => (net(d).ntpServers = ["10.0.0.31"]), key: "kubernetes.metallbPool", value: "10.0.0.30-10.0.0.49", expect: /holds 10\.0\.0\.31 \(network\.ntpServers\[0\]\)/ },
    { name: "a MetalLB pool over the API address", edit: (d) => (net(d).apiAddress = "10.0.0.35"), key: "kubernetes.metallbPool", value: "10.0.0.30-10.0.0.49", expect: /holds 10\.0\.0\.35 \(network\.apiAddress\)/ },
    { name: "a MetalLB pool backwards", edit: (d) => (k8s(d).metallbPool = "10.0.0.49-10.0.0.30"), key: "kubernetes.metallbPool", value: "10.0.0.49-10.0.0.30", expect: /use a range "first-last" of IPv4 addresses/ },
    { name: "a MetalLB pool as a CIDR", edit: (d) => (k8s(d).metallbPool = "10.0.0.32/27"), key: "kubernetes.metallbPool", value: "10.0.0.32/27", expect: /use a range "first-last"/ },
];

const APPS: InvalidCase[] = [
    { name: "latest for the ERP images", edit: (d) => (apps(d).imageVersion = "latest"), key: "apps.imageVersion", value: "latest", expect: /images carry calendar versions X\.Y\.Z \(month 1-12\), never latest/ },
    { name: "month 13", edit: (d) => (apps(d).imageVersion = "2026.13.1"), key: "apps.imageVersion", value: "2026.13.1", expect: /calendar versions/ },
    { name: "a Git source without a pinned revision", edit: (d) => (apps(d).gitRepoUrl = "https://git.erp.uno/erp/erp-uno.git"), key: "apps.gitRevision", value: MISSING, expect: /pin what ArgoCD deploys from apps\.gitRepoUrl: a commit \(40 hex digits\) or a release tag/ },
    { name: "a branch as the Git revision", edit: (d) => Object.assign(apps(d), { gitRepoUrl: "https://git.erp.uno/erp/erp-uno.git", gitRevision: "main" }), key: "apps.gitRevision", value: "main", expect: /is neither a commit \(40 hex digits\) nor a release tag .* a branch would deploy whatever is pushed next/ },
    { name: "a Git revision without a Git source", edit: (d) => (apps(d).gitRevision = "2026.11.1"), key: "apps.gitRevision", value: "2026.11.1", expect: /applies only with apps\.gitRepoUrl/ },
    { name: "a public Git server in production", edit: (d) => Object.assign(apps(d), { gitRepoUrl: "https://github.com/erpuno/erp-uno.git", gitRevision: "2026.11.1" }), key: "apps.gitRepoUrl", value: "https://github.com/erpuno/erp-uno.git", expect: /github\.com is outside the closed contour/ },
    { name: "a Git URL over SSH", edit: (d) => Object.assign(apps(d), { gitRepoUrl: "git@git.erp.uno:erp/erp-uno.git", gitRevision: "2026.11.1" }), key: "apps.gitRepoUrl", value: "git@git.erp.uno:erp/erp-uno.git", expect: /use the http\(s\) URL of the repository on the internal Git server/ },
    { name: "an ArgoCD tag without the v", edit: (d) => (apps(d).argocd.imageTag = "2.13.3"), key: "apps.argocd.imageTag", value: "2.13.3", expect: /use the ArgoCD release tag mirrored into the registry, e\.g\. v3\.1\.8/ },
    { name: "an argo-cd chart this program has no row for", edit: (d) => (apps(d).argocd.chartVersion = "8.6.5"), key: "apps.argocd.chartVersion", value: "8.6.5", expect: /is not in apps\/argocd\.ts \(7\.7\.11, 8\.6\.4\); add its row/ },
    { name: "an ArgoCD image of another minor than the chart's", edit: (d) => (apps(d).argocd.imageTag = "v3.0.12"), key: "apps.argocd.imageTag", value: "v3.0.12", expect: /argo-cd 8\.6\.4 ships ArgoCD v3\.1\.8; use it or a later patch of v3\.1/ },
    { name: "an older Redis patch than the chart's", edit: (d) => (apps(d).argocd.redisImageTag = "7.2.10-alpine"), key: "apps.argocd.redisImageTag", value: "7.2.10-alpine", expect: /runs Redis 7\.2\.11-alpine; use it or a later patch of 7\.2 with the same variant/ },
    { name: "ArgoCD 2.13 on Kubernetes 1.32", edit: (d) => Object.assign(apps(d).argocd, { chartVersion: "7.7.11", imageTag: "v2.13.2", redisImageTag: "7.4.1-alpine" }), key: "apps.argocd.chartVersion", value: "7.7.11", expect: /ArgoCD v2\.13\.2 is tested on Kubernetes 1\.27, 1\.28, 1\.29, 1\.30, not on the cluster's 1\.32\.5; use chartVersion 8\.6\.4 with imageTag v3\.1\.8 and redisImageTag 7\.2\.11-alpine/ },
    { name: "an argo-cd chart version with a v", edit: (d) => (apps(d).argocd.chartVersion = "v7.7.11"), key: "apps.argocd.chartVersion", value: "v7.7.11", expect: /use the argo-cd chart version published on the chart server/ },
    { name: "latest for Redis", edit: (d) => (apps(d).argocd.redisImageTag = "latest"), key: "apps.argocd.redisImageTag", value: "latest", expect: /use the Redis release tag mirrored into the registry, e\.g\. 7\.2\.11-alpine \(never latest\)/ },
    { name: "an empty Redis tag", edit: (d) => (apps(d).argocd.redisImageTag = ""), key: "apps.argocd.redisImageTag", value: "", expect: /use the Redis release tag/ },
    {
        name: "workers too small for the full profile",
        edit: (d) => (vms(d).workers.memoryMiB = 2048),
        key: "apps:",
        expect: /at their HPA maxima the full profile's components request .* once each keeps 0\.25 CPU, 1\.0 GiB and 30 GiB of disk for itself .* GiB of memory short; add workers \(vms\.workers\.count\), or give the workers more \(vms\.workers\.memoryMiB\), or use apps\.profile "light"/,
    },
    {
        name: "an all-in-one node too small for the light profile",
        stack: "dev",
        edit: (d) => Object.assign(vms(d).controlPlane, { cores: 2, memoryMiB: 4096 }),
        key: "apps:",
        expect: /the light profile's .* 1 node\(s\) that run workloads .* short; add workers \(vms\.workers\.count, which also frees the control plane\), or give the control-plane nodes more \(vms\.controlPlane\.cores\)$/,
    },
    {
        name: "worker disks too small for the volumes at the HPA maxima",
        stack: "staging",
        edit: (d) => (vms(d).workers.diskGiB = 100),
        key: "apps:",
        expect: /420 GiB of local-path volumes \(53 pods\), but the 2 node\(s\) that run workloads can give .* and 140 GiB .* 280 GiB of disk short; add workers \(vms\.workers\.count\), or give the workers more \(vms\.workers\.diskGiB\)/,
    },
];


// Malformed text: each value is one that the key's consumer would read as something else (apt's
// deb822 fields split on whitespace, Proxmox's property strings on commas, htpasswd on colons, a
// URL parser drops tabs and newlines and resolves ".."). Expectations: the consumer's grammar.
const URL_FIX = /(contains whitespace or a control character|carries credentials|"\." or "\.\." path segment|percent-encoded|query or a fragment|not a URL|contains "\\"|neither an IPv4 address nor a DNS name|is not a PEP 503 index folder|is not an \.img|is not a \.tar\.gz|is not the archive's root)/;
const APT = "http://10.0.0.2/ubuntu";
const urlCases = (key: string, set: (d: Doc, value: string) => void, good: string, stack?: string): InvalidCase[] =>
    [
        ["a newline and a second apt field", `${good}\nTrusted: yes`],
        ["a trailing newline", `${good}\n`],
        ["a space and a second URI", `${good} https://archive.ubuntu.com/ubuntu`],
        ["a tab", `${good}\t`],
        ["a leading space", ` ${good}`],
        ["a non-breaking space", `${good}\u00a0`],
        ["credentials", good.replace("://", "://mirror:s3cret@")],
        ["a .. segment", good.replace(/\/([^/]+\/?)$/, "/../$1")],
        ["a percent-encoded .. segment", good.replace(/\/([^/]+\/?)$/, "/%2e%2e/$1")],
        ["an encoded slash", good.replace(/\/([^/]+\/?)$/, "/x%2F$1")],
        ["a backslash", good.replace(/\/([^/]+\/?)$/, "\\$1")],
        ["a query", `${good}?x=1`],
        ["an underscore host", good.replace(/\/\/[^/]+/, "//files_mirror.erp.uno")],
    ].map(([what, value]) => ({ name: `${key} with ${what}`, stack, edit: (d: Doc) => set(d, value as string), key, value, expect: URL_FIX }));

const HOSTILE: InvalidCase[] = [
    ...urlCases("mirrors.apt", (d, v) => (e(d, "mirrors").apt = v), APT),
    ...urlCases("image.url", (d, v) => (e(d, "image").url = v), "http://10.0.0.2/files/cloud-images/noble/2026-07-26/noble-server-cloudimg-amd64.img"),
    ...urlCases("kubernetes.kubespraySource.url", (d, v) => (k8s(d).kubespraySource.url = v), "http://10.0.0.2/files/kubespray/kubespray-2.28.0.tar.gz"),
    ...urlCases("dns.nsArtifact.url", (d, v) => (dns(d).nsArtifact.url = v), "http://10.0.0.2/files/synrc-ns/erldns-3.0.0.tar.gz"),
    ...urlCases("kubernetes.pythonIndexUrl", (d, v) => (k8s(d).pythonIndexUrl = v), "https://files.erp.uno/pypi/simple/").filter((c) => !/trailing newline|a tab$|a query/.test(c.name)),
    { name: "an apt mirror pointing into dists/", edit: (d) => (e(d, "mirrors").apt = "http://10.0.0.2/ubuntu/dists/noble"), key: "mirrors.apt", value: "http://10.0.0.2/ubuntu/dists/noble", expect: /is not the archive's root \(the folder that holds dists\/ and pool\/\)/ },
    { name: "a PyPI index without its trailing slash", edit: (d) => (k8s(d).pythonIndexUrl = "https://files.erp.uno/pypi/simple"), key: "kubernetes.pythonIndexUrl", value: "https://files.erp.uno/pypi/simple", expect: /is not a PEP 503 index folder ending in \//, },
    { name: "a plain-http PyPI index in production", edit: (d) => (k8s(d).pythonIndexUrl = "http://files.erp.uno/pypi/simple/"), key: "kubernetes.pythonIndexUrl", value: "http://files.erp.uno/pypi/simple/", expect: /plain http: .* use the https index of the files area/ },
    { name: "an ftp apt mirror", edit: (d) => (e(d, "mirrors").apt = "ftp://10.0.0.2/ubuntu"), key: "mirrors.apt", value: "ftp://10.0.0.2/ubuntu", expect: /a ftp: URL, where http: or https: is read/ },
    { name: "a Git URL with a token in it", edit: (d) => Object.assign(apps(d), { gitRepoUrl: "https://ci:glpat-123@git.erp.uno/erp/erp-uno.git", gitRevision: "2026.11.1" }), key: "apps.gitRepoUrl", value: "https://ci:glpat-123@git.erp.uno/erp/erp-uno.git", expect: /carries credentials/ },
    { name: "a Git URL with a newline", edit: (d) => Object.assign(apps(d), { gitRepoUrl: "https://git.erp.uno/erp/erp-uno.git\n", gitRevision: "2026.11.1" }), key: "apps.gitRepoUrl", value: "https://git.erp.uno/erp/erp-uno.git\n", expect: /contains whitespace or a control character \(U\+000A/ },
    { name: "a top-level domain in internalDomains", edit: (d) => (d["erpdc:internalDomains"] = ["com"]), key: "internalDomains[0]", value: "com", expect: /not a DNS domain/ },
    { name: "a two-label public suffix in internalDomains", edit: (d) => (d["erpdc:internalDomains"] = ["co.uk"]), key: "internalDomains[0]", value: "co.uk", expect: /a public suffix \(Public Suffix List\): names under it belong to anyone who registers one; list only domains of your own/ },
    { name: "a hosting suffix in internalDomains", edit: (d) => (d["erpdc:internalDomains"] = ["github.io"]), key: "internalDomains[0]", value: "github.io", expect: /a public suffix \(Public Suffix List, private section\)/ },
    { name: "a public suffix as the domain", edit: (d) => (d["erpdc:domain"] = "co.uk"), key: "domain", value: "co.uk", expect: /a public suffix .*; use a domain of your own under it/ },
    { name: "a storage ID with a comma (a second Proxmox property)", edit: (d) => (pve(d).datastores.snippets.id = "local,size=1"), key: "proxmox.datastores.snippets.id", value: "local,size=1", expect: /not a Proxmox storage ID/ },
    { name: "a storage ID with a colon (a volume ID)", edit: (d) => (pve(d).datastores.disks.id = "local-zfs:vm-100"), key: "proxmox.datastores.disks.id", value: "local-zfs:vm-100", expect: /not a Proxmox storage ID/ },
    { name: "a storage ID with a newline", edit: (d) => (pve(d).datastores.images.id = "local\n"), key: "proxmox.datastores.images.id", value: "local\n", expect: /not a Proxmox storage ID/ },
    { name: "a storage ID of one character", edit: (d) => (pve(d).datastores.images.id = "l"), key: "proxmox.datastores.images.id", value: "l", expect: /not a Proxmox storage ID/ },
    { name: "a bridge name that is an option", edit: (d) => (pve(d).network.bridge = "-vmbr0"), key: "proxmox.network.bridge", value: "-vmbr0", expect: /does not match/ },
    { name: "an admin user with a newline", edit: (d) => (vms(d).adminUser = "erpadmin\nroot"), key: "vms.adminUser", value: "erpadmin\nroot", expect: /use a lowercase Linux user name/ },
    { name: "an admin user that is a system account", edit: (d) => (vms(d).adminUser = "daemon"), key: "vms.adminUser", value: "daemon", expect: /a system account on Ubuntu/ },
    { name: "an admin user that is a service user of the infra VMs", edit: (d) => (vms(d).adminUser = "docker-registry"), key: "vms.adminUser", value: "docker-registry", expect: /a system account on Ubuntu 24\.04 or on the infra VMs already/ },
    { name: "an SSH user with a space", edit: (d) => (pve(d).ssh = { username: "root -oProxyCommand=x" }), key: "proxmox.ssh.username", value: "root -oProxyCommand=x", expect: /use a Linux user name on the Proxmox hosts/ },
    { name: "a registry account with a colon", edit: (d) => (d["erpdc:registry"] = { username: "erpdc:x" }), key: "registry.username", value: "erpdc:x", expect: /registry/ },
    { name: "a CPU type with a comma (a second QEMU property)", edit: (d) => (vms(d).cpuType = "host,flags=+aes"), key: "vms.cpuType", value: "host,flags=+aes", expect: /not a CPU type/ },
    { name: "an organization with a newline", edit: (d) => (d["erpdc:pki"] = { organization: "ERP/1\nCN=evil" }), key: "pki.organization", value: "ERP/1\nCN=evil", expect: /control character/ },
    { name: "an NTP server with a space", edit: (d) => (net(d).ntpServers = ["10.0.0.2 iburst"]), key: "network.ntpServers[0]", value: "10.0.0.2 iburst", expect: /use an IPv4 address or a DNS name/ },
    { name: "a Kubernetes version with a newline", edit: (d) => (k8s(d).kubeVersion = "1.32.5\n"), key: "kubernetes.kubeVersion", value: "1.32.5\n", expect: /kubeVersion/ },
    { name: "an image version with a space", edit: (d) => (apps(d).imageVersion = "2026.11.1 "), key: "apps.imageVersion", value: "2026.11.1 ", expect: /calendar versions/ },
    { name: "a VM name prefix with a dot", edit: (d) => (vms(d).workers.namePrefix = "k8s.worker"), key: "vms.workers.namePrefix", value: "k8s.worker", expect: /DNS label/ },
];

export const INVALID: InvalidCase[] = [...UNKNOWN_AND_SHAPE, ...STACK_AND_PROVIDER, ...PROXMOX, ...NETWORK, ...VMS, ...DNS, ...INFRA_AND_PKI, ...KUBERNETES, ...APPS, ...HOSTILE];
