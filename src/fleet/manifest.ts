/**
 * A manifest across hosts: `hosts = a, b` in a `[profile NAME]` section says which hosts run it (none: every
 * host of the command). Each host is sent its own part on stdin (`plan -f -`, `apply -f -`): the lines of
 * other hosts' profiles and the `hosts` lines blanked, so that every line keeps its number for the host's
 * errors. `env-file` is read on each host, so it must be absolute. `export --host` merges the hosts' own.
 */
import path from "node:path";
import { UsageError } from "../errors.js";
import { HOST_SECTION_RE, ManifestError, PROFILE_RE, readManifestText } from "../core/manifest/parse.js";
import { scanSections, type ManifestSection } from "../core/manifest/lines.js";

/** The hosts a section names, or null when it names none (every host). */
function hostsOf(s: ManifestSection): string[] | null {
  const e = s.entries.find((x) => x.key === "hosts");
  return e ? e.value.split(/[\s,]+/).filter(Boolean) : null;
}

/** The host a `[host NAME]` section is for, or null for another section. */
function hostSectionOf(s: ManifestSection): string | null {
  return HOST_SECTION_RE.exec(s.header)?.[1]!.trim() ?? null;
}

/** A manifest read for hosts: its text, and what each host's part is made from. */
export interface FleetManifest {
  file: string;
  text: string;
  sections: ManifestSection[];
}

/** Read a manifest on the driving machine, with the checks that only make sense there (exit 2 naming the line). */
export function readFleetManifest(file: string): FleetManifest {
  const text = readManifestText(file);
  const sections = scanSections(text);
  if (!Array.isArray(sections)) throw new ManifestError(file, sections.line, sections.message);
  for (const s of sections) {
    const hosts = s.entries.find((e) => e.key === "hosts");
    if (hosts && !PROFILE_RE.test(s.header)) throw new ManifestError(file, hosts.line, "`hosts` belongs in a [profile NAME] section");
    if (hosts && (hostsOf(s) ?? []).length === 0) throw new ManifestError(file, hosts.line, "`hosts` names no host: give them as a, b (or leave the line out: every host)");
    const envFile = s.entries.find((e) => e.key === "env-file");
    if (envFile && !path.isAbsolute(envFile.value)) throw new ManifestError(file, envFile.line, `env-file "${envFile.value}" is relative: across hosts each host reads it, so give its absolute path there`);
  }
  return { file, text, sections };
}

/** The names a manifest may call a host by: as given to --host (or its inventory alias), or its address. */
export function hostKeys(h: { name: string; destination: string }): string[] {
  return [...new Set([h.name, h.destination])];
}

/** The hosts the manifest names that are not among `chosen` (their profiles stay as they are this time). */
export function hostsNotChosen(m: FleetManifest, chosen: readonly string[]): string[] {
  const named = m.sections.flatMap((s) => [...(hostsOf(s) ?? []), ...(hostSectionOf(s) ?? [])]);
  return [...new Set(named)].filter((h) => !chosen.includes(h));
}

/** The part of the manifest for the host called `keys` (hostKeys), with every line where it was. */
export function manifestFor(m: FleetManifest, keys: readonly string[]): string {
  const lines = m.text.split(/\r?\n/);
  const blank = (from: number, to: number) => {
    for (let l = from; l <= to; l++) lines[l - 1] = "";
  };
  m.sections.forEach((s, i) => {
    const end = (m.sections[i + 1]?.line ?? lines.length + 1) - 1;
    const forHost = hostSectionOf(s);
    if (forHost !== null && !keys.includes(forHost)) return blank(s.line, end);
    const hosts = hostsOf(s);
    if (hosts === null) return;
    if (!hosts.some((h) => keys.includes(h))) return blank(s.line, end);
    const line = s.entries.find((e) => e.key === "hosts")!.line;
    blank(line, line);
  });
  return lines.join("\n");
}

/** A manifest's text cut into its sections' blocks (header to the line before the next), blank tails trimmed. */
function blocks(text: string): { header: string; lines: string[] }[] {
  const out: { header: string; lines: string[] }[] = [];
  for (const line of text.split("\n")) {
    const head = /^\[([^\]]*)\]/.exec(line.trim());
    if (head) out.push({ header: head[1]!.trim(), lines: [line] });
    else if (out.length > 0) out.at(-1)!.lines.push(line);
  }
  for (const b of out) while (b.lines.length > 1 && b.lines.at(-1)!.trim() === "") b.lines.pop();
  return out;
}

/** Hosts' differing [defaults]: the lines all share in [defaults], each host's others in its `[host NAME]`. */
function splitDefaults(defaults: Map<string, string[]>): string[] {
  const perHost = [...defaults].flatMap(([body, hosts]) => hosts.map((host) => ({ host, lines: body.split("\n").slice(1).filter((l) => l.trim() !== "" && !/^[#;]/.test(l.trim())) })));
  const common = perHost[0]!.lines.filter((l) => perHost.every((h) => h.lines.includes(l)));
  const out = [["[defaults]", ...common].join("\n")];
  for (const { host, lines } of perHost) {
    const own = lines.filter((l) => !common.includes(l));
    if (own.length > 0) out.push([`[host ${host}]`, ...own].join("\n"));
  }
  return out;
}

/**
 * One manifest from each host's `export`: the [defaults] they share, and each profile once with the hosts
 * that run it (`hosts = a, b`); [defaults] lines not every host shares go to `[host NAME]`. Exit 2 when one
 * profile differs between hosts: one manifest cannot say that; export those hosts one at a time.
 */
export function mergeExports(exports: { host: string; text: string }[]): string {
  const defaults = new Map<string, string[]>();
  const profiles = new Map<string, { block: string[]; hosts: string[] }>();
  for (const { host, text } of exports) {
    for (const b of blocks(text)) {
      const body = b.lines.join("\n");
      if (b.header === "defaults") {
        (defaults.get(body) ?? defaults.set(body, []).get(body)!).push(host);
        continue;
      }
      const known = profiles.get(b.header);
      if (!known) profiles.set(b.header, { block: b.lines, hosts: [host] });
      else if (known.block.join("\n") === body) known.hosts.push(host);
      else throw new UsageError(`[${b.header}] is not the same on ${known.hosts.join(", ")} and ${host}: one manifest cannot say both`, "export those hosts one at a time: `profiles export --host HOST`");
    }
  }
  const all = exports.map((e) => e.host);
  // A host whose export has no [defaults] has init's own settings: an empty [defaults], not another host's.
  const without = all.filter((h) => ![...defaults.values()].some((hs) => hs.includes(h)));
  if (without.length > 0) defaults.set("[defaults]", [...(defaults.get("[defaults]") ?? []), ...without]);
  const out: string[] = defaults.size === 1 ? [...defaults.keys()].filter((d) => d.trim() !== "[defaults]") : splitDefaults(defaults);
  for (const { block, hosts } of profiles.values()) {
    const [head, ...rest] = block;
    out.push([head!, ...(hosts.length === all.length ? [] : [`hosts = ${hosts.join(", ")}`]), ...rest].join("\n"));
  }
  return out.join("\n\n") + "\n";
}
