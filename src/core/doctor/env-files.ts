/** Check: systemd loads every profile's `.env` as written (a value that is not UTF-8 fails the whole file, and the start). */
import { readFileSync } from "node:fs";
import { envFile } from "../../paths.js";
import { decodeBytes } from "../../store/bytes.js";
import { parseEnv } from "../../store/envfile.js";
import { fine, type Check, type Problem } from "./types.js";

export const envFilesCheck: Check = {
  id: "env-files",
  title: ".env files load in systemd as written (UTF-8, no line it drops)",
  needs: [],
  async run(f) {
    const problems: Problem[] = [];
    for (const name of f.profiles) {
      const file = envFile(f.ctx.paths, name);
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch {
        continue; // the files check names what cannot be read
      }
      const { problems: lines, refused } = parseEnv(decodeBytes(bytes));
      for (const r of refused) problems.push({ message: `${name}: ${file} line ${r.line}: ${r.message}`, fix: `profiles set ${name} ${r.key}=NEW_VALUE` });
      for (const p of lines) problems.push({ message: `${name}: ${file} line ${p.line}: ${p.message}`, fix: `\${EDITOR:-vi} +${Math.max(p.line, 1)} ${file}` });
    }
    return problems.length > 0 ? { ok: "", problems } : fine(`${f.profiles.length} .env file(s), each loads as written`);
  },
};
