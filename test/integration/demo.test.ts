// `npm run demo` run by a user who has a user manager of their own: it must leave that user's setup exactly as
// it was, and refuse to start where an agent-profiles setup already exists.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { snapshot } from "../helpers/fakes.js";

let sb: Sandbox;

before(async () => {
  sb = await startSandbox();
  // Something of the user's own beside where the demo writes: it must stay as it is.
  const own = await sb.exec("sh", ["-c", 'mkdir -p "$HOME/.config/systemd/user" && printf "[Service]\\nExecStart=/bin/true\\n" > "$HOME/.config/systemd/user/mine.service"']);
  assert.equal(own.code, 0, own.stderr);
});

after(async () => {
  await sb?.stop();
});

function demo() {
  return sb.exec("bash", [path.join(sb.appDir, "scripts/demo.sh")], { timeoutMs: 180_000 });
}

test("demo on the user's own manager: runs, then leaves their files and units as they were", async () => {
  const before = await snapshot(sb.home);
  const r = await demo();
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /using your own systemd user manager/);
  assert.match(r.stdout, /added demo-alpha: healthy on port 8642/);
  assert.match(r.stdout, /your setup is as it was/);
  assert.deepEqual(await snapshot(sb.home), before);
  const units = await sb.exec("systemctl", ["--user", "list-units", "--all", "--no-legend", "agent-*"]);
  assert.equal(units.stdout.trim(), "", "units of the demo are still loaded");
});

test("demo where a setup exists: exit 2 naming the file, nothing changed", async () => {
  const mkConfig = await sb.exec("sh", ["-c", 'mkdir -p "$HOME/.config/agent-profiles" && echo "# mine" > "$HOME/.config/agent-profiles/config.ini"']);
  assert.equal(mkConfig.code, 0, mkConfig.stderr);
  try {
    const before = await snapshot(sb.home);
    const r = await demo();
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`already have an agent-profiles setup \\(${sb.home}/\\.config/agent-profiles\\)`));
    assert.deepEqual(await snapshot(sb.home), before);
  } finally {
    await fs.rm(path.join(sb.home, ".config/agent-profiles"), { recursive: true, force: true });
  }
});
