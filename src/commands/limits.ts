import { limitsInForce, limitsText, type LimitsInForce } from "../core/limits-in-force.js";
import { reloadIfNeeded } from "../core/unit-reload.js";
import { withProfile } from "../core/transaction.js";
import { checkCpuQuota, checkMemoryMax, checkRestartSec, checkTasksMax, LIMIT_KEYS, limitsDropIn, readLimits, type Limits } from "../store/limits.js";
import { withLimits } from "../store/limits-change.js";
import { assertProfileName } from "../store/names.js";
import { assertProfileExists } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";

interface LimitsArgs {
  name: string;
  memoryMax?: string;
  cpuQuota?: string;
  tasksMax?: string;
  restartSec?: string;
  reset?: boolean;
}

// "" removes one limit (back to the template's default).
const FLAGS: [keyof Limits, keyof LimitsArgs, (v: string) => string][] = [
  ["MemoryMax", "memoryMax", checkMemoryMax],
  ["CPUQuota", "cpuQuota", checkCpuQuota],
  ["TasksMax", "tasksMax", checkTasksMax],
  ["RestartSec", "restartSec", checkRestartSec],
];

/** The limits `args` ask for on top of `current`, checked; null when no flag was given. */
function wanted(current: Limits, args: LimitsArgs): Limits | null {
  const given = FLAGS.filter(([, flag]) => args[flag] !== undefined);
  if (given.length === 0 && !args.reset) return null;
  const next: Limits = args.reset ? {} : { ...current };
  for (const [key, flag, check] of given) {
    const raw = String(args[flag]);
    if (raw === "") delete next[key];
    else next[key] = check(raw);
  }
  return next;
}

export default defineCommand<LimitsArgs>({
  command: "limits <name>",
  describe: "Set a profile's resource limits (a drop-in for its unit, kept with its generations) and show those in force",
  builder: (y) =>
    y
      .positional("name", { type: "string", describe: "Profile name" })
      .option("memory-max", { type: "string", describe: 'MemoryMax: e.g. 512M, 2G, infinity ("" removes it)' })
      .option("cpu-quota", { type: "string", describe: 'CPUQuota: percent of one CPU, e.g. 50% or 200% ("" removes it)' })
      .option("tasks-max", { type: "string", describe: 'TasksMax: processes and threads, e.g. 64 ("" removes it)' })
      .option("restart-sec", { type: "string", describe: 'RestartSec: seconds before a crashed gateway is restarted ("" removes it)' })
      .option("reset", { type: "boolean", describe: "Remove every limit set here (the template's defaults apply)" })
      .example("$0 limits liam --memory-max 512M --cpu-quota 50%", "cap a gateway that leaks memory")
      .example("$0 limits liam", "show the limits the manager applies now")
      .example("$0 limits liam --reset", "back to the template's defaults"),
  async run(args, ctx) {
    const name = assertProfileName(args.name);
    await ctx.config();
    await assertProfileExists(ctx.paths, name);
    const unit = unitName(name);
    const sd = await ctx.systemd();
    const current = await readLimits(ctx.paths, name);
    // Checked before anything is written: a bad value changes nothing.
    const next = wanted(current, args);
    let changed = false;
    let reloaded = false;
    const same = (a: Limits, b: Limits) => LIMIT_KEYS.every((k) => a[k] === b[k]);
    if (next !== null && !same(next, current)) {
      const dropInChanged = await withProfile(ctx, name, { command: `profiles limits ${name}` }, async (tx) => {
        // A generation of its own (same .env bytes, new limits), so that `rollback` can put the old limits back.
        const what = LIMIT_KEYS.map((k) => (next[k] !== current[k] ? `${k}=${next[k] ?? "(default)"}` : null)).filter((x) => x !== null);
        return (await withLimits(ctx.paths, name, next, () => tx.commit(tx.envText(), `limits ${what.join(" ")}`, { always: true }))).dropInChanged;
      });
      reloaded = await reloadIfNeeded(sd, dropInChanged, async () => [unit]);
      changed = true;
    }
    const inForce: LimitsInForce = await limitsInForce(sd, unit);
    const set = next ?? current;
    const data = { name, unit, set, changed, reloaded, dropIn: limitsDropIn(ctx.paths, name), inForce };
    const setText = LIMIT_KEYS.filter((k) => set[k] !== undefined).map((k) => `${k}=${set[k]}`).join(" ") || "none (the template's defaults)";
    const lines = [
      `${changed ? "set" : "limits of"} ${name}: ${setText}`,
      `in force (${unit}): ${limitsText(inForce)}`,
    ];
    if (changed) lines.push(`written to ${data.dropIn}; the manager applies them now; \`profiles rollback ${name}\` puts the earlier ones back`);
    return { data, text: lines.join("\n") };
  },
});
