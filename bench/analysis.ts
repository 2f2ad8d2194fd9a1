/** The report's prose that is computed from the figures: where the time goes, and why a target is missed. */
import os from "node:os";
import { mib, ms } from "./format.js";
import { summarize } from "../test/helpers/stats.js";
import type { Registry } from "./series.js";
import type { Verdict } from "./targets.js";
import { LIST_COUNT } from "./phases/list.js";
import { ROLL_COUNT } from "./phases/roll.js";
import { SWEEP_COUNT } from "./phases/sweep.js";
import { FLEET_PROFILES } from "./phases/fleet.js";

function median(registry: Registry, id: string, metric: "ms" | "rss" = "ms"): number | null {
  const s = registry.all.get(id);
  return s && s.missing === null ? (summarize(metric === "ms" ? s.ms : s.rssMiB)?.median ?? null) : null;
}

/** Start-up of the CLI split into node, its dependencies and the rest; then each row less that start-up. */
export function whereTimeGoes(registry: Registry): string[] {
  const m = (id: string): number | null => median(registry, id);
  const node = m("ref.node");
  const deps = m("ref.deps");
  const version = m("ref.startup");
  const lines: string[] = [];
  if (node !== null && version !== null) {
    lines.push(
      `- Start-up of any \`profiles\` command: ${ms(version)} (\`profiles --version --json\`) = node itself ${ms(node)}` +
        ` + running the bundled CLI (dist/src/cli-main.cjs, its dependencies inside, compiled code from its cache) and parsing arguments ${ms(version - node)}.` +
        (deps !== null ? ` Loading its four main dependencies one module at a time, as it did before it was bundled, takes ${ms(deps - node)} alone.` : ""),
    );
  }
  if (version === null) return lines;
  const after = (id: string, what: string, per?: { count: number; unit: string }): void => {
    const v = m(id);
    if (v === null) return;
    const each = per ? `, ${ms((v - version) / per.count)} per ${per.unit}` : "";
    lines.push(`- ${what}: ${ms(v)}, of which ${ms(v - version)} (${(((v - version) / v) * 100).toFixed(0)}%) after start-up${each}.`);
  };
  // `list` alone runs from the smaller dist/src/cli-fast.cjs: what it takes beyond the full CLI's start-up understates its work.
  const fast = "it runs from dist/src/cli-fast.cjs, which starts sooner than the full CLI, so its work is more than this";
  after("list.profiles", `\`profiles list --json\`, ${LIST_COUNT} profiles (config, one D-Bus ListUnitsByPatterns, ${LIST_COUNT} \`.env\` reads; ${fast})`);
  after("rss.list200", `\`profiles list\`, ${SWEEP_COUNT} profiles (${fast})`);
  after("roll.batch1", `\`profiles roll\`, batch 1`, { count: ROLL_COUNT, unit: "profile" });
  after("roll.parallel5", `\`profiles roll --max-parallel 5\``, { count: ROLL_COUNT / 5, unit: "batch of 5" });
  after("sweep.profiles", `\`profiles sweep\`, ${SWEEP_COUNT} profiles`, { count: SWEEP_COUNT, unit: "profile" });
  after("add.first", "`profiles add`, the 1st");
  after("add.hundredth", "`profiles add`, the 100th");
  const perItem = (id: string, what: string, count: number, unit: string): void => {
    const v = m(id);
    if (v !== null) lines.push(`- ${what}: ${ms(v)}, ${ms(v / count)} per ${unit}.`);
  };
  perItem("roll.shell", "The shell roll loop", ROLL_COUNT, "profile");
  perItem("roll.shell5", "The shell roll loop, 5 at a time", ROLL_COUNT / 5, "batch of 5");
  perItem("roll.pm2", "`pm2 reload all` (pm2 restarts 2 apps at a time by default)", ROLL_COUNT, "app");
  perItem("roll.pm2-serial", "`pm2 reload all --parallel 1`", ROLL_COUNT, "app");
  perItem("sweep.curl", "The curl loop", SWEEP_COUNT, "port (one curl process each)");
  return lines;
}

/**
 * The fleet rows taken apart: the ssh session, the remote `profiles`, the driver's own process; what
 * several hosts at once cost by hand on this machine; what a new connection costs.
 */
