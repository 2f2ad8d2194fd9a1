/** What `profiles roll` prints: one summary for --json, its text for people, and the exit code. */
import { ExitCode } from "../../errors.js";
import { foundText, reportText, type FoundRoll, type RollReport } from "./report.js";

/** The summary printed with --json. */
export interface RollSummary {
  outcome: "completed" | "halted" | "interrupted" | "planned" | "nothing-to-roll";
  /** An unfinished roll found at start, as it was left; this run finished it first. */
  previous: FoundRoll | null;
  rolls: RollReport[];
  next: string | null;
}

/** What to run next after a roll that did not complete. */
export function nextStep(report: RollReport): string | null {
  const names = (o: string) => report.profiles.filter((p) => p.outcome === o).map((p) => p.name);
  if (report.outcome === "interrupted") return "run `profiles roll` to finish the roll";
  if (report.outcome !== "halted") return null;
  const bad = [...names("reverted"), ...names("failed")];
  const rest = [...bad, ...names("untouched")];
  return `see what changed with \`profiles diff ${bad[0]}\`, fix it (\`profiles set\`, or \`profiles rollback ${bad[0]}\`), then \`profiles roll ${rest.join(" ")}\``;
}

/** The command's result: the summary as data, its text for people, and the exit code. */
export function render(summary: RollSummary, extra: string[] = []): { data: RollSummary; text: string; exitCode: ExitCode } {
  const lines = summary.previous ? foundText(summary.previous) : [];
  for (const r of summary.rolls) lines.push(...reportText(r));
  lines.push(...extra);
  if (summary.next) lines.push(`next: ${summary.next}`);
  const ok = ["completed", "planned", "nothing-to-roll"].includes(summary.outcome);
  return { data: summary, text: lines.join("\n"), exitCode: ok ? ExitCode.ok : ExitCode.rollHalted };
}
