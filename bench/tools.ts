/** The command lines of every tool the benchmark runs, and which `profiles` verbs exist in this build. */
import path from "node:path";
import { run } from "./exec.js";
import type { SandboxUser } from "../test/helpers/sandbox.js";

/** Where pm2 keeps its daemon's socket, logs and dump: in the user's home, apart from any other pm2. */
export const PM2_HOME_DIR = ".pm2-bench";

/** Command lines of the staged app (a copy every user can read, made by scripts/stage-app.sh). */
export class Tools {
  constructor(readonly appDir: string) {}

  /** `profiles ARGS...`, as the installed bin runs it: through its #! line, which passes node its flags. */
  profiles(...args: string[]): string[] {
    return [path.join(this.appDir, "dist", "src", "cli.cjs"), ...args];
  }

  /** `pm2 ARGS...` from the devDependency. */
  pm2(...args: string[]): string[] {
    return ["node", path.join(this.appDir, "node_modules", "pm2", "bin", "pm2"), ...args];
  }

  /** The reference gateway's entry point; pm2 runs this same file. */
  get gateway(): string {
    return path.join(this.appDir, "dist", "src", "gateway", "main.js");
  }

  /** A fixture of the bench itself (dist/bench/fixtures/NAME.js). */
  fixture(name: string): string {
    return path.join(this.appDir, "dist", "bench", "fixtures", `${name}.js`);
  }

  /** A module of the app's own dependencies, for the start-up breakdown. */
  dependency(name: string): string {
    return path.join(this.appDir, "node_modules", name);
  }
}

/** What pm2 needs in its environment: its own home, and no calls home (no network here, and none wanted). */
export function pm2Env(user: SandboxUser): Record<string, string> {
  return {
    PM2_HOME: path.join(user.home, PM2_HOME_DIR),
    PM2_DISABLE_VERSION_CHECK: "1",
    // Skips the first-run banner and its version check.
    PM2_DISCRETE_MODE: "1",
  };
}

/** A verb of this build of `profiles`: whether it exists, and the long options its --help lists. */
export interface Verb {
  exists: boolean;
  options: Set<string>;
}

/**
 * Asks `profiles VERB --help`. yargs answers an unknown verb's --help with the top-level help and exit 0,
 * so a verb exists only when its own usage line ("profiles VERB ...") comes first.
 */
export async function detectVerb(user: SandboxUser, tools: Tools, verb: string): Promise<Verb> {
  const r = await run(user, tools.profiles(verb, "--help"), { timeoutMs: 30_000 });
  const exists = r.code === 0 && r.stdout.trimStart().startsWith(`profiles ${verb}`);
  const options = new Set(exists ? [...r.stdout.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!) : []);
  return { exists, options };
}
