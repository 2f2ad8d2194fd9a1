import { limitsInForce, limitsText, type LimitsInForce } from "../core/limits-in-force.js";
import { reloadIfNeeded } from "../core/unit-reload.js";
import { DELEGATE_FIX, limitsNotEnforced, notEnforcedLines, type NotEnforced } from "../core/limits-bite.js";
import { withProfile } from "../core/transaction.js";
import { assertPolicySupported, declarePolicyFlags, policyFromFlags, policyInForce, policyText, type PolicyInForce } from "../core/restart-policy.js";
import { checkCpuQuota, checkMemoryMax, checkTasksMax, LIMIT_KEYS, limitsDropIn, readLimits, type Limits } from "../store/limits.js";
import { withLimits } from "../store/limits-change.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";
import { name } from "./options.js";

interface LimitsArgs {
  name: string;
  memoryMax?: string;
  cpuQuota?: string;
  tasksMax?: string;
  reset?: boolean;
  // The crash-loop policy's flags (core/restart-policy.ts).
  restartSec?: string;
  startLimitBurst?: string;
  startLimitInterval?: string;
  noRestartOnExit?: string;
  restartSteps?: string;
  restartMaxDelay?: string;
}

// "" removes one limit (back to the template's default).
const FLAGS: [keyof Limits, keyof LimitsArgs, (v: string) => string][] = [
  ["MemoryMax", "memoryMax", checkMemoryMax],
  ["CPUQuota", "cpuQuota", checkCpuQuota],
  ["TasksMax", "tasksMax", checkTasksMax],
];

/** The limits the flags give, checked: a value, or null to remove it. Checked before anything is read or written. */
type Asked = { reset: boolean; values: [keyof Limits, string | null][] };

function asked(args: LimitsArgs): Asked {
  const values = FLAGS.filter(([, flag]) => args[flag] !== undefined).map(([key, flag, check]): [keyof Limits, string | null] => {
    const raw = String(args[flag]);
    return [key, raw === "" ? null : check(raw)];
  });
  return { reset: Boolean(args.reset), values: [...values, ...policyFromFlags({ ...args })] };
}

/** The limits asked for on top of `current`; null when no flag was given. */
function wanted(current: Limits, a: Asked): Limits | null {
  if (a.values.length === 0 && !a.reset) return null;
  const next: Limits = a.reset ? {} : { ...current };
  for (const [key, value] of a.values) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}

/** What `limits` did and what the manager applies now. */
export interface LimitsResult {
  name: string;
  unit: string;
  set: Limits;
  changed: boolean;
  reloaded: boolean;
  dropIn: string;
  inForce: LimitsInForce;
  /** The crash-loop policy the manager applies. */
  policy: PolicyInForce;
  /** Limits set here that the manager cannot enforce (a cgroup controller it lacks). */
  notEnforced: NotEnforced[];
}

/** `limits`' text for people. */
export function renderLimits(r: LimitsResult): string {
  const setText = LIMIT_KEYS.filter((k) => r.set[k] !== undefined).map((k) => `${k}=${r.set[k]}`).join(" ") || "none (the template's defaults)";
  const lines = [`${r.changed ? "set" : "limits of"} ${r.name}: ${setText}`, `in force (${r.unit}): ${limitsText(r.inForce)}`, `crash loop: ${policyText(r.policy)}`, ...notEnforcedLines(r.notEnforced)];
  if (r.notEnforced.length > 0) lines.push(`to enforce them: ${DELEGATE_FIX}`);
  if (r.changed) lines.push(`written to ${r.dropIn}; the manager applies them now; \`profiles rollback ${r.name}\` puts the earlier ones back`);
  return lines.join("\n");
}

export default defineCommand<LimitsArgs, Asked>({
  command: "limits <name>",
  describe: "Set a profile's resource limits (a drop-in for its unit, kept with its generations) and show those in force",
  options: [name()],
  needs: { config: true, profiles: "name", manager: true },
  builder: (y) =>
    declarePolicyFlags(
      y
        .option("memory-max", { type: "string", describe: 'MemoryMax: e.g. 512M, 2G, infinity ("" removes it)' })
        .option("cpu-quota", { type: "string", describe: 'CPUQuota: percent of one CPU, e.g. 50% or 200% ("" removes it)' })
        .option("tasks-max", { type: "string", describe: 'TasksMax: processes and threads, e.g. 64 ("" removes it)' }),
      true,
    )
      .option("reset", { type: "boolean", describe: "Remove every limit set here (the template's defaults apply)" }),
  parse: asked,
  async run(args, ctx, a) {
    const name = args.name;
    const unit = unitName(name);
    const sd = await ctx.systemd();
    const current = await readLimits(ctx.paths, name);
    const next = wanted(current, a);
    // Refused before anything is written: a key this manager does not know would be ignored with a warning in its log.
    await assertPolicySupported(sd, a.values.filter(([, v]) => v !== null).map(([k]) => k as never));
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
    const set = next ?? current;
    const [inForce, policy, notEnforced] = await Promise.all([limitsInForce(sd, unit), policyInForce(sd, unit), limitsNotEnforced(sd, unit, set)]);
    const data: LimitsResult = { name, unit, set, changed, reloaded, dropIn: limitsDropIn(ctx.paths, name), inForce, policy, notEnforced };
    return { data, text: renderLimits(data) };
  },
});
