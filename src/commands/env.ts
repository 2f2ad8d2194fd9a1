import fs from "node:fs/promises";
import { isSecretKey, maskValue } from "../secrets.js";
import { envFile } from "../paths.js";
import { escapeControls } from "../render/escape.js";
import { decodeBytes } from "../store/bytes.js";
import { parseEnv, quoteValue } from "../store/envfile.js";
import { assertProfileName } from "../store/names.js";
import { assertProfileExists } from "../store/profiles.js";
import { defineCommand } from "./command.js";

export default defineCommand<{ name: string; showSecrets: boolean }>({
  command: "env <name>",
  describe: "A profile's variables as systemd reads them from its .env (secret values hidden unless --show-secrets)",
  builder: (y) =>
    y
      .positional("name", { type: "string", describe: "Profile name" })
      .option("show-secrets", { type: "boolean", default: false, describe: "Print the values of secret keys too (*KEY*, *TOKEN*, *SECRET*, *PASS*, *AUTH*, ..., and config.ini's [secrets] keys)" })
      .example("$0 env liam", "KEY=\"value\" lines, in systemd's EnvironmentFile= syntax")
      .example("$0 env liam --json --show-secrets", "every value, for scripts"),
  async run(args, ctx) {
    const name = assertProfileName(args.name);
    await assertProfileExists(ctx.paths, name);
    // config.ini may name more secret keys (`[secrets] keys`): read before anything is masked.
    await ctx.config();
    const file = envFile(ctx.paths, name);
    // Parsed leniently: this is the command that shows what systemd makes of a file broken by hand. As
    // bytes: a value that is not UTF-8 shows as \xNN, and is warned about, since systemd refuses it.
    const { entries, problems, refused } = parseEnv(decodeBytes(await fs.readFile(file)));
    const hidden = args.showSecrets ? [] : [...entries].filter(([k, v]) => isSecretKey(k) && maskValue(k, v) !== v).map(([k]) => k);
    const shown = [...entries].map(([k, v]) => [k, hidden.includes(k) ? maskValue(k, v) : v] as const);
    const lines = shown.map(([k, v]) => (hidden.includes(k) ? `${k}=${v}` : `${k}=${quoteValue(v)}`));
    if (hidden.length > 0) lines.push(`# hidden: ${hidden.join(", ")} (--show-secrets prints them)`);
    for (const p of problems) lines.push(`# line ${p.line}: ${p.message}`);
    for (const r of refused) {
      lines.push(`# WARNING line ${r.line}: ${r.message}; fix it: \`profiles set ${name} ${r.key}=...\` with UTF-8 text, or edit ${file}`);
      ctx.progress(`warning: ${file} line ${r.line}: ${r.message}`);
    }
    return {
      // Shown on purpose with --show-secrets: output redaction would mask them again.
      secretsShown: args.showSecrets,
      data: { name, file, variables: Object.fromEntries(shown), hidden, problems, refused },
      // Per line: a quoted value may hold a line break, which must not start a line of its own.
      text: lines.length > 0 ? lines.map(escapeControls).join("\n") : `# ${name}'s .env sets no variables`,
    };
  },
});
