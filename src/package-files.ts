import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The installed package's root (the directory holding its package.json), wherever npm put it. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "units"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error("agent-profiles: cannot find the package root (package.json and units/)");
    dir = up;
  }
}

/** The template unit shipped in units/. */
export function templateSource(): string {
  return path.join(packageRoot(), "units", "agent-gateway@.service");
}

/** The compiled reference gateway. */
export function gatewayScript(): string {
  return path.join(packageRoot(), "dist", "src", "gateway", "main.js");
}

/** The package's version, from its own package.json (yargs guesses from the cwd and can miss it). */
export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version?: unknown };
  return typeof pkg.version === "string" ? pkg.version : "unknown";
}
