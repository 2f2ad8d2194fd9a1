/**
 * A profile's own settings for the tool, as opposed to its `.env` (which is the gateway's, and goes to it
 * whole): `<config>/agent-profiles/profiles/NAME/profile.ini`, optional, written by hand, e.g.
 *
 *     [gateway]
 *     probe = tcp
 *     health_path = /healthz
 *     probe_timeout_ms = 5000
 *
 * Each key overrides the same key of config.ini's `[gateway]` for this profile only.
 */
import fs from "node:fs/promises";
import path from "node:path";
import ini from "ini";
import { z } from "zod";
import { BadFileError } from "../errors.js";
import { profileDir, type Paths } from "../paths.js";
import { PROBE_KINDS, type ProbeKind } from "../probe/types.js";

/** What a profile may override; absent keys follow config.ini. */
export interface ProfileSettings {
  probe?: ProbeKind;
  healthPath?: string;
  probeTimeoutMs?: number;
}

const schema = z.strictObject(
  {
    gateway: z
      .strictObject(
        {
          probe: z.enum(PROBE_KINDS as [ProbeKind, ...ProbeKind[]], { message: `must be one of ${PROBE_KINDS.join(", ")}` }).optional(),
          health_path: z.string().regex(/^\/[\x21-\x7e]*$/, "must be a path starting with / and without spaces").optional(),
          probe_timeout_ms: z.coerce.number({ message: "must be a number of milliseconds" }).int("must be a whole number").min(50, "must be at least 50").max(600_000, "must be at most 600000").optional(),
        },
        { message: "unknown key (known: probe, health_path, probe_timeout_ms)" },
      )
      .optional(),
  },
  { message: "unknown section (known: [gateway])" },
);

/** The file that holds a profile's settings. */
export function profileSettingsFile(paths: Paths, name: string): string {
  return path.join(profileDir(paths, name), "profile.ini");
}

/** Read a profile's `profile.ini`; `{}` when there is none, BadFileError naming the key when it is wrong. */
export async function readProfileSettings(paths: Paths, name: string): Promise<ProfileSettings> {
  const file = profileSettingsFile(paths, name);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new BadFileError(file, `cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  const parsed = schema.safeParse(ini.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const keys = issue && "keys" in issue && Array.isArray(issue.keys) ? `.${issue.keys.join(",")}` : "";
    const where = (issue?.path.join(".") ?? "") + keys;
    throw new BadFileError(file, `${where.replace(/^\./, "") || "(file)"}: ${issue?.message}`, "fix it by hand, or delete it to use config.ini's settings");
  }
  const g = parsed.data.gateway ?? {};
  const out: ProfileSettings = {};
  if (g.probe !== undefined) out.probe = g.probe;
  if (g.health_path !== undefined) out.healthPath = g.health_path;
  if (g.probe_timeout_ms !== undefined) out.probeTimeoutMs = g.probe_timeout_ms;
  return out;
}
