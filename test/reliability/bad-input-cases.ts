/**
 * The generated bad inputs of bad-inputs.test.ts and the exit code each must get, decided from the rules
 * in README's tables: 2 usage (name, port, K=V, flag), 3 no such profile, 4 exists, 5 port taken,
 * 8 not initialised, 12 a file of ours is unreadable or does not parse.
 */
import { isProfileName } from "../../src/store/names.js";

export interface BadCase {
  args: string[];
  code: number;
  why: string;
  /** Text stderr must hold besides the message: a file's full path, the command that fixes it. */
  stderrHas?: string[];
}

/** The profiles and ports the cases are built around. */
export interface World {
  existing: [string, string];
  ports: [number, number];
  foreignPort: number;
  freePort: number;
}

const NAME_ALPHABET = [..."abcxyz019-_ABZ.:/@$ *äé名\t;'\"\\"];

/** Names that break the rule, fixed ones first, then `count` random ones from `rand`. */
export function badNames(rand: () => number, count: number): string[] {
  const fixed = ["", "A", "Liam", "_a", "-", "a.b", "a/b", "..", ".", "../x", "a b", "ä", "名前", "a$", "a;b", "x@y", "*", "a".repeat(33), "a\nb", "'quoted'"];
  const out = new Set(fixed);
  while (out.size < fixed.length + count) {
    const len = 1 + Math.floor(rand() * 40);
    const s = Array.from({ length: len }, () => NAME_ALPHABET[Math.floor(rand() * NAME_ALPHABET.length)]!).join("");
    // Leading "-" would be read as a flag by the parser: still exit 2, but no longer a name case.
    if (!isProfileName(s) && !s.startsWith("-")) out.add(s);
  }
  return [...out];
}

// Every verb that takes a profile name, with what else it needs to get as far as the name check.
function nameVerbs(n: string): string[][] {
  return [
    ["add", n, "--no-start"], ["start", n], ["stop", n], ["restart", n], ["remove", n], ["env", n], ["set", n, "RL_A=1"],
    ["unset", n, "RL_A"], ["history", n], ["diff", n], ["rollback", n, "--no-restart"], ["logs", n], ["status", n], ["health", n],
  ];
}

export function nameCases(names: string[]): BadCase[] {
  return names.flatMap((n) =>
    nameVerbs(n)
      // The parser drops a lone "-"; `health -` and `logs -` are then those of every profile, a yargs quirk left alone.
      .filter((args) => !(n === "-" && (args[0] === "health" || args[0] === "logs")))
      .map((args) => ({ args, code: 2, why: `invalid name ${JSON.stringify(n)}` })),
  );
}

export function missingCases(names: string[]): BadCase[] {
  // `add` of a missing name is no error, so it is left out.
  return names.flatMap((n) => nameVerbs(n).filter((a) => a[0] !== "add").map((args) => ({ args, code: 3, why: `no profile ${n}` })));
}

/** Port texts that parsePort must refuse, fixed and random. */
export function badPorts(rand: () => number, count: number): string[] {
  const fixed = ["", "0", "1", "80", "1023", "65536", "70000", "99999999", "-1", "1.5", "abc", "0x2000", "1e4", " 19610", "19610 ", "+19610", "019610", "19610abc", "８０８０"];
  const out = new Set(fixed);
  while (out.size < fixed.length + count) {
    const r = rand();
    if (r < 0.4) out.add(String(Math.floor(rand() * 1024)));
    else if (r < 0.8) out.add(String(65536 + Math.floor(rand() * 1_000_000)));
    else out.add(`${Math.floor(rand() * 60000)}.${Math.floor(rand() * 100)}`);
  }
  return [...out];
}

export function portCases(w: World, ports: string[]): BadCase[] {
  const [e1] = w.existing;
  const out: BadCase[] = [];
  ports.forEach((p, i) => {
    out.push({ args: ["add", `np${i}`, "--port", p, "--no-start"], code: 2, why: `bad port ${JSON.stringify(p)}` });
    out.push({ args: ["set", e1, `PORT=${p}`], code: 2, why: `bad PORT value ${JSON.stringify(p)}` });
  });
  for (const [i, p] of [w.ports[0], w.ports[1], w.foreignPort].entries()) {
    out.push({ args: ["add", `nt${i}`, "--port", String(p), "--no-start"], code: 5, why: `port ${p} taken` });
  }
  out.push({ args: ["set", e1, `PORT=${w.ports[1]}`], code: 5, why: "port of the other profile" });
  out.push({ args: ["set", e1, `PORT=${w.foreignPort}`], code: 5, why: "port held by a foreign listener" });
  return out;
}

