/**
 * The manifest of what exists now: `[defaults]` with the host settings that differ from a fresh `init`'s
 * (the sweep's webhook URL never: it may carry a token), then one `[profile NAME]` per profile with its port, its `.env` keys, limits,
 * probe settings and enable state. Secret values are never written: their keys go into `keep` (the value
 * on this host stays as it is), so that `plan` of a fresh export has nothing to do; on another host an
 * `env-file = PATH` in the section gives them.
 */
import type { Config } from "../../config.js";
import { isSecretKey } from "../../secrets.js";
import { LIMIT_KEYS, readLimits, type Limits } from "../../store/limits.js";
import { readProfileSettings, type ProfileSettings } from "../../store/profile-settings.js";
import { listProfiles, portOf, readEnv } from "../../store/profiles.js";
import type { Context } from "../context.js";
import { inspectProfiles } from "../inspect.js";
import { hostSettingLines } from "./host.js";
import { quoteManifestValue } from "./lines.js";
import { LIMIT_SETTINGS, SETTING_RE } from "./parse.js";

/** One profile as exported (values of secret keys left out). */
export interface ExportedProfile {
  name: string;
  port: number | null;
  /** Keys and values in `.env` order, secret keys left out. */
  env: Record<string, string>;
  /** Secret keys, kept as they are on this host (`keep`). */
  secretKeys: string[];
  limits: Limits;
  probe: ProfileSettings;
  enabled: boolean;
}

/** What `export` prints: the host settings, the profiles and the manifest text. */
export interface ExportResult {
  /** `[defaults]`'s lines: host settings that differ from a fresh `init`'s. */
  host: string[];
  profiles: ExportedProfile[];
  manifest: string;
}

/** Every profile as it is now, and its manifest. */
export async function exportManifest(ctx: Context, config: Config): Promise<ExportResult> {
  const names = await listProfiles(ctx.paths);
  const states = new Map((await inspectProfiles(ctx, config, names, { fresh: true })).map((s) => [s.name, s]));
  const profiles: ExportedProfile[] = [];
  for (const name of names) {
    const entries = await readEnv(ctx.paths, name);
    // No prototype: a key named __proto__ (a valid variable name) is then a key like any other, not a setter.
    const env: Record<string, string> = Object.create(null) as Record<string, string>;
    const secretKeys: string[] = [];
    for (const [k, v] of entries) {
      if (k === config.portVar) continue;
      if (isSecretKey(k) && v !== "") secretKeys.push(k);
      else env[k] = v;
    }
    const probe = await readProfileSettings(ctx.paths, name);
    profiles.push({ name, port: portOf(entries, config.portVar), env, secretKeys, limits: await readLimits(ctx.paths, name), probe, enabled: states.get(name)?.enabled ?? false });
  }
  const host = hostSettingLines(config, quoteManifestValue);
  return { host, profiles, manifest: manifestText(host, profiles) };
}

/** The manifest text of the host settings' lines and `profiles`. */
export function manifestText(host: string[], profiles: ExportedProfile[]): string {
  const out = ["; profiles as they are now, written by `profiles export`; `profiles plan -f FILE` compares, `profiles apply -f FILE` converges."];
  if (host.length > 0) out.push("", "[defaults]", "; host settings, as `profiles init` sets them (the sweep's webhook URL is left out: it may carry a token)", ...host);
  for (const p of profiles) {
    out.push("", `[profile ${p.name}]`);
    if (p.port !== null) out.push(`port = ${p.port}`);
    out.push(`enabled = ${p.enabled ? "yes" : "no"}`);
    for (const [k, v] of Object.entries(p.env)) out.push(`${SETTING_RE.test(k) ? `env.${k}` : k} = ${quoteManifestValue(v)}`);
    if (p.secretKeys.length > 0) {
      out.push("; secret values are not written here: `keep` leaves them as they are on this host; elsewhere, give them with env-file = PATH");
      out.push(`keep = ${p.secretKeys.join(", ")}`);
    }
    const limitSetting = new Map(LIMIT_SETTINGS.map(([setting, key]) => [key, setting]));
    // RestartSec is kept as systemd takes it ("5s"); the setting, as `limits --restart-sec`, takes seconds.
    for (const k of LIMIT_KEYS) if (p.limits[k] !== undefined) out.push(`${limitSetting.get(k)} = ${k === "RestartSec" ? p.limits[k]!.replace(/s$/, "") : p.limits[k]}`);
    if (p.probe.probe !== undefined) out.push(`probe = ${p.probe.probe}`);
    if (p.probe.healthPath !== undefined) out.push(`health-path = ${quoteManifestValue(p.probe.healthPath)}`);
    if (p.probe.probeTimeoutMs !== undefined) out.push(`probe-timeout = ${p.probe.probeTimeoutMs}`);
  }
  return `${out.join("\n")}\n`;
}
