import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import test from "node:test";
import { resolvePaths } from "../../src/paths.js";
import { homeOf } from "../../src/xdg.js";

test("a relative HOME is not used as the home: the password database's is (os.homedir() returned it as given)", () => {
  assert.equal(homeOf({ HOME: "/srv/ops" }), "/srv/ops");
  for (const HOME of ["relative/home", ".", ""]) {
    assert.equal(homeOf({ HOME }), os.userInfo().homedir, JSON.stringify(HOME));
    assert.ok(path.isAbsolute(resolvePaths({ HOME }).appConfigDir), JSON.stringify(HOME));
  }
});
