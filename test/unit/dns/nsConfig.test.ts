import { strict as assert } from "assert";
import { atom, nsSysConfig, nsUnit, renderTerm, tuple } from "../../../dns/nsConfig";

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

    it("caps the service's memory above its measured ~60 MB footprint", () => {
        const unit = nsUnit("erp.uno", 128);
        assert.match(unit, /^MemoryMax=128M$/m);
        assert.match(unit, /^MemoryHigh=96M$/m);
        assert.match(unit, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    });
});
