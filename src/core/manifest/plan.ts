/**
 * What applying a manifest would change, computed from what exists now and changing nothing: profiles to
 * add, to remove (only with --prune), and per profile the keys, port, limits, probe settings and enable
 * state that differ, and which profiles would (re)start. Port collisions are refused here (exit 5), so
 * that `apply` writes nothing when one would stop it half-way.
 */
import type { Config } from "../../config.js";
import { PortTakenError, UsageError } from "../../errors.js";
import { describeListener } from "../../ports/describe.js";
import type { EnvEntries } from "../../store/envfile.js";
import { LIMIT_KEYS, readLimits, type Limits } from "../../store/limits.js";
import { readProfileSettings, type ProfileSettings } from "../../store/profile-settings.js";
import { history } from "../../store/generations.js";
import { listProfiles, portOf, readEnv, recordedPorts } from "../../store/profiles.js";
import { unitName } from "../../systemd/types.js";
import type { Context } from "../context.js";
import { diffEntries, type EnvDifference } from "../env-diff.js";
import { inspectProfiles } from "../inspect.js";
import { allocatePort } from "../port-allocation.js";
import { unitPortHolder } from "../port-owner.js";
import { assertDistinctValues, otherProfiles } from "../unique-values.js";
import { setSecretNames } from "../../secrets.js";
import { execStartFor } from "../exec-command.js";
import { assertPolicySupported } from "../restart-policy.js";
import { HOST_SETTINGS, withHostSettings, type HostChange } from "./host.js";
import { ManifestError, type DeclaredProfile, type Manifest } from "./parse.js";

/** A setting that changes: its value before (null: none) and after. */
export interface SettingChange {
  key: string;
  before: string | null;
  after: string | null;
}

/** What applying does to one profile. */
export interface ProfileChange {
  name: string;
  action: "add" | "change" | "remove" | "none";
  portBefore: number | null;
  /** null for a removal; for an addition without `port`, the one the range would give now. */
  port: number | null;
  env: EnvDifference[];
  limits: SettingChange[];
  probe: SettingChange[];
  enabledBefore: boolean | null;
  enabled: boolean;
  /** It would be started (added) or restarted (rolled), health-gated. */
  restart: boolean;
  /**
   * It exists and is to run, but no generation of it ever passed a health gate: an add (or import) that
   * was stopped before its gate, or whose gate failed. It is restarted, gated, so that apply converges.
   */
  neverGated: boolean;
}

/** The plan: the host settings that change, every profile the manifest names, those it removes, and those it leaves alone. */
export interface ManifestPlan {
  file: string;
  /** Host settings (`[defaults]`) that change: config.ini and the template, as `init` changes them. */
  host: HostChange[];
  profiles: ProfileChange[];
  /** Profiles that exist and are not in the manifest, left alone without --prune. */
  unmanaged: string[];
  /** How many host settings and profiles change. */
  pending: number;
}

/** What a profile is to become, for `apply`. */
export interface Target {
  declared: DeclaredProfile;
  /** The whole `.env` to be (the port variable included), existing keys in their place, new ones after. */
  entries: EnvEntries;
  limits: Limits;
  probe: ProfileSettings;
  /** An addition without `port` takes one from the range when it is made. */
  portRequested: number | null;
}

const PROBE_KEYS: [keyof ProfileSettings, string][] = [
  ["probe", "probe"],
  ["healthPath", "health-path"],
  ["probeTimeoutMs", "probe-timeout"],
];

function settingChanges<T extends object>(keys: [keyof T, string][], before: T, after: T): SettingChange[] {
  const text = (v: unknown) => (v === undefined ? null : String(v));
  return keys.filter(([k]) => text(before[k]) !== text(after[k])).map(([k, label]) => ({ key: label, before: text(before[k]), after: text(after[k]) }));
}

/** What `apply` follows: the plan, each profile's target, and config.ini as the host settings make it. */
export interface PlannedManifest {
  plan: ManifestPlan;
  targets: Map<string, Target>;
  config: Config;
  /** What `initHost` takes to make the host settings so. */
  host: Pick<ReturnType<typeof withHostSettings>, "settings" | "policy">;
}

/**
 * The plan for `manifest` against what exists; `prune` removes profiles it does not name. Profiles are
 * planned against config.ini as the manifest's host settings make it (its port variable, range and
 * unique keys); what is on disk is read as config.ini says now.
 */
