import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { quoteExecArg } from "../../src/systemd/unit-file.js";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { snapshot } from "../helpers/fakes.js";

// This file's share of 18720-18739; it never starts a gateway, add only records the port.
const RANGE = "18720-18724";
const PROFILE = "vals";
const PRINTER = `aptest-printenv@${PROFILE}.service`;

// Values systemd's EnvironmentFile= parser is easy to get wrong on.
const AWKWARD: Record<string, string> = {
  SPACES: "a b  c",
  LEADING: "   leading",
  TRAILING: "trailing   ",
  ONLY_SPACES: "   ",
  SINGLE: "it's",
  LONE_SINGLE: "'",
  DOUBLE: 'say "hi"',
  LONE_DOUBLE: '"',
  QUOTED_WHOLE: "'whole'",
  BOTH_QUOTES: `'a' "b" 'c"`,
  HASH: "#not a comment",
  MID_HASH: "a # b",
  SEMI: ";x;y",
  EQUALS: "a=b==c=",
  DOLLAR: "$HOME",
  BRACES: "${PORT} and ${UNDEFINED_X}",
  DOLLARS: "$$ $ $1 $",
  PERCENT: "100% %i %h",
  BACKTICK: "`id`",
  BACKSLASH: "a\\b",
  BACKSLASH_N: "line\\nnot a newline",
  BACKSLASH_QUOTE: '\\"',
  TRAILING_BACKSLASH: "ends with \\",
  DOUBLE_BACKSLASH: "\\\\",
  UNICODE: "żółw 🐢 日本語 Ωμέγα",
  TAB: "a\tb",
  TRAILING_TAB: "tab\t",
  EMPTY: "",
  API_KEY: "k3y with 'quotes' and $dollar\\",
};

let sb: Sandbox;
let port = "";

function json<T>(out: { stdout: string }): T {
  return JSON.parse(out.stdout) as T;
}