const KEY_ALPHABET = [..."AZaz09_-. =/ä$"];

/** K=V arguments that parseAssignment must refuse, fixed and random. */
export function badPairs(rand: () => number, count: number): string[] {
  const fixed = ["NOEQ", "=v", "=", "1A=v", "A-B=v", "A B=v", "A.B=v", "ä=v", "A=line\nbreak", "A=cr\rx", "$A=v", " A=v"];
  const out = new Set(fixed);
  while (out.size < fixed.length + count) {
    const key = Array.from({ length: 1 + Math.floor(rand() * 10) }, () => KEY_ALPHABET[Math.floor(rand() * KEY_ALPHABET.length)]!).join("");
    // Keep only keys that break systemd's rule (a letter or _ first, then letters, digits, _).
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) && !key.includes("=") && key !== "") out.add(`${key}=v`);
  }
  return [...out];
}

export function pairCases(w: World, pairs: string[]): BadCase[] {
  const [e1] = w.existing;
  const out: BadCase[] = [];
  pairs.forEach((p, i) => {
    out.push({ args: ["set", e1, p], code: 2, why: `bad pair ${JSON.stringify(p)}` });
    out.push({ args: ["add", `nv${i}`, "--env", p, "--no-start"], code: 2, why: `bad --env ${JSON.stringify(p)}` });
    out.push({ args: ["set", e1, "RL_OK=1", p], code: 2, why: `a good pair then bad ${JSON.stringify(p)}` });
  });
  out.push({ args: ["unset", e1, "RL_NOSUCH"], code: 2, why: "unset a key the .env lacks" });
  out.push({ args: ["unset", e1, "PORT"], code: 2, why: "unset the port variable" });
  out.push({ args: ["unset", e1, "1BAD"], code: 2, why: "unset an invalid key" });
  return out;
}

