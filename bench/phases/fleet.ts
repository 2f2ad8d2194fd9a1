/**
 * `profiles --host` against real ssh hosts on this machine (test/helpers/ssh-hosts.ts): a listing of 3
 * hosts against one, a fleet roll of 2 hosts against one host's roll, and the first command to a host
 * (no master connection yet) against the next; beside them the same done by hand with ssh.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { mapLimit } from "../../src/core/sweep/pool.js";
import { controlDir } from "../../src/fleet/ssh.js";
import { measure, run, runOk, type Measurement } from "../exec.js";
import type { BenchContext } from "../context.js";
import type { Endpoint } from "../health.js";
import { numbers } from "../population.js";
import { interleave, type Series, type Step } from "../series.js";
import { bash, FLEET_SSH } from "../shell.js";
import { detectVerb } from "../tools.js";
import { startFleet, type Fleet, type FleetHost } from "../../test/helpers/ssh-hosts.js";
import { listStep } from "./list.js";
import { restartStep } from "./roll.js";

/** Profiles on each host. */
export const FLEET_PROFILES = 10;
/** The hosts: loopback addresses of the bench's own (tests use 127.0.0.2-29), sshd on the helper's port 2222. */
export const FLEET_HOSTS = [
  { name: "a", addr: "127.0.0.30" },
  { name: "b", addr: "127.0.0.31" },
  { name: "c", addr: "127.0.0.32" },
] as const;
/** Host i's profile n listens on FLEET_FIRST_PORT + 50 i + n - 1: within 24000-24199, clear of every other range. */
export const FLEET_FIRST_PORT = 24000;
const PORTS_PER_HOST = 50;

function endpoint(host: number, n: number): Endpoint {
  return { host: "127.0.0.1", port: FLEET_FIRST_PORT + PORTS_PER_HOST * host + n - 1 };
}

function range(host: number): string {
  const first = FLEET_FIRST_PORT + PORTS_PER_HOST * host;
  return `${first}-${first + PORTS_PER_HOST - 1}`;
}

/** A runtime dir of the driver's own with no master connection in it: the next ssh opens a new one. */
class FreshRuntime {
  dir: string | null = null;
  constructor(private readonly fleet: Fleet) {}