export function whereFleetTimeGoes(registry: Registry): string[] {
  const m = (id: string): number | null => median(registry, `fleet.${id}`);
  const [list1, list3, sshTrue, sshList, sshList3] = [m("list1"), m("list3"), m("ssh-true"), m("ssh-list"), m("ssh-list3")];
  const [roll1, roll2, sshRoll1, sshRoll2] = [m("roll1"), m("roll2"), m("ssh-roll1"), m("ssh-roll2")];
  const [first, next, sshFirst] = [m("first"), m("next"), m("ssh-first")];
  const lines: string[] = [];
  if (list1 !== null && sshTrue !== null && sshList !== null) {
    lines.push(
      `- \`profiles list --json --host\`, one host of ${FLEET_PROFILES} profiles, warm: ${ms(list1)} = an ssh session through the master ${ms(sshTrue)}` +
        ` + the remote \`profiles list --json\` (a node process there) ${ms(sshList - sshTrue)} + the driver's own \`profiles\` process (start-up, ssh, merging) ${ms(list1 - sshList)}.`,
    );
  }
  if (list1 !== null && list3 !== null && sshList !== null && sshList3 !== null) {
    lines.push(
      `- 3 hosts: ${ms(list3)}, ${ms(list3 - list1)} more than one. By hand, three \`ssh HOST profiles list --json\` at once take ${ms(sshList3)}` +
        ` against one's ${ms(sshList)} (${(sshList3 / sshList).toFixed(2)}×): every host here is this machine, so three remote node processes share its ${os.availableParallelism()} CPUs.`,
    );
  }
  if (roll1 !== null && roll2 !== null && sshRoll1 !== null && sshRoll2 !== null) {
    lines.push(
      `- Fleet roll: one host's ${ms(roll1)} (the remote roll alone, by hand: ${ms(sshRoll1)}; the driver adds ${ms(roll1 - sshRoll1)}: its start-up, the fleet record, and first every host's \`profiles list\`` +
        (sshList !== null ? `, which alone takes ${ms(sshList)} by hand);` : ");") +
        ` 2 hosts at once ${ms(roll2)}, ${ms(roll2 - roll1)} more. By hand both remote rolls at once take ${ms(sshRoll2)} against one's ${ms(sshRoll1)} (${(sshRoll2 / sshRoll1).toFixed(2)}×).`,
    );
  }
  if (first !== null && next !== null) {
    lines.push(
      `- The first command to a host: ${ms(first)}; the next, through the master connection it left: ${ms(next)}; opening the connection costs ${ms(first - next)}` +
        (sshFirst !== null && sshTrue !== null ? ` (ssh alone: \`ssh HOST true\` ${ms(sshFirst)} with a new connection, ${ms(sshTrue)} through a master).` : "."),
    );
  }
  return lines;
}

/** Peak RSS of the references next to the two memory rows, so that each row's excess has a cause. */
export function whereMemoryGoes(registry: Registry): string[] {
  const m = (id: string): number | null => median(registry, id, "rss");
  const lines: string[] = [];
  const node = m("ref.node");
  const http = m("ref.http");
  const gateway = m("rss.gateway");
  if (node !== null && http !== null && gateway !== null) {
    lines.push(
      `- An idle reference gateway peaks at ${mib(gateway)}. Bare node peaks at ${mib(node)}; a bare node HTTP server that` +
        ` answers 5 requests at ${mib(http)}: the gateway's own code (its settings check, sd_notify, signal handling) adds` +
        ` ${mib(gateway - http)} to that.`,
    );
  }
  const version = m("ref.startup");
  const deps = m("ref.deps");
  const list50 = m("list.profiles");
  const list200 = m("rss.list200");
  if (node !== null && version !== null) {
    lines.push(
      `- \`profiles --version --json\` peaks at ${mib(version)}: ${mib(version - node)} over bare node for the bundled CLI` +
        (deps !== null ? ` (yargs, zod, pino and dbus-next loaded one module at a time, unbundled: ${mib(deps - node)}).` : "."),
    );
  }
  if (version !== null && list50 !== null && list200 !== null) {
    lines.push(
      `- \`profiles list\` peaks at ${mib(list50)} with ${LIST_COUNT} profiles and ${mib(list200)} with ${SWEEP_COUNT}:` +
        ` ${mib((list200 - list50) / (SWEEP_COUNT - LIST_COUNT))} more per profile, on top of the ${mib(version)} of start-up` +
        " (see the D-Bus calls below).",
    );
  }
  return lines;
}

