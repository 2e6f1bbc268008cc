import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { CHART_DIR } from "../../../apps/catalog";
import { ALL_ROLE_TAGS, CALVER, ROLE_TAGS } from "../../../lib/conventions";

describe("conventions", () => {
    it("gives the chart's schema the same calendar-version pattern the config and the policy pack use", () => {
        const schema = JSON.parse(fs.readFileSync(path.join(CHART_DIR, "values.schema.json"), "utf8"));
        assert.equal(schema.$defs.calver.pattern, CALVER.source);
    });

    it("accepts calendar versions and refuses latest, a zero month and a leading zero", () => {
        for (const good of ["2026.11.1", "2026.1.12", "26.12.9999"]) assert.match(good, CALVER);
        for (const bad of ["latest", "2026.0.1", "2026.13.1", "2026.11.0", "2026.01.1", "v2026.11.1", "2026.11"]) assert.doesNotMatch(bad, CALVER);
    });

    it("marks every role with a tag of its own", () => {
        assert.equal(new Set(Object.values(ROLE_TAGS).flat()).size, 3);
        assert.deepEqual([...ALL_ROLE_TAGS].sort(), ["infra", "k8s-control-plane", "k8s-worker"]);
    });
});