export function flagCases(w: World): BadCase[] {
  const [e1] = w.existing;
  const u = (args: string[], why: string): BadCase => ({ args, code: 2, why });
  const out: BadCase[] = [
    u(["frobnicate"], "unknown command"), u([], "no command"), u(["list", "--bogus"], "unknown flag"), u(["status", "--nope"], "unknown flag"),
    u(["history"], "missing name"), u(["set"], "missing name"), u(["set", e1], "no pairs"), u(["unset", e1], "no keys"), u(["remove"], "missing name"),
    u(["env"], "missing name"), u(["diff"], "missing name"), u(["rollback"], "missing name"), u(["add"], "missing name"),
    u(["rollback", e1, "--to", "abc", "--no-restart"], "--to abc"), u(["rollback", e1, "--to", "0", "--no-restart"], "--to 0"),
    u(["rollback", e1, "--to", "999", "--no-restart"], "--to a generation not kept"), u(["rollback", e1, "--to", "-1", "--no-restart"], "--to -1"),
    u(["diff", e1, "999"], "diff of a generation not kept"), u(["diff", e1, "abc"], "diff abc"), u(["diff", e1, "1", "999"], "diff to a generation not kept"),
    u(["logs", e1, "-n", "-5"], "-n -5"), u(["logs", e1, "-n", "abc"], "-n abc"), u(["logs", e1, "-n", "1.5"], "-n 1.5"),
    u(["sweep", "--max-restarts", "x"], "--max-restarts x"), u(["sweep", "--max-restarts", "-1"], "--max-restarts -1"), u(["sweep", "--max-restarts", "101"], "--max-restarts 101"),
    u(["sweep", "--textfile", "/nonexistent/dir/a.prom"], "textfile dir missing"), u(["sweep", "--textfile", "/tmp/a.txt"], "textfile not .prom"),
    u(["sweep", "--webhook", "ftp://example.com/x"], "ftp webhook"), u(["sweep", "--webhook", "not a url"], "webhook not a URL"), u(["sweep", "--wait", "0"], "--wait 0"),
    u(["init", "--range", "abc"], "--range abc"), u(["init", "--range", "9000-8000"], "--range reversed"), u(["init", "--range", "80-90"], "--range below 1024"),
    u(["init", "--range", "60000-70000"], "--range above 65535"), u(["init", "--probe", "udp"], "--probe udp"), u(["init", "--probe-timeout", "-1"], "--probe-timeout -1"),
    u(["init", "--probe-timeout", "abc"], "--probe-timeout abc"), u(["init", "--health-path", "noslash"], "--health-path without /"), u(["init", "--port-var", "1BAD"], "--port-var 1BAD"),
    u(["init", "--log-dir", "relative/dir"], "--log-dir relative"), u(["init", "--sweep-webhook", "ftp://x/y"], "--sweep-webhook ftp"), u(["init", "--bogus"], "init unknown flag"),
  ];
  for (const [flag, bad] of [["--max-parallel", ["0", "-1", "abc", "1.5"]], ["--canary", ["-1", "abc", "1.5"]], ["--min-healthy-time", ["-1", "abc"]], ["--healthy-deadline", ["0", "-1", "abc"]], ["--progress-deadline", ["-1", "abc"]]] as const) {
    // --dry-run: a flag that slipped through must not restart anything.
    for (const v of bad) out.push(u(["roll", flag, v, "--dry-run"], `roll ${flag} ${v}`));
  }
  for (const verb of ["add", "start", "restart", "set", "rollback"]) {
    for (const v of ["abc", "-1", "0"]) {
      const args = verb === "add" ? ["add", `nw-${verb}-${v.replace("-", "m")}`, "--no-start"] : verb === "set" ? ["set", e1, "RL_W=1"] : verb === "rollback" ? ["rollback", e1] : [verb, e1];
      out.push(u([...args, "--wait", v], `${verb} --wait ${v}`));
    }
  }
  for (const verb of ["list", "status", "health", "env", "history", "diff", "add", "remove", "start", "stop", "roll", "doctor", "logs", "set", "unset", "rollback", "sweep", "init"]) {
    out.push(u([verb, "--definitely-not-a-flag"], `${verb} unknown flag`));
  }
  // --host: refused before any host is asked (no ssh runs: "h1" resolves nowhere).
  for (const h of ["-oProxyCommand=touch /tmp/rl-pwned", "a,,b", "web:0", "web:99999", "a b", "@group", "h1,h1", "x@", "[::1"]) {
    out.push(u(["stop", e1, "--host", h], `--host ${JSON.stringify(h)}`));
  }
  out.push(
    u(["list", "--hosts-file", "/nonexistent/hosts"], "--hosts-file missing"),
    u(["list", "--hosts-file", ""], "--hosts-file empty"),
    u(["roll", "--canary-hosts", "1", "--dry-run"], "--canary-hosts without hosts"),
    u(["roll", "--max-parallel-hosts", "2", "--dry-run"], "--max-parallel-hosts without hosts"),
    u(["roll", "--host", "h1", "--canary-hosts", "5"], "--canary-hosts above the hosts"),
    u(["roll", "--host", "h1", "--max-fail-percent", "x"], "--max-fail-percent not a number"),
    u(["set", e1, "--env-file", "/etc/hostname", "--host", "h1"], "--env-file across hosts"),
    u(["top", "--host", "h1", "--json"], "top across hosts: --json without --once"),
    u(["top", "--host", "h1", "--interval", "0"], "top across hosts: --interval 0"),
    u(["apply", "-f", "/nonexistent/m.ini", "--host", "h1", "--yes"], "apply --host of a missing manifest"),
  );
  return out;
}

/** config.ini contents that must be refused (exit 12) by every command that reads the config. */
export function corruptConfigs(original: string): { text: string; why: string }[] {
  const range = /range\s*=\s*\S+/.exec(original)?.[0];
  if (!range) throw new Error(`config.ini has no range line:\n${original}`);
  return [
    { text: "[ports]\nrange = abc\n", why: "range abc" },
    { text: "[ports]\nrange = 9000-8000\n", why: "range reversed" },
    { text: "[ports]\nrange = 80-90\n", why: "range below 1024" },
    { text: "[ports]\nvariable = 1BAD\n", why: "port variable 1BAD" },
    { text: "[gateway]\nprobe = udp\n", why: "probe udp" },
    { text: "[gateway]\nprobe_timeout_ms = -5\n", why: "negative probe timeout" },
    { text: "[generations]\nkeep = 0\n", why: "keep 0" },
    { text: "[gateway]\nhealth_path = no-slash\n", why: "health path without /" },
    { text: original.replace(range, range.replace(/-\d+$/, "-")), why: "range cut off mid-value" },
    { text: original.slice(0, original.indexOf(range) + range.length - 3) + "\u0000\u0001\u00ff", why: "truncated, binary tail" },
  ];
}

