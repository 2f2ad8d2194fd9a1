/** `plan`, `apply` and `export` across hosts: each host gets its part of the manifest; export merges theirs. */
import { createHash } from "node:crypto";
import type { CommandResult } from "../commands/command.js";
import { UsageError } from "../errors.js";
import { ask, worstCode } from "./answer.js";
import { remoteArgv } from "./argv.js";
import { fleetRoll } from "./fleet-roll.js";
import type { Host } from "./hosts.js";
import { hostKeys, hostsNotChosen, manifestFor, mergeExports, readFleetManifest } from "./manifest.js";
import { hostRows, renderSections } from "./render.js";
import type { Fleet, FleetArgs } from "./run.js";

/** The `-f FILE` of a command line, and the command line reading it from stdin instead. */
function onStdin(argv: readonly string[]): { file: string; argv: string[] } {
  const out = [...argv];
  for (let i = 0; i < out.length; i++) {
    const a = out[i]!;
    if ((a === "-f" || a === "--file") && i + 1 < out.length) {
      const file = out[i + 1]!;
      out[i + 1] = "-";
      return { file, argv: out };
    }
    // `--file=PATH`, `-f=PATH`, and `-fPATH` as yargs reads a short option glued to its value.
    const eq = /^(-f|--file)=(.*)$/.exec(a) ?? /^(-f)([^=-].*)$/.exec(a);
    if (eq) {
      out[i] = `${eq[1]}=-`;
      return { file: eq[2]!, argv: out };
    }
  }
  throw new UsageError("-f needs the manifest's path");
}

/** `plan` (every host at once) or `apply` (paced as `roll --host`) of one manifest, each host its part. */
export async function manifestOnHosts(f: Fleet, verb: "plan" | "apply", argv: readonly string[], hosts: Host[], given: FleetArgs): Promise<CommandResult> {
  const { file, argv: remote } = onStdin(argv);
  if (file === "-") throw new UsageError("-f - across hosts: give the manifest's path, which each host is sent its part of");
  const m = readFleetManifest(file);
  const left = hostsNotChosen(m, hosts.flatMap(hostKeys));
  if (left.length > 0) f.tell(`the manifest names hosts this command leaves out: ${left.join(", ")} (their profiles stay as they are)`);
  const inputFor = (h: Host) => manifestFor(m, hostKeys(h));
  // The host's own [host NAME] section is sent under the name the host reads it by; the file's name is what its errors name.
  const sectionName = (h: Host) => hostKeys(h).find((k) => m.sections.some((s) => s.header === `host ${k}`)) ?? h.name;
  const envFor = (h: Host) => ({ AP_MANIFEST_NAME: file, AP_MANIFEST_HOST: sectionName(h) });
  // --prune removes what a host's part does not declare: a part with no profile at all is a host the manifest missed.
  if (given.prune === true) {
    const empty = hosts.filter((h) => !/^\s*\[\s*profile\s/m.test(inputFor(h)));
    if (empty.length > 0) throw new UsageError(`--prune would remove every profile on ${empty.map((h) => h.name).join(", ")}: the manifest gives ${empty.length > 1 ? "them" : "it"} none`, "name the host in `hosts = ...` lines as the command does, or leave out --prune");
  }
  if (verb === "apply") {
    if (given.yes !== true) {
      throw new UsageError(`applying ${file} across hosts needs --yes; nothing was changed`, `review it with \`profiles plan -f ${file} --host ...\`, then run the same apply with --yes`);
    }
    const prune = given.prune === true ? ["--prune"] : [];
    return fleetRoll(f, argv, hosts, given, {
      args: remoteArgv(remote, true),
      inputFor,
      envFor,
      preflight: ["--json", "plan", "-f", "-", ...prune],
      preflightOk: [0, 16],
      digest: createHash("sha256").update(m.text).digest("hex"),
    });
  }
  const args = remoteArgv(remote, f.json);
  const answers = await Promise.all(hosts.map((h) => ask(f.runner, h, args, { version: f.version, json: f.json, input: inputFor(h), env: envFor(h), progress: f.json ? undefined : f.tell })));
  for (const a of answers) if (a.problem) f.tell(a.problem);
  const exitCode = worstCode(answers);
  return f.json ? { data: hostRows(answers), text: "", exitCode } : { data: null, text: renderSections(answers, []), exitCode };
}

/** One manifest of every host's profiles: `hosts = ...` where a profile does not run on all of them. */
export async function exportHosts(f: Fleet, argv: readonly string[], hosts: Host[]): Promise<CommandResult> {
  const args = remoteArgv(argv, false);
  const answers = await Promise.all(hosts.map((h) => ask(f.runner, h, args, { version: f.version, json: false, progress: f.tell })));
  const failed = answers.filter((a) => a.code !== 0);
  for (const a of failed) f.tell(a.problem ?? `${a.host.name}: export exited ${a.code}`);
  if (failed.length > 0) return { data: hostRows(failed), text: "", exitCode: worstCode(failed) };
  const manifest = mergeExports(answers.map((a) => ({ host: a.host.name, text: a.stdout })));
  return { data: { manifest, hosts: hosts.map((h) => h.name) }, text: manifest.trimEnd() };
}
