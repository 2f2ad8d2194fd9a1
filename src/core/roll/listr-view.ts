import type { ListrTask, ListrTaskWrapper } from "listr2";
import { peopleText } from "../../redact.js";
import { batchLabel } from "./plan.js";
import type { ProfileEntry } from "./record.js";
import type { RollRecorder } from "./recorder.js";
import { profileLine } from "./report.js";
import type { RollView } from "./view.js";

interface Slot {
  entry: ProfileEntry | null;
  note: string;
  task: ListrTaskWrapper<unknown, never, never> | null;
  settle(entry: ProfileEntry): void;
  done: Promise<ProfileEntry>;
}

const SETTLED = new Set(["rolled", "reverted", "failed", "skipped"]);

function slot(): Slot {
  let settle!: (e: ProfileEntry) => void;
  const done = new Promise<ProfileEntry>((r) => (settle = r));
  const s: Slot = { entry: null, note: "waiting", task: null, done, settle: () => {} };
  s.settle = (e) => {
    s.entry = e;
    settle(e);
  };
  return s;
}

/**
 * Progress as a listr2 task tree on the terminal (stderr): a task per batch, a subtask per profile. The
 * runner drives; each profile's task only waits for its entry to settle. listr2 is imported here, when a
 * roll runs on a terminal, so that other commands do not pay for loading it.
 */
export async function listrView(renderer: "default" | "silent" = "default"): Promise<RollView> {
  const { Listr, ListrLogger, ProcessOutput } = await import("listr2");
  const logger = new ListrLogger({ useIcons: true, processOutput: new ProcessOutput(process.stderr, process.stderr) });
  const slots = new Map<string, Slot>();
  let running: Promise<unknown> | null = null;
  let current: RollRecorder | null = null;
  // Each batch's task waits until the runner starts that batch (true) or the roll ends before it (false).
  const reached: ((started: boolean) => void)[] = [];
  const messages: string[] = [];

  const profileTask = (name: string): ListrTask => ({
    title: name,
    task: async (_ctx, task) => {
      const s = slots.get(name)!;
      s.task = task as never;
      task.output = s.note;
      const e = await s.done;
      const line = peopleText(profileLine({ ...e, name, outcome: e.state === "pending" ? "untouched" : SETTLED.has(e.state) ? (e.state as "rolled") : "unfinished" }));
      if (e.state === "rolled") task.title = line;
      else if (e.state === "failed" || e.state === "reverted") throw new Error(line);
      else task.skip(line);
    },
  });

  const note = (name: string, text: string): void => {
    const s = slots.get(name);
    if (!s) return;
    s.note = peopleText(text);
    if (s.task) s.task.output = s.note;
  };
  return {
    async begin(rec) {
      current = rec;
      const { plan } = rec.record;
      for (const b of plan) for (const n of b.names) slots.set(n, slot());
      // A resumed roll shows what was already settled before this process took it over.
      for (const [n, s] of slots) if (SETTLED.has(rec.entry(n).state)) s.settle(rec.entry(n));
      const tasks: ListrTask[] = plan.map((b, i) => {
        const started = new Promise<boolean>((r) => (reached[i] = r));
        // A batch settled before this process took the roll over is shown as it was left.
        if (b.names.every((n) => SETTLED.has(rec.entry(n).state))) reached[i]!(true);
        return {
          title: `${batchLabel(plan, i)}: ${b.names.join(", ")}`,
          task: async (_ctx, task) => {
            if (!(await started)) return task.skip(`${batchLabel(plan, i)}: not reached (${b.names.join(", ")} untouched)`);
            return task.newListr(b.names.map(profileTask), { concurrent: true, exitOnError: false });
          },
        };
      });
      const list = new Listr(tasks, {
        concurrent: false,
        exitOnError: false,
        // Ctrl-C is the command's to handle (stop after the batch); listr2's own handler would exit at once.
        registerSignalListeners: false,
        renderer,
        rendererOptions: { logger, collapseSubtasks: false, showErrorMessage: true },
        fallbackRenderer: "simple",
        fallbackRendererOptions: { logger },
      });
      running = list.run();
    },
    batchStarted(index) {
      reached[index]?.(true);
    },
    note,
    changed(name, entry) {
      const s = slots.get(name);
      if (!s) return;
      if (entry.state === "reverting") note(name, `FAILED: ${entry.reason}; reverting`);
      if (SETTLED.has(entry.state)) s.settle(entry);
    },
    message(text) {
      // Written beside the tree, a line would throw off the renderer's redraw: show it in the running tasks.
      messages.push(text);
      for (const [n, s] of slots) if (s.task && !s.entry) note(n, text);
    },
    async end() {
      // Profiles the roll did not reach (halted, interrupted, an error) end as they were left.
      for (const [n, s] of slots) if (!s.entry && current) s.settle({ ...current.entry(n) });
      for (const r of reached) r(false);
      await running;
      for (const m of messages) process.stderr.write(`${peopleText(m)}\n`);
    },
  };
}