export async function planManifest(ctx: Context, current: Config, manifest: Manifest, prune: boolean): Promise<PlannedManifest> {
  const host = withHostSettings(current, manifest.host);
  // Keys the manifest names secret are masked in this plan already, as config.ini's are.
  const secretKeys = manifest.host.find((h) => h.key === "secret-keys");
  if (secretKeys) setSecretNames([...current.secretKeys, ...(secretKeys.value as string[])]);
  const config = host.config;
  const existing = await listProfiles(ctx.paths);
  await checkHostNow(ctx, manifest, host.changes, existing);
  const declaredNames = new Set(manifest.profiles.map((p) => p.name));
  const states = new Map((await inspectProfiles(ctx, current, existing, { fresh: true })).map((s) => [s.name, s]));
  const recorded = await recordedPorts(ctx.paths, current.portVar);
  const removed = prune ? existing.filter((n) => !declaredNames.has(n)) : [];
  assertDistinctPorts(manifest);

  const changes: ProfileChange[] = [];
  const targets = new Map<string, Target>();
  const taken = new Set(manifest.profiles.map((p) => p.port).filter((p): p is number => p !== null));
  for (const d of manifest.profiles) {
    const state = states.get(d.name);
    const exists = state !== undefined;
    const before: EnvEntries = exists ? await readEnv(ctx.paths, d.name) : new Map();
    const portBefore = exists ? portOf(before, current.portVar) : null;
    const entries = desiredEntries(d, before, config.portVar, d.port ?? portBefore, manifest.file);
    const port = d.port ?? portBefore;
    if (port !== null && port !== portBefore) await assertPortOpen(ctx, d, port, recorded, removed, manifest, state?.pid ?? null);
    const limitsBefore = exists ? await readLimits(ctx.paths, d.name) : {};
    const probeBefore = exists ? await readProfileSettings(ctx.paths, d.name) : {};
    const env = exists ? diffEntries(before, entries) : [];
    const limits = settingChanges(LIMIT_KEYS.map((k) => [k, k]), limitsBefore, d.limits);
    const probe = settingChanges(PROBE_KEYS, probeBefore, d.probe);
    const enabledBefore = exists ? state.enabled : null;
    let shownPort = port;
    if (shownPort === null) {
      // What `add` would pick now, leaving out ports the manifest gives others.
      shownPort = await allocatePort(config, new Map([...recorded, ...[...taken].map((p): [number, string] => [p, "manifest"])]), await ctx.ports());
      taken.add(shownPort);
    }
    const neverGated = exists && d.enabled && (await history(ctx.paths, d.name)).generations.every((g) => !g.knownGood);
    const changed = !exists || env.length > 0 || limits.length > 0 || probe.length > 0 || enabledBefore !== d.enabled || neverGated;
    const restart = d.enabled && (!exists || env.length > 0 || enabledBefore === false || neverGated);
    changes.push({ name: d.name, action: !exists ? "add" : changed ? "change" : "none", portBefore, port: shownPort, env, limits, probe, enabledBefore, enabled: d.enabled, restart, neverGated });
    targets.set(d.name, { declared: d, entries, limits: d.limits, probe: d.probe, portRequested: port });
  }
  // No two profiles as they will be (the manifest's, and those it leaves alone) share a unique key's value.
  const others = await otherProfiles(ctx.paths, new Set([...declaredNames, ...removed]));
  assertDistinctValues(config.uniqueKeys, [...others, ...[...targets].map(([n, t]): [string, EnvEntries] => [n, t.entries])]);
  for (const name of removed) {
    const s = states.get(name)!;
    changes.push({ name, action: "remove", portBefore: s.port, port: null, env: [], limits: [], probe: [], enabledBefore: s.enabled, enabled: false, restart: false, neverGated: false });
  }
  const unmanaged = prune ? [] : existing.filter((n) => !declaredNames.has(n));
  const pending = host.changes.length + changes.filter((c) => c.action !== "none").length;
  return { plan: { file: manifest.file, host: host.changes, profiles: changes, unmanaged, pending }, targets, config, host };
}

/**
 * What `init` checks of a changed host setting only on this host, at the setting's line (exit 2), so that
 * a plan that passes does not fail in apply: a textfile's directory, the gateway program on PATH, a policy
 * key the manager's release knows. The port variable and the env-path change only while there are no
 * profiles: every `.env` names its port in the old variable, and lives where its unit reads it.
 */
