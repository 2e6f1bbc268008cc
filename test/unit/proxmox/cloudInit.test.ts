import { strict as assert } from "assert";
import YAML from "yaml";
import { networkConfig, userData } from "../../../proxmox/cloudInit";

const base = {
    hostname: "k8s-worker1",
    fqdn: "k8s-worker1.erp.uno",
    adminUser: "erpadmin",
    sshPublicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP9XrNHF/DJ/Od9jBjcSoecnXR8aNRnIMpTpUg24mj46"],
    aptMirror: "http://10.0.0.2/ubuntu",
    ntpServers: [] as string[],
    trustedCaCertificates: [] as string[],
};

describe("cloud-init user data", () => {
    const parse = (text: string) => YAML.parse(text) as Record<string, any>;

    it("starts with the #cloud-config header cloud-init requires", () => {
        assert.equal(userData(base).split("\n")[0], "#cloud-config");
    });

    it("creates the admin user with only the SSH key, no password, no root login", () => {
        const document = parse(userData(base));
        assert.equal(document.hostname, "k8s-worker1");
        assert.equal(document.fqdn, "k8s-worker1.erp.uno");
        const [user] = document.users;
        assert.equal(user.name, "erpadmin");
        assert.deepEqual(user.ssh_authorized_keys, base.sshPublicKeys);
        assert.equal(user.lock_passwd, true);
        assert.equal(document.ssh_pwauth, false);
        assert.equal(document.disable_root, true);
    });

    it("takes packages and security updates from the internal mirror only", () => {
        const document = parse(userData(base));
        assert.equal(document.apt.preserve_sources_list, false);
        assert.deepEqual(document.apt.primary, [{ arches: ["default"], uri: base.aptMirror }]);
        assert.deepEqual(document.apt.security, [{ arches: ["default"], uri: base.aptMirror }]);
        assert.ok(document.packages.includes("qemu-guest-agent"));
    });

    it("fills the CA slot only when there are certificates to trust", () => {
        assert.equal(parse(userData(base)).ca_certs, undefined);
        const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert.deepEqual(parse(userData({ ...base, trustedCaCertificates: [pem] })).ca_certs, { trusted: [pem] });
    });

    it("configures time sync only when NTP servers are given", () => {
        assert.equal(parse(userData(base)).ntp, undefined);
        assert.deepEqual(parse(userData({ ...base, ntpServers: ["10.0.0.1"] })).ntp, { enabled: true, servers: ["10.0.0.1"] });
    });
});

describe("cloud-init network config", () => {
    const input = {
        macAddress: "02:B2:11:09:DF:AA",
        address: "10.0.0.21",
        prefixLength: 24,
        gateway: "10.0.0.1",
        dnsServers: ["10.0.0.5", "10.0.0.6"],
        searchDomains: ["erp.uno"],
    };

    it("gives the NIC with the VM's MAC its static address, default route and resolvers", () => {
        const { network } = YAML.parse(networkConfig(input));
        assert.equal(network.version, 2);
        const nic = network.ethernets.lan0;
        assert.deepEqual(nic.match, { macaddress: "02:b2:11:09:df:aa" });
        assert.deepEqual(nic.addresses, ["10.0.0.21/24"]);
        assert.deepEqual(nic.routes, [{ to: "0.0.0.0/0", via: "10.0.0.1" }]);
        assert.deepEqual(nic.nameservers, { addresses: ["10.0.0.5", "10.0.0.6"], search: ["erp.uno"] });
        assert.equal(nic.dhcp4, false);
    });

    it("sets the MTU only when the bridge needs one", () => {
        assert.equal(YAML.parse(networkConfig(input)).network.ethernets.lan0.mtu, undefined);
        assert.equal(YAML.parse(networkConfig({ ...input, mtu: 9000 })).network.ethernets.lan0.mtu, 9000);
    });
});