/** Commands that read config.ini before doing anything, against an existing profile. */
export function configReaders(e1: string): string[][] {
  return [["list"], ["status"], ["health"], ["add", "cfgx", "--no-start"], ["set", e1, "RL_A=1"], ["start", e1], ["roll", "--dry-run"], ["sweep"], ["restart", e1]];
}

/** Hand edits that turn a .env into something systemd reads differently (exit 12 for commands that read it). */
export function garbageEnvs(rand: () => number, port: number): { text: string; why: string }[] {
  const bytes = Array.from({ length: 64 }, () => String.fromCharCode(1 + Math.floor(rand() * 254))).join("").replace(/["'\\\n\r=#;]/g, "?");
  return [
    { text: `PORT=${port}\nRL_X=1\n1BAD=x\n`, why: "a key starting with a digit" },
    { text: `PORT=${port}\nRL_X=1\nA-B=x\n`, why: "a key with a dash" },
    { text: `PORT=${port}\nRL_X=1\n9${bytes}=garbage\n`, why: "random bytes and a bad key" },
    { text: `PORT=${port}\nRL_X=1\n=novalue\n`, why: "a line with no key" },
    { text: `PORT=${port}\nRL_X=1\nkey with spaces=1\n`, why: "a key with spaces" },
  ];
}

export function envReaders(e1: string): string[][] {
  return [["set", e1, "RL_A=1"], ["unset", e1, "RL_X"], ["start", e1], ["restart", e1]];
}

/**
 * roll.json contents that every roll must refuse (exit 12): `valid` (an unfinished record of a roll of
 * e1 and e2) cut, replaced by garbage, reshaped, or naming a profile wrongly.
 */
export function badRollRecords(rand: () => number, valid: { plan: { names: string[] }[]; profiles: Record<string, unknown>; requested: string[] | null }): { text: string; why: string }[] {
  const edit = (why: string, change: (r: typeof valid) => void) => {
    const r = structuredClone(valid);
    change(r);
    return { text: JSON.stringify(r, null, 2), why };
  };
  const bytes = Buffer.from(Array.from({ length: 200 }, () => Math.floor(rand() * 256))).toString("latin1");
  const whole = JSON.stringify(valid, null, 2);
  const [e1, e2] = valid.plan.flatMap((b) => b.names) as [string, string];
  return [
    { text: bytes, why: "random bytes" },
    { text: whole.slice(0, Math.floor(whole.length * (0.2 + rand() * 0.6))), why: "cut off mid-way" },
    { text: "", why: "empty" },
    { text: "[]", why: "an array" },
    { text: JSON.stringify({ version: 1, plan: "everything" }), why: "wrong shape" },
    edit("version 2", (r) => Object.assign(r, { version: 2 })),
    edit("plan with a name that climbs out", (r) => (r.plan[0]!.names[0] = "../../etc")),
    edit("plan with a name with spaces", (r) => (r.plan[0]!.names[0] = "Bad Name")),
    edit("requested with an invalid name", (r) => (r.requested = [e1, "-x"])),
    edit("an entry under an invalid name", (r) => (r.profiles["e1;rm"] = r.profiles[e2])),
    edit("a planned profile without its entry", (r) => delete r.profiles[e2]),
    edit("an entry that is not planned", (r) => (r.profiles.zz = r.profiles[e2])),
  ];
}

/** The commands that read roll.json: every kind of roll (a dry run too). */
export function rollReaders(e1: string, e2: string): string[][] {
  return [["roll"], ["roll", "--dry-run"], ["roll", e1], ["roll", e2, e1, "--max-parallel", "2", "--min-healthy-time", "0"]];
}
