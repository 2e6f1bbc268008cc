#!/usr/bin/env node
// Runs an entry point of the program as compiled JavaScript (bin/), the way `npm run render` and
// `npm run audit` run it: compiling first when a TypeScript source is newer than the last build
// (tsc -p tsconfig.build.json, incremental). The asset folders the layers read beside their code
// (charts, scripts) are linked into bin/, so they are never stale. Plain JavaScript on purpose: it
// must run before anything is compiled.
//
// Stack traces: the Pulumi SDK captures one for every output promise (runtime/debuggable.js), which
// is about half of a large stack's plan time; they are off unless ERPDC_STACK_TRACES=1. Config
// errors carry their whole message either way. Module loading is a third of a small stack's: V8's
// compile cache keeps the compiled modules between runs.
//
// Usage: node scripts/run-compiled.js <entry without extension, e.g. render/cli> [args...]
//        node scripts/run-compiled.js --build
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, "bin");
const STAMP = path.join(BIN, ".built");
const SKIP = new Set(["node_modules", "bin", "out", "test", ".git"]);
const ASSETS = ["apps/charts", "apps/files", "cluster/files", "dns/files", "lib/files"];

/** The newest modification time of the sources the build reads. */
function newestSource(dir = ROOT) {
    let newest = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (SKIP.has(entry.name)) continue;
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
        else if (entry.name.endsWith(".ts") || /^tsconfig.*\.json$/.test(entry.name) || entry.name === "package-lock.json") {
            newest = Math.max(newest, fs.statSync(file).mtimeMs);
        }
    }
    return newest;
}

function build() {
    const tsc = require.resolve("typescript/bin/tsc", { paths: [ROOT] });
    const result = spawnSync(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.build.json")], { stdio: "inherit" });
    if (result.status !== 0) process.exit(result.status ?? 1);
    for (const asset of ASSETS) {
        const link = path.join(BIN, asset);
        fs.mkdirSync(path.dirname(link), { recursive: true });
        fs.rmSync(link, { recursive: true, force: true });
        fs.symlinkSync(path.relative(path.dirname(link), path.join(ROOT, asset)), link);
    }
    fs.writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}

function main() {
    const [entry, ...args] = process.argv.slice(2);
    if (entry === undefined) {
        console.error("usage: node scripts/run-compiled.js <entry, e.g. render/cli> [args...] | --build");
        process.exit(2);
    }
    const stale = !fs.existsSync(STAMP) || fs.statSync(STAMP).mtimeMs < newestSource();
    if (entry === "--build" || stale) build();
    if (entry === "--build") return;
    Error.stackTraceLimit = process.env.ERPDC_STACK_TRACES === "1" ? 50 : 0;
    // V8's compiled code of every module, kept between runs in bin/: built into node 22
    // (module.enableCompileCache), from v8-compile-cache before.
    const Module = require("module");
    const cache = path.join(BIN, ".compile-cache");
    if (typeof Module.enableCompileCache === "function") Module.enableCompileCache(cache);
    else {
        process.env.V8_COMPILE_CACHE_CACHE_DIR = cache;
        require("v8-compile-cache");
    }
    process.argv = [process.argv[0], path.join(BIN, `${entry}.js`), ...args];
    require(path.join(BIN, `${entry}.js`));
}

main();
