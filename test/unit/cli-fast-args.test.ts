import { test } from "node:test";
import assert from "node:assert/strict";
import { fastInvocation } from "../../src/cli-fast-args.js";

test("the fast bundle takes `list`/`ls` with at most --json, word for word", () => {
  assert.deepEqual(fastInvocation(["list"]), { verb: "list", json: false });
  assert.deepEqual(fastInvocation(["ls"]), { verb: "list", json: false });
  assert.deepEqual(fastInvocation(["list", "--json"]), { verb: "list", json: true });
  assert.deepEqual(fastInvocation(["--json", "ls"]), { verb: "list", json: true });
});

test("anything else goes to the full CLI (yargs): other flags, words, forms of --json, other verbs", () => {
  for (const argv of [
    [],
    ["--json"],
    ["list", "--json", "--json"],
    ["list", "--verbose"],
    ["list", "--help"],
    ["list", "-h"],
    ["list", "--json=true"],
    ["list", "--no-json"],
    ["list", "--host", "a"],
    ["list", "extra"],
    ["list", "list"],
    ["status"],
    ["LIST"],
    ["constructor"],
    ["toString", "--json"],
    ["__proto__"],
  ]) {
    assert.equal(fastInvocation(argv), null, argv.join(" "));
  }
});
