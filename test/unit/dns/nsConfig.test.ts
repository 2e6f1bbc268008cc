import { strict as assert } from "assert";
import { atom, nsSysConfig, nsUnit, nsVmArgs, renderTerm, tuple } from "../../../dns/nsConfig";

describe("synrc/ns configuration", () => {
    it("renders Erlang terms with escaped strings and plain atoms only", () => {
        assert.equal(renderTerm(tuple(atom("a"), 'q"uote\\', 1, [true])), '{a, "q\\"uote\\\\", 1, [\n  true\n]}');
        assert.throws(() => renderTerm(atom("Bad Atom")), /not a plain Erlang atom/);
    });

    it("listens on the infra VM's address, port 53, without root hints, and finds the zone", () => {
        const config = nsSysConfig({ listenAddress: "10.0.0.5", port: 53, zonePath: "/zones/erp.uno.zone.json" });
        assert.match(config, /\{address, "10\.0\.0\.5"\}/);
        assert.match(config, /\{port, 53\}/);
        assert.match(config, /\{use_root_hints, false\}/);
        assert.match(config, /\{zones, "\/zones\/erp\.uno\.zone\.json"\}/);
        assert.ok(config.trimEnd().endsWith("]."));
    });

    it("sets only keys the release reads: ns's servers, use_root_hints, catch_exceptions and zones; lager's handlers, crash_log, error_logger_redirect", () => {
        // The keys synrc/ns at 1bf3f6c5 reads with application:get_env(ns, ...) (src/erldns_config.erl,
        // erldns_handler.erl, erldns_zone_loader.erl) and lager 3.9.2 with application:get_env(lager, ...)
        // (src/lager_app.erl, src/lager_sup.erl); "dnssec", "pools" and an "erldns" section are read by nothing.
        const config = nsSysConfig({ listenAddress: "10.0.0.5", port: 53, zonePath: "/zones/erp.uno.zone.json" });
        const sections = [...config.matchAll(/^ {2}\{([a-z_]+), \[$/gm)].map((match) => match[1]);
        assert.deepEqual(sections, ["ns", "lager"]);
        const keys = [...config.matchAll(/^ {4}\{([a-z_]+),/gm)].map((match) => match[1]);
        assert.deepEqual(keys, ["servers", "use_root_hints", "catch_exceptions", "zones", "handlers", "crash_log", "error_logger_redirect"]);
        // Only the console handler: lager's defaults would also write log/error.log and log/console.log.
        assert.match(config, /\{handlers, \[\s*\{lager_console_backend, \[\s*\{level, info\}\s*\]\}\s*\]\}/);
        assert.match(config, /\{crash_log, false\}/);
    });

    it("starts a lone node: no -name or -sname (no epmd, no distribution, no cookie), schedulers for the VM's vCPUs", () => {
        const args = nsVmArgs({ schedulers: 4 });
        assert.doesNotMatch(args, /^-s?name\b/m);
        assert.doesNotMatch(args, /^-setcookie\b/m);
        assert.match(args, /^-start_epmd false$/m);
        assert.match(args, /^\+S 4:4$/m);
        assert.throws(() => nsVmArgs({ schedulers: 0 }), /positive integer/);
    });

    it("caps the service's memory with MemoryHigh 1.5 times above the measured start-up peak of about 102 MiB", () => {
        const unit = nsUnit("erp.uno", 256);
        assert.match(unit, /^MemoryMax=256M$/m);
        assert.match(unit, /^MemoryHigh=192M$/m);
        assert.match(unit, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
        assert.match(unit, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
    });

    it("runs the release read-only: the service writes only its state folder", () => {
        const unit = nsUnit("erp.uno", 256);
        assert.match(unit, /^ProtectSystem=strict$/m);
        assert.match(unit, /^StateDirectory=synrc-ns$/m);
        assert.doesNotMatch(unit, /^ReadWritePaths=/m);
        assert.match(unit, /^ExecStart=\/usr\/local\/lib\/erpdc\/synrc-ns-run$/m);
    });
});