/** Why a missed target is missed, from the figures; empty when nothing is missed. */
export function gaps(verdicts: readonly Verdict[], registry: Registry): string[] {
  const version = median(registry, "ref.startup");
  const node = median(registry, "ref.node");
  const out: string[] = [];
  for (const v of verdicts) {
    if (v.met === false && v.target.limitMiB !== undefined) {
      const peak = median(registry, v.subject.id, "rss")!;
      out.push(`- **${v.subject.label}**: ${mib(peak)} where the target is ≤ ${v.target.limitMiB} MiB, ${mib(peak - v.target.limitMiB)} over (see where the memory goes).`);
      continue;
    }
    if (v.met !== false || v.ratio === null || !v.compared) continue;
    const subject = median(registry, v.subject.id)!;
    const compared = median(registry, v.compared.id)!;
    const bound = v.target.compare?.maxRatio ?? 1;
    const lines = [
      `- **${v.subject.label}** against ${v.compared.label}: ${ms(subject)} vs ${ms(compared)}, ${v.ratio.toFixed(2)}× where the target is ≤ ${bound}×;` +
        ` to meet it, it must take at most ${ms(compared * bound)}, ${ms(subject - compared * bound)} less.`,
    ];
    const fleet = v.subject.id.startsWith("fleet.");
    if (version !== null && node !== null && !fleet && v.subject.id !== "roll.parallel5" && v.subject.id !== "add.hundredth") {
      const share = version / subject;
      if (share >= 0.2) {
        lines.push(
          `  Start-up alone (\`profiles --version --json\`) is ${ms(version)}, ${(share * 100).toFixed(0)}% of it; bare node is ${ms(node)},` +
            ` so loading modules costs ${ms(version - node)} before any work.` +
            (version - node >= subject - compared * bound
              ? " Module loading costs more than the gap: the CLI is bundled already, so what is left is node's own start and compiling the bundle."
              : " Start-up is not all of the gap: the work after it must get cheaper too (see where the time goes)."),
        );
      } else {
        lines.push(`  Start-up (\`profiles --version --json\`, ${ms(version)}) is only ${(share * 100).toFixed(0)}% of it: the gap is in the work itself.`);
      }
    }
    const shell1 = median(registry, "roll.shell");
    const shell5 = median(registry, "roll.shell5");
    if (v.subject.id === "roll.parallel5" && shell1 !== null && shell5 !== null) {
      const floor = shell5 / shell1;
      lines.push(
        `  On this machine 5 at a time takes the shell loop itself to ${floor.toFixed(2)}× of its batch-1 time (${ms(shell5)} vs ${ms(shell1)})` +
          (floor > bound
            ? `: five gateways starting at once share ${os.availableParallelism()} CPUs, and even the shell loop does not reach the bound with 5 at a time here.`
            : floor > bound * 0.85
              ? `: five gateways starting at once share ${os.availableParallelism()} CPUs, so the bound leaves roll almost no room for its own per-batch work.`
              : ": the bound is within reach of 5 at a time here, so what is in the way is roll's own work per batch."),
      );
    }
    const byHand = { "fleet.list3": ["fleet.ssh-list3", "fleet.ssh-list"], "fleet.roll2": ["fleet.ssh-roll2", "fleet.ssh-roll1"] }[v.subject.id];
    const [many, one] = byHand ? byHand.map((id) => median(registry, id)) : [null, null];
    if (many !== null && one !== null && many !== undefined && one !== undefined) {
      const floor = many / one;
      lines.push(
        `  By hand (ssh to each host at once, no \`profiles\` on this side) the same takes ${floor.toFixed(2)}× of one host (${ms(many)} vs ${ms(one)})` +
          (floor > bound
            ? `: every host of this bench is this machine, so the hosts' node processes share its ${os.availableParallelism()} CPUs, and even by hand the bound is out of reach here.`
            : `: the hosts' work fits beside each other here, so what is in the way is the driver's own work per host (see where the time goes).`),
      );
    }
    const calls = registry.calls.find((c) => c.label === v.subject.label);
    if (calls) {
      const total = [...calls.counts.values()].reduce((a, b) => a + b, 0);
      const get = calls.counts.get("Get") ?? 0;
      lines.push(`  One run of it sends ${total} D-Bus calls to the manager, ${get} of them single property Gets (see the D-Bus calls).`);
    }
    out.push(...lines);
  }
  return out;
}
