import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
/** A child that outlives its share of the test's time is killed, so that it never holds a test slot. */
const run = (cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  execFileAsync(cmd, args, { ...opts, timeout: 100_000, killSignal: "SIGKILL" });
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

test("npm pack makes a tarball that installs with npm install -g; both bins work from any directory", { timeout: 240_000 }, async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "ap-pack-"));
  try {
    // --ignore-scripts: dist is built already, and prepack's rebuild would pull dist from under running tests.
    const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--pack-destination", tmp, "--json"], { cwd: repo });
    const [info] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
    const files = info.files.map((f) => f.path);
    assert.ok(files.includes("units/agent-gateway@.service"));
    assert.ok(files.includes("dist/src/cli.cjs") && files.includes("dist/src/cli.js") && files.includes("dist/src/gateway/main.js"));
    assert.ok(!files.some((f) => f.startsWith("dist/test/") || f.startsWith("src/")), "tests and sources stay out of the package");
    const prefix = path.join(tmp, "prefix");
    // Resolving the dependencies' ranges needs the registry's metadata, or a cache that holds it (the
    // systemd-container run warms one); without either, fail fast rather than retry past the deadline.
    await run("npm", ["install", "-g", "--prefix", prefix, "--prefer-offline", "--fetch-retries=0", "--no-audit", "--no-fund", path.join(tmp, info.filename)], { cwd: tmp });
    // The CLI, the gateway and pino are bundles: an install brings only the native addon the gateway's
    // notify support loads (node-unix-socket and its prebuilt binary for this platform).
    const installed = await fs.readdir(path.join(prefix, "lib", "node_modules", "agent-profiles", "node_modules")).catch(() => []);
    const packages = installed.filter((n) => !n.startsWith("."));
    assert.ok(packages.includes("node-unix-socket") && packages.every((n) => /^node-unix-socket(-[a-z0-9-]+)?$/.test(n)) && packages.length <= 4, packages.join(", "));
    const env = { ...process.env, PATH: `${path.join(prefix, "bin")}:${process.env.PATH}`, HOME: tmp, XDG_CONFIG_HOME: "", XDG_STATE_HOME: "" };
    const version = await run("profiles", ["--version"], { cwd: "/", env });
    assert.equal(version.stdout.trim(), JSON.parse(await fs.readFile(path.join(repo, "package.json"), "utf8")).version);
    const help = await run("profiles", ["--help"], { cwd: "/", env });
    assert.match(help.stdout, /profiles add <name>/);
    // Not initialised in this HOME: the documented exit 8 and the next command.
    const list = await run("profiles", ["list"], { cwd: "/", env }).then(() => null, (e: { code: number; stderr: string }) => e);
    assert.equal(list?.code, 8);
    assert.match(list?.stderr ?? "", /run `profiles init` first/);
    const gw = spawn("agent-gateway", [], { cwd: "/", env: { ...env, PORT: "18998" }, stdio: ["ignore", "pipe", "pipe"] });
    try {
      const [line] = (await once(gw.stdout, "data")) as [Buffer];
      assert.match(line.toString(), /listening on http:\/\/127\.0\.0\.1:18998/);
      const res = await fetch("http://127.0.0.1:18998/health");
      assert.equal(res.status, 200);
    } finally {
      gw.kill("SIGTERM");
      const [code] = (await once(gw, "exit")) as [number];
      assert.equal(code, 0);
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
