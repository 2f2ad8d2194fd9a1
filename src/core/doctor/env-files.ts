/** Check: systemd loads every profile's `.env` as written (a value that is not UTF-8 fails the whole file, and the start). */
import { readFileSync } from "node:fs";
import { envFile } from "../../paths.js";
import { decodeBytes } from "../../store/bytes.js";
import { parseEnv } from "../../store/envfile.js";
import { eachProfile, verdict, type Check } from "./types.js";

export const envFilesCheck: Check = {
  id: "env-files",
  title: ".env files load in systemd as written (UTF-8, no line it drops)",
  needs: [],
  async run(f) {
    const problems = await eachProfile(f, (name) => {
      const file = envFile(f.ctx.paths, name);
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch {
        return []; // the files check names what cannot be read
      }
      const { problems: lines, refused } = parseEnv(decodeBytes(bytes));
      return [
        ...refused.map((r) => ({ message: `${name}: ${file} line ${r.line}: ${r.message}`, fix: `profiles set ${name} ${r.key}=NEW_VALUE` })),
        ...lines.map((p) => ({ message: `${name}: ${file} line ${p.line}: ${p.message}`, fix: `\${EDITOR:-vi} +${Math.max(p.line, 1)} ${file}` })),
      ];
    });
    return verdict(problems, `${f.profiles.length} .env file(s), each loads as written`);
  },
};