  open(): string {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "ap-bench-fleet-rt-"));
    fs.chownSync(this.dir, this.fleet.driver.uid, this.fleet.driver.gid);
    fs.chmodSync(this.dir, 0o700);
    return this.dir;
  }

  /** Ends the master connections opened under it (ControlPersist would keep them 5 minutes), then removes it. */
  async close(sockets: string, hosts: readonly string[]): Promise<void> {
    if (this.dir === null) return;
    for (const h of hosts) {
      // Exit 255 when no master is there (the measured command failed before opening one): nothing to end.
      await run(this.fleet.driver, ["ssh", "-F", this.fleet.sshConfig, "-o", `ControlPath=${sockets}/%C`, "-O", "exit", h], { timeoutMs: 30_000 });
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

/** Starts 3 ssh hosts with 10 running profiles each, measures the fleet rows, then stops them all. */
export async function fleetPhase(ctx: BenchContext): Promise<void> {
  const { main, tools, registry, verbs } = ctx;
  const names = FLEET_HOSTS.map((h) => h.name);
  const [a, b] = names as [string, string, string];
  const hostsArg = (hs: readonly string[]): string => hs.join(",");
  const s = (id: string, label: string): Series => registry.series(id, label);
  const list1 = s("fleet.list1", `\`profiles list --json --host ${a}\`, one host, ${FLEET_PROFILES} profiles (warm ssh connection)`);
  const list3 = s("fleet.list3", `\`profiles list --json --host ${hostsArg(names)}\`, 3 hosts × ${FLEET_PROFILES} profiles (warm)`);
  const sshTrue = s("fleet.ssh-true", `\`ssh ${a} true\` through the warm master connection (an ssh session alone)`);
  const sshList = s("fleet.ssh-list", `\`ssh ${a} profiles list --json\`, warm (the remote side alone)`);
  const sshList3 = s("fleet.ssh-list3", `\`ssh HOST profiles list --json\` to ${hostsArg(names)} at once, warm (by hand)`);
  const first = s("fleet.first", `the first command to a host: \`profiles list --json --host ${a}\`, no master connection yet`);
  const next = s("fleet.next", "the next command to that host, through the master connection the first one left");
  const sshFirst = s("fleet.ssh-first", `\`ssh ${a} true\`, no master connection yet (connect, key exchange, authenticate)`);
  const roll1 = s("fleet.roll1", `\`profiles roll --host ${a}\`, one host × ${FLEET_PROFILES} profiles, min-healthy-time 0`);
  const roll2 = s("fleet.roll2", `\`profiles roll --host ${a},${b} --max-parallel-hosts 2\`, 2 hosts × ${FLEET_PROFILES} profiles, min-healthy-time 0`);
  const sshRoll1 = s("fleet.ssh-roll1", `\`ssh ${a} profiles roll\`, warm (the remote roll alone)`);
  const sshRoll2 = s("fleet.ssh-roll2", `\`ssh HOST profiles roll\` to ${a},${b} at once, warm (by hand)`);
  const all = [list1, list3, sshTrue, sshList, sshList3, first, next, sshFirst, roll1, roll2, sshRoll1, sshRoll2];
  const list = await detectVerb(main, tools, "list");
  if (!list.options.has("host") || !verbs.roll.options.has("max-parallel-hosts")) {
    for (const series of all) series.missing = "not measured: `profiles` has no --host (list) or --max-parallel-hosts (roll)";
    return;
  }

  // startFleet finds scripts/ssh-hosts.sh and the app the hosts run through AP_APP_DIR, as under `npm test`.
  process.env.AP_APP_DIR = tools.appDir;
  ctx.log(`fleet: starting ${FLEET_HOSTS.length} ssh hosts (${FLEET_HOSTS.map((h) => h.addr).join(", ")}) and a driver`);
  const fleet = await startFleet(
    FLEET_HOSTS.map((h) => ({ ...h, profiles: tools.profiles()[0] })),
    { journal: false },
  );
  const fresh = new FreshRuntime(fleet);
  try {
    const ns = numbers(1, FLEET_PROFILES);
    const profileName = (h: FleetHost, n: number): string => `${h.name}${String(n).padStart(2, "0")}`;
    ctx.log(`fleet: adding ${FLEET_PROFILES} profiles on each host`);
    await Promise.all(
      fleet.hosts.map(async (h, i) => {
        await runOk(h.sb, tools.profiles("init", "--range", range(i), "--log-dir", `${h.sb.home}/logs`, "--no-sweep"));
        // One at a time on a host: each `add` starts its gateway and waits for its health.
        await mapLimit(ns, 1, async (n) => {
          await runOk(h.sb, tools.profiles("add", profileName(h, n), "--port", String(endpoint(i, n).port)));
        });
      }),
    );

    const driver = fleet.driver;
    const env = { AP_SSH_CONFIG: fleet.sshConfig };
    const sockets = controlDir(driver.env);
    const byHand = (remote: string, hs: readonly string[], dir = sockets): string[] => bash(FLEET_SSH, [fleet.sshConfig, dir, remote, ...hs]);
    const warm: Step[] = [
      listStep(driver, list1, tools.profiles("list", "--json", "--host", a), FLEET_PROFILES, env),
      listStep(driver, list3, tools.profiles("list", "--json", "--host", hostsArg(names)), FLEET_PROFILES * names.length, env),
      listStep(driver, sshTrue, byHand("true", [a]), null),
      listStep(driver, sshList, byHand("profiles list --json", [a]), FLEET_PROFILES),
      listStep(driver, sshList3, byHand("profiles list --json", names), null),
    ];
    // The warm-up round opens the master connections the counted rounds reuse.
    await interleave("fleet list", warm, ctx.quick, registry, ctx.log);

    const cold: Step[] = [
      {
        series: sshFirst,
        async run(): Promise<Measurement> {
          const dir = path.join(fresh.open(), "ssh");
          fs.mkdirSync(dir, { mode: 0o700 });
          fs.chownSync(dir, driver.uid, driver.gid);
          const m = measure(driver, byHand("true", [a], dir));
          await fresh.close(dir, [a]);
          return m;
        },
      },
      {
        series: first,
        async run(): Promise<Measurement> {
          // Left by a first whose next failed (and is no longer run).
          if (fresh.dir !== null) await fresh.close(controlDir({ XDG_RUNTIME_DIR: fresh.dir }), [a]);
          const rt = fresh.open();
          return listStep(driver, first, tools.profiles("list", "--json", "--host", a), FLEET_PROFILES, { ...env, XDG_RUNTIME_DIR: rt }).run();
        },
      },
      {
        series: next,
        async run(): Promise<Measurement> {
          // After a failed first (no series left to run it), a fresh dir of its own: then it is a first too, and says so below.
          const rt = fresh.dir ?? fresh.open();
          const own = controlDir({ XDG_RUNTIME_DIR: rt });
          const hadMaster = fs.existsSync(own) && fs.readdirSync(own).length > 0;
          const m = await listStep(driver, next, tools.profiles("list", "--json", "--host", a), FLEET_PROFILES, { ...env, XDG_RUNTIME_DIR: rt }).run();
          await fresh.close(own, [a]);
          return hadMaster ? m : { ...m, code: 1, stderr: "no master connection from a first command to follow" };
        },
      },
    ];
    await interleave("fleet first command", cold, ctx.quick, registry, ctx.log);

    const rollArgs = ["--min-healthy-time", "0"];
    const ends = (hosts: number[]): Endpoint[] => hosts.flatMap((i) => ns.map((n) => endpoint(i, n)));
    const rolls: Step[] = [
      restartStep(driver, roll1, tools.profiles("roll", "--host", a, ...rollArgs), ends([0]), env),
      restartStep(driver, roll2, tools.profiles("roll", "--host", `${a},${b}`, "--max-parallel-hosts", "2", ...rollArgs), ends([0, 1]), env),
      restartStep(driver, sshRoll1, byHand(`profiles roll ${rollArgs.join(" ")}`, [a]), ends([0])),
      restartStep(driver, sshRoll2, byHand(`profiles roll ${rollArgs.join(" ")}`, [a, b]), ends([0, 1])),
    ];
    await interleave("fleet roll", rolls, ctx.rounds, registry, ctx.log);
  } finally {
    if (fresh.dir !== null) await fresh.close(controlDir({ XDG_RUNTIME_DIR: fresh.dir }), [a]).catch(() => undefined);
    await fleet.stop();
  }
}
