/** Check: config.ini exists and parses. */
import type { Config } from "../../config.js";
import { AppError, NotInitialisedError } from "../../errors.js";
import type { Context } from "../context.js";
import { fine, type Verdict } from "./types.js";

export const CONFIG_TITLE = "config.ini parses";

/** Load the config through the context; a missing or broken file is a problem to report. */
export async function checkConfig(ctx: Context): Promise<{ verdict: Verdict; config: Config | null }> {
  try {
    const config = await ctx.config();
    return { verdict: fine(`${ctx.paths.configFile} is valid`), config };
  } catch (err) {
    if (err instanceof NotInitialisedError) {
      return { verdict: { ok: "", problems: [{ message: err.message, fix: "profiles init" }] }, config: null };
    }
    if (err instanceof AppError) {
      // Not `profiles init` from scratch: that would drop the user's own --exec and range.
      return { verdict: { ok: "", problems: [{ message: err.message, fix: `\${EDITOR:-vi} ${ctx.paths.configFile}` }] }, config: null };
    }
    throw err;
  }
}
