// How the bundle asks Kubespray for its downloads: generate_list.sh of the release, once without the
// stack's offline settings and once with them, paired line for line. The release's script needs
// the release and Ansible (the audit runs the real one); here a stand-in with its interface (it
// writes contrib/offline/temp/{files,images}.list from the -e files it is given) checks what the
// bundle passes and how it reads the answer.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { kubesprayDownloads, renderedGroupVars } from "../../../bundle/kubespray";
import { renderStack } from "../../../render/render";

const STAND_IN = `#!/bin/bash
# Writes the lists from the -e @files: contour places when an offline file (files_repo) is among them.
set -e
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/temp"
offline=0
for arg in "$@"; do case "$arg" in @*) grep -q '^files_repo:' "\${arg#@}" && offline=1 ;; esac; done
if [ "$offline" = 1 ]; then files=https://files.erp.uno/dl.k8s.io; images=registry.erp.uno; else files=https://dl.k8s.io; images=registry.k8s.io; fi
printf '%s/release/v1.32.5/bin/linux/amd64/kubeadm\\n%s/release/v1.32.5/bin/linux/amd64/kubelet\\n' "$files" "$files" > "$here/temp/files.list"
printf '%s/coredns/coredns:v1.11.3\\n%s/coredns/coredns:v1.11.3\\n%s/pause:3.10\\n' "$images" "$images" "$images" > "$here/temp/images.list"
`;

describe("Kubespray's own download list for a stack", () => {
    let release: string;
    before(() => {
        release = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "erpdc-release-")), "kubespray-2.28.0");
        fs.mkdirSync(path.join(release, "contrib", "offline"), { recursive: true });
        fs.writeFileSync(path.join(release, "contrib", "offline", "generate_list.sh"), STAND_IN, { mode: 0o755 });
        fs.writeFileSync(path.join(release, "requirements.txt"), "ansible==9.13.0\n# Needed for jinja2 json_query templating\njmespath==1.0.1\n\n");
    });
    after(() => fs.rmSync(path.dirname(release), { recursive: true, force: true }));

    it("pairs the public and the contour places line for line, once each, with the release's Python requirements", async () => {
        const groupVars = renderedGroupVars((await renderStack("production")).files);
        assert.deepEqual(Object.keys(groupVars).sort(), ["all/offline.yml", "k8s_cluster/addons.yml", "k8s_cluster/k8s-cluster.yml"]);
        const downloads = kubesprayDownloads(release, groupVars);
        assert.deepEqual(downloads.files, [
            { source: "https://dl.k8s.io/release/v1.32.5/bin/linux/amd64/kubeadm", destination: "https://files.erp.uno/dl.k8s.io/release/v1.32.5/bin/linux/amd64/kubeadm" },
            { source: "https://dl.k8s.io/release/v1.32.5/bin/linux/amd64/kubelet", destination: "https://files.erp.uno/dl.k8s.io/release/v1.32.5/bin/linux/amd64/kubelet" },
        ]);
        assert.deepEqual(downloads.images, [
            { source: "registry.k8s.io/coredns/coredns:v1.11.3", destination: "registry.erp.uno/coredns/coredns:v1.11.3" },
            { source: "registry.k8s.io/pause:3.10", destination: "registry.erp.uno/pause:3.10" },
        ]);
        assert.deepEqual(downloads.pythonRequirements, ["ansible==9.13.0", "jmespath==1.0.1"]);
        // The release it was given is left as it was: the script ran in a copy.
        assert.equal(fs.existsSync(path.join(release, "contrib", "offline", "temp")), false);
    });

    it("fails with the script's output when it fails, and when the two lists differ in length", () => {
        const failing = path.join(path.dirname(release), "failing");
        fs.cpSync(release, failing, { recursive: true });
        fs.writeFileSync(path.join(failing, "contrib", "offline", "generate_list.sh"), "#!/bin/bash\necho 'ERROR! the role kubespray_defaults was not found' >&2\nexit 4\n", { mode: 0o755 });
        assert.throws(() => kubesprayDownloads(failing, { "all/offline.yml": "files_repo: x\n" }), /generate_list\.sh failed \(exit 4\):\nERROR! the role kubespray_defaults was not found/);
        const uneven = path.join(path.dirname(release), "uneven");
        fs.cpSync(release, uneven, { recursive: true });
        fs.appendFileSync(path.join(uneven, "contrib", "offline", "generate_list.sh"), `[ "$offline" = 1 ] && echo extra >> "$here/temp/images.list"\ntrue\n`);
        assert.throws(() => kubesprayDownloads(uneven, { "all/offline.yml": "files_repo: x\n" }), /listed 3 images upstream but 4 inside the contour/);
    });
});
