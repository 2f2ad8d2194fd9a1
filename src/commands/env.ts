import { isSecretKey, maskValue } from "../secrets.js";
import { envFile } from "../paths.js";
import { escapeControls } from "../render/escape.js";
import { parseEnv, quoteValue, type EnvProblem, type EnvRefusal } from "../store/envfile.js";
import { readEnvText } from "../store/profiles.js";
import { defineCommand } from "./command.js";
import { name } from "./options.js";

/** A profile's variables as systemd reads them, secret values masked unless asked for. */
export interface EnvResult {
  name: string;
  file: string;
  variables: Record<string, string>;
  hidden: string[];
  problems: EnvProblem[];
  refused: EnvRefusal[];
}

/** `env`'s text for people: `KEY="value"` lines, then what was hidden and what systemd drops or refuses. */
export function renderEnv(r: EnvResult): string {
  const hidden = new Set(r.hidden);
  const lines = Object.entries(r.variables).map(([k, v]) => (hidden.has(k) ? `${k}=${v}` : `${k}=${quoteValue(v)}`));
  if (r.hidden.length > 0) lines.push(`# hidden: ${r.hidden.join(", ")} (--show-secrets prints them)`);
  for (const p of r.problems) lines.push(`# line ${p.line}: ${p.message}`);
  for (const x of r.refused) lines.push(`# WARNING line ${x.line}: ${x.message}; fix it: \`profiles set ${r.name} ${x.key}=...\` with UTF-8 text, or edit ${r.file}`);
  // Per line: a quoted value may hold a line break, which must not start a line of its own.
  return lines.length > 0 ? lines.map(escapeControls).join("\n") : `# ${r.name}'s .env sets no variables`;
}

export default defineCommand<{ name: string; showSecrets: boolean }>({
  command: "env <name>",
  describe: "A profile's variables as systemd reads them from its .env (secret values hidden unless --show-secrets)",
  options: [name()],
  // config.ini may name more secret keys (`[secrets] keys`): read before anything is masked.
  needs: { config: true, profiles: "name", manager: false },
  builder: (y) =>
    y
      .option("show-secrets", { type: "boolean", default: false, describe: "Print the values of secret keys too (*KEY*, *TOKEN*, *SECRET*, *PASS*, *AUTH*, ..., and config.ini's [secrets] keys)" }),
  async run(args, ctx) {
    const name = args.name;
    const file = envFile(ctx.paths, name);
    // Parsed leniently: this is the command that shows what systemd makes of a file broken by hand. As
    // bytes: a value that is not UTF-8 shows as \xNN, and is warned about, since systemd refuses it.
    const { entries, problems, refused } = parseEnv(readEnvText(ctx.paths, name));
    const hidden = args.showSecrets ? [] : [...entries].filter(([k, v]) => isSecretKey(k) && maskValue(k, v) !== v).map(([k]) => k);
    const masked = new Set(hidden);
    const shown = [...entries].map(([k, v]) => [k, masked.has(k) ? maskValue(k, v) : v] as const);
    for (const r of refused) ctx.progress(`warning: ${file} line ${r.line}: ${r.message}`);
    const data: EnvResult = { name, file, variables: Object.fromEntries(shown), hidden, problems, refused };
    // Shown on purpose with --show-secrets: output redaction would mask them again.
    return { secretsShown: args.showSecrets, data, text: renderEnv(data) };
  },
});
