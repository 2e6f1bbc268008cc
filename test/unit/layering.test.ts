// The house rules a reviewer would otherwise check with grep: data flows config -> plan -> layers,
// shared things live in lib/, and no file or function grows past what a newcomer can read.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import ts from "typescript";
import { ROOT } from "../../render/stackConfig";

const LAYERS = ["proxmox", "dns", "pki", "infraServices", "cluster", "apps"];
/** The two faces a layer shows the others: its component (index.ts) and its model (plan.ts). */
const PUBLIC_FACES = ["index", "plan"];
const SOURCE_DIRS = [...LAYERS, "config", "lib", "render", "bundle", "policy", "scripts"];

function sourceFiles(): string[] {
    const files = ["index.ts", "plan.ts"];
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
            const relative = path.posix.join(dir, entry.name);
            if (entry.isDirectory() && entry.name !== "node_modules") walk(relative);
            else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) files.push(relative);
        }
    };
    SOURCE_DIRS.forEach(walk);
    return files;
}

/** The project files a file imports, as paths relative to the root without ".ts". */
function projectImports(file: string): string[] {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    return ts
        .preProcessFile(text, true, true)
        .importedFiles.map((imported) => imported.fileName)
        .filter((name) => name.startsWith("."))
        .map((name) => path.posix.normalize(path.posix.join(path.posix.dirname(file), name)));
}

/** The top-level folder of a file or import target; "" for the root files (index.ts, plan.ts). */
const folderOf = (file: string) => {
    const first = file.split("/")[0] as string;
    return file.includes("/") || SOURCE_DIRS.includes(first) ? first : "";
};

describe("layering", () => {
    const files = sourceFiles();

    it("keeps config/ and lib/ free of every layer and of the render tools", () => {
        for (const file of files.filter((f) => ["config", "lib"].includes(folderOf(f)))) {
            for (const target of projectImports(file)) {
                assert.ok(
                    ["config", "lib"].includes(folderOf(target)) && (folderOf(file) === "config" || folderOf(target) === "lib"),
                    `${file} imports ${target}`,
                );
            }
        }
    });

    it("lets a layer use another layer only through its component (index) or its model (plan), and never the render tools", () => {
        for (const file of files.filter((f) => LAYERS.includes(folderOf(f)))) {
            for (const target of projectImports(file)) {
                const folder = folderOf(target);
                assert.notEqual(folder, "render", `${file} imports ${target}`);
                assert.ok(folder !== "", `${file} imports the root ${target}`);
                if (LAYERS.includes(folder) && folder !== folderOf(file)) {
                    const face = target.split("/").slice(1).join("/");
                    assert.ok(face === "" || PUBLIC_FACES.includes(face), `${file} reaches into ${target}`);
                }
            }
        }
    });

    it("has index.ts import only the layers' components, the root plan and lib/", () => {
        for (const target of projectImports("index.ts")) {
            const folder = folderOf(target);
            const layerComponent = LAYERS.includes(folder) && (target === folder || target === `${folder}/index`);
            assert.ok(layerComponent || target === "plan" || folder === "lib", `index.ts imports ${target}`);
        }
    });

    it("has the root plan read only the config and the layers' plans, and the policy pack only lib/", () => {
        for (const target of projectImports("plan.ts")) {
            assert.ok(folderOf(target) === "config" || folderOf(target) === "lib" || target.endsWith("/plan"), `plan.ts imports ${target}`);
        }
        for (const file of files.filter((f) => folderOf(f) === "policy")) {
            for (const target of projectImports(file)) assert.ok(["lib", "policy"].includes(folderOf(target)), `${file} imports ${target}`);
        }
    });

    it("keeps every file under 400 lines and every function under 120", () => {
        for (const file of files) {
            const text = fs.readFileSync(path.join(ROOT, file), "utf8");
            assert.ok(text.split("\n").length <= 400, `${file} has ${text.split("\n").length} lines`);
            const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
            const visit = (node: ts.Node) => {
                if (ts.isFunctionLike(node) && "body" in node && node.body) {
                    const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
                    const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
                    const name = "name" in node && node.name ? node.name.getText() : "(anonymous)";
                    assert.ok(end - start + 1 <= 120, `${file}: ${name} has ${end - start + 1} lines`);
                }
                ts.forEachChild(node, visit);
            };
            visit(source);
        }
    });
});
