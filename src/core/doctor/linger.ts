/** Check: lingering is enabled, so that profiles keep running after the user logs out. */
import fs from "node:fs/promises";
import path from "node:path";
import { fine, type Check } from "./types.js";

/**
 * logind reads its `Linger` property from this very file (`user_check_linger_file()` in
 * logind-user.c), so the file answers on every host, with or without a system bus.
 */
export const lingerCheck: Check = {
  id: "linger",
  title: "lingering enabled",
  needs: [],
  async run(f) {
    const file = path.join(f.lingerDir, f.user);
    const present = await fs.access(file).then(() => true, () => false);
    if (present) return fine(`${file} exists: profiles keep running after ${f.user} logs out`);
    return {
      ok: "",
      problems: [{ message: `${file} does not exist: profiles stop when ${f.user} logs out`, fix: `sudo loginctl enable-linger ${f.user}` }],
    };
  },
};
