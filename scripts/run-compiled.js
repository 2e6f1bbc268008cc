#!/usr/bin/env node
// Runs an entry point of the program as compiled JavaScript (bin/), the way `npm run render` and
// `npm run audit` run it: compiling first when a TypeScript source is newer than the last build, or
// one was added or removed since (tsc -p tsconfig.build.json, incremental; compiled files whose
// source is gone are removed). The folders the layers read beside their code (<layer>/files,
// <layer>/charts) are linked into bin/, so they are never stale. Plain JavaScript on purpose: it
// must run before anything is compiled.
//
// Stack traces: the Pulumi SDK captures one for every output promise (runtime/debuggable.js), which
// is about half of a large stack's plan time; they are off unless ERPDC_STACK_TRACES=1. Config
// errors carry their whole message either way. Loading modules is about a quarter of a small stack's
// (the SDK loads the 9 MB typescript for its closure code): V8's compile cache keeps the compiled
// modules between runs.
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

/** The sources the build reads, with their modification times. */
function sources(dir = ROOT, found = new Map()) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (SKIP.has(entry.name)) continue;
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) sources(file, found);
        else if (entry.name.endsWith(".ts") || /^tsconfig.*\.json$/.test(entry.name) || entry.name === "package-lock.json") {
            found.set(path.relative(ROOT, file), fs.statSync(file).mtimeMs);
        }
    }
    return found;
}

/** Stale: never built, a source newer than the build, or a source added or removed since. */
function stale(current) {
    if (!fs.existsSync(STAMP)) return true;
    const stamp = JSON.parse(fs.readFileSync(STAMP, "utf8"));
    const built = Date.parse(stamp.started);
    return [...current.values()].some((mtime) => mtime > built) || JSON.stringify([...current.keys()].sort()) !== JSON.stringify(stamp.sources);
}

/** The folders of files a layer reads beside its code (<layer>/files, <layer>/charts). */
function assetFolders() {
    return fs
        .readdirSync(ROOT, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && !SKIP.has(entry.name))
        .flatMap((layer) => ["files", "charts"].map((name) => `${layer.name}/${name}`))
        .filter((folder) => fs.existsSync(path.join(ROOT, folder)));
}

/** Compiled files whose source is gone (tsc leaves them behind). */
function removeOrphans(dir = BIN) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isSymbolicLink()) continue;
        if (entry.isDirectory()) removeOrphans(file);
        else if (entry.name.endsWith(".js") && !fs.existsSync(path.join(ROOT, path.relative(BIN, file)).replace(/\.js$/, ".ts"))) fs.rmSync(file);
    }
}

function build(current) {
    // The stamp carries the build's start: a source saved while tsc runs is newer, and rebuilt next time.
    const started = new Date();
    const tsc = require.resolve("typescript/bin/tsc", { paths: [ROOT] });
    const result = spawnSync(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.build.json")], { stdio: "inherit" });
    if (result.status !== 0) process.exit(result.status ?? 1);
    removeOrphans();
    for (const asset of assetFolders()) {
        const link = path.join(BIN, asset);
        fs.mkdirSync(path.dirname(link), { recursive: true });
        fs.rmSync(link, { recursive: true, force: true });
        fs.symlinkSync(path.relative(path.dirname(link), path.join(ROOT, asset)), link);
    }
    fs.writeFileSync(STAMP, `${JSON.stringify({ started: started.toISOString(), sources: [...current.keys()].sort() }, null, 1)}\n`);
}

function main() {
    const [entry, ...args] = process.argv.slice(2);
    if (entry === undefined) {
        console.error("usage: node scripts/run-compiled.js <entry, e.g. render/cli> [args...] | --build");
        process.exit(2);
    }
    const current = sources();
    if (entry === "--build" || stale(current)) build(current);
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
