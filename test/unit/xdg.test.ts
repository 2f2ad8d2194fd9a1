import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { resolvePaths } from "../../src/paths.js";
import { homeOf } from "../../src/xdg.js";

const CLI = fileURLToPath(new URL("../../src/cli.cjs", import.meta.url));

test("a relative HOME is not used as the home: the password database's is (os.homedir() returned it as given)", () => {
  assert.equal(homeOf({ HOME: "/srv/ops" }), "/srv/ops");
  for (const HOME of ["relative/home", ".", ""]) {
    assert.equal(homeOf({ HOME }), os.userInfo().homedir, JSON.stringify(HOME));
    assert.ok(path.isAbsolute(resolvePaths({ HOME }).appConfigDir), JSON.stringify(HOME));
  }
});

test("no home at all (a uid the password database does not know, HOME unset or relative): exit 2 saying so, not the working directory", () => {
  const nobody = 4_000_123;
  const r = spawnSync("setpriv", [`--reuid=${nobody}`, `--regid=${nobody}`, "--clear-groups", "env", "-u", "HOME", process.execPath, CLI, "list"], { cwd: "/", encoding: "utf8", timeout: 60_000 });
  // setpriv needs root, as the integration tests' sandboxes do.
  assert.equal(r.status, 2, `${r.error?.message ?? ""}${r.stderr}`);
  assert.equal(r.stderr.split("\n")[0], `profiles: HOME is not set, and uid ${nobody} has no entry in the password database: there is no home to keep profiles in`);
});

test("the runtime unit directory (`enable --runtime`'s links): under $XDG_RUNTIME_DIR, else /run/user/UID as logind makes it", () => {
  assert.equal(resolvePaths({ HOME: "/srv/ops", XDG_RUNTIME_DIR: "/run/user/1000" }).runtimeUnitDir, "/run/user/1000/systemd/user");
  for (const XDG_RUNTIME_DIR of [undefined, "relative/run"]) {
    assert.equal(resolvePaths({ HOME: "/srv/ops", XDG_RUNTIME_DIR }).runtimeUnitDir, `/run/user/${process.getuid!()}/systemd/user`, String(XDG_RUNTIME_DIR));
  }
});
