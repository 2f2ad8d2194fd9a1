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
import path from "node:path";
import ini from "ini";
import { coerce, enum as enumOf, int, maximum, minimum, optional, regex, strictObject, string } from "../schema.js";
import { BadFileError } from "../errors.js";
import { profileDir, type Paths } from "../paths.js";
import { PROBE_KINDS, type ProbeKind } from "../probe/types.js";
import { readTextIfAny, removeFile, writeFileIfChanged } from "./atomic.js";

/** What a profile may override; absent keys follow config.ini. */
export interface ProfileSettings {
  probe?: ProbeKind;
  healthPath?: string;
  probeTimeoutMs?: number;
}

const schema = strictObject(
  {
    gateway: optional(
      strictObject(
        {
          probe: optional(enumOf(PROBE_KINDS as [ProbeKind, ...ProbeKind[]], { message: `must be one of ${PROBE_KINDS.join(", ")}` })),
          health_path: optional(string().check(regex(/^\/[\x21-\x7e]*$/, "must be a path starting with / and without spaces"))),
          probe_timeout_ms: optional(
            coerce.number({ message: "must be a number of milliseconds" }).check(int("must be a whole number"), minimum(50, "must be at least 50"), maximum(600_000, "must be at most 600000")),
          ),
        },
        { message: "unknown key (known: probe, health_path, probe_timeout_ms)" },
      ),
    ),
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
  const text = readTextIfAny(file, (err) => new BadFileError(file, `cannot be read (${err.code})`));
  if (text === null) return {};
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

/** Make `settings` the profile's `profile.ini` (0600, atomic; removed when empty); whether the file changed. */
export async function writeProfileSettings(paths: Paths, name: string, settings: ProfileSettings): Promise<boolean> {
  const file = profileSettingsFile(paths, name);
  const lines: string[] = [];
  if (settings.probe !== undefined) lines.push(`probe = ${settings.probe}`);
  if (settings.healthPath !== undefined) lines.push(`health_path = ${ini.safe(settings.healthPath)}`);
  if (settings.probeTimeoutMs !== undefined) lines.push(`probe_timeout_ms = ${settings.probeTimeoutMs}`);
  if (lines.length === 0) return removeFile(file);
  return writeFileIfChanged(file, `; written by \`profiles apply\`\n[gateway]\n${lines.join("\n")}\n`, 0o600);
}
