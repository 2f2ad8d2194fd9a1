/** Check: the user's systemd manager answers on the user bus. */
import { AppError, ManagerUnreachableError } from "../../errors.js";
import type { SystemdManager } from "../../systemd/types.js";
import type { Context } from "../context.js";
import { policySupport, supportText } from "../restart-policy.js";
import { fine, type Verdict } from "./types.js";

export const BUS_TITLE = "user bus reachable";

/** The command that brings a missing user manager (or the variables that find it) back. */
export function busFix(env: NodeJS.ProcessEnv, uid: number): string {
  // Without either variable the CLI cannot even find the bus; with them, nobody answers on it.
  if (!env.DBUS_SESSION_BUS_ADDRESS && !env.XDG_RUNTIME_DIR) return `export XDG_RUNTIME_DIR=/run/user/${uid}`;
  return `sudo systemctl start user@${uid}.service`;
}

/** Connect through the context; an unreachable manager is a problem to report, not a crash. */
export async function checkBus(ctx: Context, uid: number): Promise<{ verdict: Verdict; sd: SystemdManager | null }> {
  try {
    const sd = await ctx.systemd();
    const where = ctx.env.DBUS_SESSION_BUS_ADDRESS || `unix:path=${ctx.env.XDG_RUNTIME_DIR}/bus`;
    // Which crash-loop flags this manager takes (`init`/`limits` refuse the others).
    return { verdict: fine(`the manager answers on ${where}; ${supportText(await policySupport(sd))}`), sd };
  } catch (err) {
    if (err instanceof ManagerUnreachableError) {
      return { verdict: { ok: "", problems: [{ message: err.message, fix: busFix(ctx.env, uid) }] }, sd: null };
    }
    // Reached but refused (e.g. run as root against a user's bus): the error's hint is the way out.
    if (err instanceof AppError) {
      return { verdict: { ok: "", problems: [{ message: err.message, fix: err.hint ?? busFix(ctx.env, uid) }] }, sd: null };
    }
    throw err;
  }
}