async function checkHostNow(ctx: Context, manifest: Manifest, changes: HostChange[], existing: string[]): Promise<void> {
  for (const c of changes) {
    const rule = HOST_SETTINGS.get(c.key)!;
    const v = manifest.host.find((h) => h.key === c.key)!;
    try {
      if (c.key === "port-var" && existing.length > 0) {
        throw new UsageError(`port-var cannot change from ${c.before} while profiles exist (${existing.join(", ")}): each .env carries its port in ${c.before}`);
      }
      if (c.key === "env-path" && existing.length > 0) {
        throw new UsageError(`env-path cannot change while profiles exist (${existing.join(", ")}): their .env files stay where their units read them`);
      }
      if (c.key === "exec" && v.value !== "") execStartFor(String(v.value), ctx.env.PATH);
      if ("policy" in rule && v.value !== null) await assertPolicySupported(await ctx.systemd(), [rule.policy.key]);
      const now = "setting" in rule ? rule.setting.flag?.now : undefined;
      if (now && v.value !== "") await now(c.key, String(v.value));
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      throw new ManifestError(manifest.file, v.line, err.message.replace(/^--/, ""));
    }
  }
}

/**
 * The `.env` a profile is to hold: the port variable, then the manifest's keys, existing keys kept in
 * their place; a `keep` key keeps its value on this host when the manifest gives none.
 */
function desiredEntries(d: DeclaredProfile, before: EnvEntries, portVar: string, port: number | null, file: string): EnvEntries {
  const wanted: EnvEntries = new Map();
  if (port !== null) wanted.set(portVar, String(port));
  for (const [k, v] of d.env) wanted.set(k, v);
  for (const k of d.keep) {
    if (wanted.has(k)) continue;
    const v = before.get(k);
    if (v === undefined) throw new UsageError(`${file}: line ${d.line}: [profile ${d.name}] keeps ${k}, but the profile has no ${k} here and the manifest gives none`, "give it a value: an env-file with it, or KEY = VALUE in the section");
    wanted.set(k, v);
  }
  const out: EnvEntries = new Map();
  for (const [k] of before) if (wanted.has(k)) out.set(k, wanted.get(k)!);
  for (const [k, v] of wanted) if (!out.has(k)) out.set(k, v);
  return out;
}

/** Two profiles of the manifest on one port: exit 5 naming both. */
function assertDistinctPorts(m: Manifest): void {
  const by = new Map<number, DeclaredProfile>();
  for (const p of m.profiles) {
    if (p.port === null) continue;
    const other = by.get(p.port);
    if (other) throw new PortTakenError(p.port, `profile "${other.name}" as well (${m.file}: lines ${other.line} and ${p.line})`, "give each profile its own port in the manifest");
    by.set(p.port, p);
  }
}

/** A port a profile moves to, or a new profile takes: no other profile records it (unless it is removed) and no foreign process listens. */
async function assertPortOpen(ctx: Context, d: DeclaredProfile, port: number, recorded: Map<number, string>, removed: string[], m: Manifest, mainPid: number | null): Promise<void> {
  const owner = recorded.get(port);
  if (owner !== undefined && owner !== d.name && !removed.includes(owner)) {
    const moving = m.profiles.some((p) => p.name === owner);
    throw new PortTakenError(
      port,
      `profile "${owner}" (${m.file}: line ${d.line} gives it to ${d.name})`,
      moving ? `a profile moves only to a free port: first move ${owner} (apply a manifest that moves only it), then apply again` : `give ${d.name} another port, or remove ${owner} (--prune, when the manifest no longer names it)`,
    );
  }
  // A port of a profile --prune removes is held by its gateway until apply stops it, first.
  if (owner === undefined) {
    const listener = mainPid === null ? await (await ctx.ports()).listener(port) : null;
    if (listener) throw new PortTakenError(port, describeListener(listener), `give ${d.name} another port in ${m.file} (line ${d.line})`);
    if (mainPid !== null) {
      const held = await unitPortHolder(ctx, unitName(d.name), port, mainPid);
      if (held.status === "foreign") throw new PortTakenError(port, held.holder, `give ${d.name} another port in ${m.file} (line ${d.line})`);
    }
  }
}
