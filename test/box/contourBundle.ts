// A small contour bundle for a stack, made by the test as `npm run bundle` lays one out: every item of
// the stack's own list at its place (bundle/layout.ts), with its size and sha256 in manifest.json.
// What is real: the synrc/ns release (the project's recipe) and the Kubespray stand-in release the
// stack pins; what stands in: the cloud image, the files and provider plugins (a line of text each),
// the images (one small file each, an OCI layout per image), the argo-cd chart, and the wheels.
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { LAYOUT_REFERENCE } from "../../bundle/fill";
import { kubesprayDownloads, renderedGroupVars } from "../../bundle/kubespray";
import { chartReference, itemPath, requirementProject, wheelPath, wheelProject } from "../../bundle/layout";
import { bundleList, type BundleItem } from "../../bundle/list";
import { writeManifest, type HeldItem } from "../../bundle/manifest";
import { renderedStack } from "../../bundle/stack";
import { ociImage, sha256File } from "../../bundle/verify";
import { fromConfigMap } from "../../render/stackConfig";
import { helmBinary, run } from "../tools/support";

export interface SmallBundleInputs {
    readonly stack: string;
    /** The stack file's configuration the bundle is made for (its pins must match the files below). */
    readonly document: Record<string, unknown>;
    /** The unpacked Kubespray release whose download list the stack's list takes, and its tarball. */
    readonly kubesprayRelease: string;
    readonly kubesprayTarball: string;
    /** Files the bundle holds for these destinations, instead of a line of text. */
    readonly files: Readonly<Record<string, string>>;
    /** The wheels of the Python index (their projects and versions must be the requirements'). */
    readonly wheels: readonly string[];
    readonly work: string;
}

/** Fills `dir` with the stack's whole list and writes its manifest; returns the items held. */
export async function smallBundle(dir: string, inputs: SmallBundleInputs): Promise<HeldItem[]> {
    const { plan, files } = await renderedStack(inputs.stack, fromConfigMap(inputs.document));
    const list = bundleList(plan, files, kubesprayDownloads(inputs.kubesprayRelease, renderedGroupVars(files)));
    const byDestination: Record<string, string> = { ...inputs.files, [plan.cluster.kubernetes.kubespraySource.url]: inputs.kubesprayTarball };
    const held: HeldItem[] = [];
    const place = (relative: string) => {
        const target = path.join(dir, relative);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        return target;
    };
    const hold = (item: BundleItem, relative: string, size: number, sha256: string) => {
        if (item.checksum !== undefined && item.checksum !== `sha256:${sha256}`) throw new Error(`${item.destination}: the test's file has sha256:${sha256}, the stack pins ${item.checksum}`);
        held.push({ kind: item.kind, source: item.source, destination: item.destination, path: relative, size, sha256, verified: "made by the test" });
    };
    for (const item of list) {
        switch (item.kind) {
            case "file":
            case "in-house": {
                const relative = itemPath(item);
                const target = place(relative);
                const from = byDestination[item.destination];
                if (from === undefined) fs.writeFileSync(target, `stand-in of ${item.source}\n`);
                else fs.copyFileSync(from, target);
                hold(item, relative, fs.statSync(target).size, sha256File(target));
                break;
            }
            case "image": {
                // One file naming the image, so that a pull shows which one came.
                const relative = itemPath(item);
                const layout = place(relative);
                const content = path.join(inputs.work, "image-content.txt");
                fs.writeFileSync(content, `${item.destination}\n`);
                run("umoci", ["init", "--layout", layout]);
                run("umoci", ["new", "--image", `${layout}:${LAYOUT_REFERENCE}`]);
                run("umoci", ["insert", "--image", `${layout}:${LAYOUT_REFERENCE}`, content, "/image.txt"]);
                // umoci leaves the superseded empty manifest in the layout: keep the one image.
                run("umoci", ["gc", "--layout", layout]);
                const image = ociImage(layout);
                hold(item, relative, image.size, image.manifestSha256);
                break;
            }
            case "chart": {
                const { chart, version } = chartReference(item.destination);
                const source = path.join(inputs.work, "charts", chart);
                fs.mkdirSync(path.join(source, "templates"), { recursive: true });
                fs.writeFileSync(path.join(source, "Chart.yaml"), YAML.stringify({ apiVersion: "v2", name: chart, version, appVersion: "stand-in" }));
                fs.writeFileSync(path.join(source, "templates", "configmap.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stand-in\n");
                const relative = itemPath(item);
                run(helmBinary(), ["package", source, "-d", path.dirname(place(relative))]);
                hold(item, relative, fs.statSync(path.join(dir, relative)).size, sha256File(path.join(dir, relative)));
                break;
            }
            case "python": {
                const project = requirementProject(item.source);
                const wheels = inputs.wheels.filter((wheel) => wheelProject(path.basename(wheel)).project === project);
                if (wheels.length === 0) throw new Error(`no wheel of ${project} for ${item.source}`);
                for (const wheel of wheels) {
                    const relative = wheelPath(path.basename(wheel));
                    fs.copyFileSync(wheel, place(relative));
                    hold(item, relative, fs.statSync(wheel).size, sha256File(wheel));
                }
                break;
            }
        }
    }
    writeManifest(dir, { stack: inputs.stack, items: held });
    return held;
}