/** Start the oneshot printer (the start job waits for it) and return the environment it saw. */
async function readBack(): Promise<Record<string, string>> {
  const out = path.join(sb.home, `printenv-${PROFILE}.json`);
  await fs.rm(out, { force: true });
  const r = await sb.exec("systemctl", ["--user", "start", PRINTER]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(await fs.readFile(out, "utf8")) as Record<string, string>;
}

before(async () => {
  sb = await startSandbox();
  const init = await sb.profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs")]);
  assert.equal(init.code, 0, init.stderr);
  const add = await sb.profiles(["add", PROFILE, "--no-start", "--json"]);
  assert.equal(add.code, 0, add.stderr);
  port = String(json<{ port: number }>(add).port);
  const unit = [
    "[Unit]",
    "Description=agent-profiles test: print what systemd reads from profile %i's .env",
    "[Service]",
    "Type=oneshot",
    "EnvironmentFile=%E/agent-profiles/profiles/%i/.env",
    `ExecStart=${quoteExecArg(process.execPath)} ${quoteExecArg(path.join(sb.appDir, "dist/test/fixtures/print-env.js"))} "%h/printenv-%i.json"`,
    "",
  ].join("\n");
  const install = await sb.exec("sh", ["-c", 'mkdir -p "$HOME/.config/systemd/user" && cat > "$HOME/.config/systemd/user/aptest-printenv@.service"'], { input: unit });
  assert.equal(install.code, 0, install.stderr);
  const reload = await sb.exec("systemctl", ["--user", "daemon-reload"]);
  assert.equal(reload.code, 0, reload.stderr);
});
after(async () => {
  await sb?.stop();
});

test("set: systemd reads back exactly the bytes given, for every awkward value", async () => {
  const pairs = Object.entries(AWKWARD).map(([k, v]) => `${k}=${v}`);
  const r = await sb.profiles(["set", PROFILE, ...pairs]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /takes effect when it next restarts/);
  const seen = await readBack();
  for (const [k, v] of Object.entries(AWKWARD)) assert.equal(seen[k], v, `${k}: systemd read ${JSON.stringify(seen[k])}`);
  assert.equal(seen.PORT, port);
  // `env --show-secrets` says the same as systemd; without it the secret is masked, and appears nowhere.
  const shown = json<{ variables: Record<string, string> }>(await sb.profiles(["env", PROFILE, "--json", "--show-secrets"]));
  for (const [k, v] of Object.entries(AWKWARD)) assert.equal(shown.variables[k], v, k);
  const masked = await sb.profiles(["env", PROFILE]);
  assert.equal(masked.code, 0, masked.stderr);
  assert.match(masked.stdout, /^API_KEY=\*{8}$/m);
  assert.ok(!masked.stdout.includes(AWKWARD.API_KEY!));
  assert.ok(!r.stdout.includes(AWKWARD.API_KEY!) && !r.stderr.includes(AWKWARD.API_KEY!));
});

test("set again and unset: changed values and removed keys reach systemd the same way", async () => {
  const changed = { SPACES: " x ", BACKSLASH: "\\\\\\", NEW_ONE: "$(not a subshell)" };
  const s = await sb.profiles(["set", PROFILE, ...Object.entries(changed).map(([k, v]) => `${k}=${v}`)]);
  assert.equal(s.code, 0, s.stderr);
  const u = await sb.profiles(["unset", PROFILE, "HASH", "TRAILING_BACKSLASH", "EMPTY", "--json"]);
  assert.equal(u.code, 0, u.stderr);
  assert.deepEqual(json<{ changed: string[] }>(u).changed, ["HASH", "TRAILING_BACKSLASH", "EMPTY"]);
  const seen = await readBack();
  const expected: Record<string, string> = { ...AWKWARD, ...changed };
  for (const k of ["HASH", "TRAILING_BACKSLASH", "EMPTY"]) delete expected[k];
  for (const [k, v] of Object.entries(expected)) assert.equal(seen[k], v, k);
  for (const k of ["HASH", "TRAILING_BACKSLASH", "EMPTY"]) assert.ok(!(k in seen), `${k} is still set`);
  const h = json<{ generations: { number: number; reason: string }[] }>(await sb.profiles(["history", PROFILE, "--json"]));
  assert.deepEqual(h.generations.map((x) => x.reason), ["unset HASH, TRAILING_BACKSLASH, EMPTY", "set SPACES, BACKSLASH, NEW_ONE", `set ${Object.keys(AWKWARD).join(", ")}`, "add"]);
});

test("a value systemd cannot carry is refused with exit 2, and nothing changes", async () => {
  const dirs = [path.join(sb.home, ".config"), path.join(sb.home, ".local/state")];
  const before = await Promise.all(dirs.map(snapshot));
  for (const bad of [["NL=one\ntwo"], ["CR=one\rtwo"], ["OK=1", "NL=x\n"], ["NOEQUALS"], ["9X=1"]]) {
    const r = await sb.profiles(["set", PROFILE, ...bad]);
    assert.equal(r.code, 2, `${JSON.stringify(bad)}: ${r.stderr}`);
    assert.match(r.stderr, /^profiles: set: /);
  }
  // A value read from a stream that never ends is refused at 8 MiB, not read until memory runs out.
  const endless = await sb.exec("bash", ["-c", `exec node ${path.join(sb.appDir, "dist/src/cli.cjs")} set ${PROFILE} ENDLESS --stdin < /dev/zero`], { timeoutMs: 60_000 });
  assert.equal(endless.code, 2, endless.stderr);
  assert.match(endless.stderr, /^profiles: standard input is over the 8 MiB that profiles reads of any input\n/);
  // Nothing at all, from /dev/null or a closed stdin, is no value: an empty one was written, exit 0.
  for (const from of ["< /dev/null", "<&-"]) {
    const empty = await sb.exec("bash", ["-c", `exec node ${path.join(sb.appDir, "dist/src/cli.cjs")} set ${PROFILE} EMPTY --stdin ${from}`], { timeoutMs: 60_000 });
    assert.equal(empty.code, 2, `${from}: ${empty.stderr}`);
    assert.equal(empty.stderr, `profiles: standard input is empty: no value for EMPTY was given\n  next: to set an empty value, run \`profiles set ${PROFILE} EMPTY=\`\n`);
  }
  const u = await sb.profiles(["unset", PROFILE, "NOT_THERE"]);
  assert.equal(u.code, 2, u.stderr);
  assert.match(u.stderr, /has no NOT_THERE/);
  assert.deepEqual(await Promise.all(dirs.map(snapshot)), before);
  const seen = await readBack();
  assert.ok(!("NL" in seen) && !("OK" in seen));
});

test("a .env that is a symlink into a dotfiles directory stays one: set writes its target, which the manager reads", async () => {
  const move = await sb.exec("sh", ["-c", `set -e
env="$HOME/.config/agent-profiles/profiles/${PROFILE}/.env"
mkdir -p "$HOME/dotfiles"
mv "$env" "$HOME/dotfiles/${PROFILE}.env"
ln -s ../../../../dotfiles/${PROFILE}.env "$env"`]);
  assert.equal(move.code, 0, move.stderr);
  const s = await sb.profiles(["set", PROFILE, "THROUGH_LINK=yes"]);
  assert.equal(s.code, 0, s.stderr);
  const look = await sb.exec("sh", ["-c", `readlink "$HOME/.config/agent-profiles/profiles/${PROFILE}/.env"; stat -c %a "$HOME/dotfiles/${PROFILE}.env"; ls -A "$HOME/dotfiles"; grep -c THROUGH_LINK "$HOME/dotfiles/${PROFILE}.env"`]);
  assert.equal(look.code, 0, look.stderr);
  assert.deepEqual(look.stdout.trim().split("\n"), [`../../../../dotfiles/${PROFILE}.env`, "600", `${PROFILE}.env`, "1"]);
  assert.equal((await readBack()).THROUGH_LINK, "yes");
  // The link leading nowhere: exit 12 naming the link and its target, and the profile still listed.
  const broken = await sb.exec("sh", ["-c", `mv "$HOME/dotfiles/${PROFILE}.env" "$HOME/dotfiles/${PROFILE}.env.away"`]);
  assert.equal(broken.code, 0, broken.stderr);
  const before = await snapshot(path.join(sb.home, ".local/state"));
  const r = await sb.profiles(["set", PROFILE, "THROUGH_LINK=no"]);
  assert.equal(r.code, 12, r.stderr);
  assert.match(r.stderr, /\.env: is a symlink to \.\.\/\.\.\/\.\.\/\.\.\/dotfiles\/vals\.env that leads to no file/);
  assert.deepEqual(await snapshot(path.join(sb.home, ".local/state")), before);
  assert.deepEqual(json<{ name: string }[]>(await sb.profiles(["list", "--json"])).map((p) => p.name), [PROFILE]);
  const back = await sb.exec("sh", ["-c", `mv "$HOME/dotfiles/${PROFILE}.env.away" "$HOME/dotfiles/${PROFILE}.env"`]);
  assert.equal(back.code, 0, back.stderr);
});
