/** The reference gateway's settings, read once from its environment. */
import net from "node:net";
import { _default, object, optional, pipe, refine, regex, string, superRefine, transform, trim } from "zod/mini";

/** Settings the gateway runs with; past `loadConfig` they are trusted. */
export interface GatewayConfig {
  host: string;
  port: number;
  /** Unset means no auth; `loadConfig` only allows that on a loopback host. */
  apiKey?: string;
  profile: string;
}

/** Which environment variables hold the port and the host (`--port-var`, `--host-var`). */
export interface ConfigVars {
  portVar: string;
  hostVar: string;
}

/** A config, or every problem found, each as `FIELD: rule`. */
export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; problems: string[] };

/** The variable names used when no flag names others. */
export const DEFAULT_VARS: ConfigVars = { portVar: "PORT", hostVar: "HOST" };

/** The host a gateway binds to when its host variable is unset. */
export const DEFAULT_HOST = "127.0.0.1";

const PORT_RULE = "must be an integer 1-65535";
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

const loopback = new net.BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

/** True for 127.0.0.0/8, ::1 (any spelling, also IPv4-mapped) and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  const family = net.isIP(host);
  if (family === 4) return loopback.check(host, "ipv4");
  // BlockList matches IPv4-mapped v6 (::ffff:127.0.0.1) against the v4 subnet too.
  if (family === 6) return loopback.check(host, "ipv6");
  return false;
}

// An empty `HOST=` in a .env means "not set", not "bind to nothing".
const blankToUndefined = (v: unknown): unknown => (typeof v === "string" && v.trim() === "" ? undefined : v);

// zod/mini with named imports: the gateway runs once per profile, and the full zod API would add
// some 5 MiB to each of them (BENCHMARKS.md).
const envSchema = object({
  port: pipe(
    string({ error: (iss) => (iss.input === undefined ? `is not set; it ${PORT_RULE}` : PORT_RULE) }).check(trim(), regex(/^[0-9]{1,5}$/, PORT_RULE)),
    transform(Number),
  ).check(refine((n: number) => n >= 1 && n <= 65535, PORT_RULE)),
  host: pipe(
    transform(blankToUndefined),
    _default(
      string().check(
        trim(),
        // abort: the loopback rule below has nothing to say about a host that is not one.
        refine((h: string) => net.isIP(h) !== 0 || HOST_NAME.test(h), {
          error: "must be an IP address or a host name (no brackets, no port)",
          abort: true,
        }),
      ),
      DEFAULT_HOST,
    ),
  ),
  apiKey: pipe(transform(blankToUndefined), optional(string())),
  profile: pipe(transform(blankToUndefined), _default(string().check(regex(/^[^\x00-\x1f\x7f]{1,64}$/, "must be 1-64 printable characters")), "default")),
}).check(
  superRefine((c, ctx) => {
    if (c.apiKey === undefined && !isLoopback(c.host)) {
      ctx.addIssue({
        code: "custom",
        path: ["host"],
        message: `${c.host} is not a loopback address and API_KEY is not set: set API_KEY, or use a loopback host (127.0.0.1, ::1, localhost)`,
      });
    }
  }),
);

/** Reads the gateway's settings from `env`; nothing else in the gateway looks at the environment. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, vars: ConfigVars = DEFAULT_VARS): ConfigResult {
  const badVars = (
    [
      ["--port-var", vars.portVar],
      ["--host-var", vars.hostVar],
    ] as const
  )
    .filter(([, name]) => !ENV_NAME.test(name))
    .map(([flag, name]) => `${flag}: "${name}" must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)`);
  if (badVars.length > 0) return { ok: false, problems: badVars };

  const fieldVar: Record<string, string> = {
    port: vars.portVar,
    host: vars.hostVar,
    apiKey: "API_KEY",
    profile: "AGENT_PROFILE",
  };
  const parsed = envSchema.safeParse({
    port: env[vars.portVar],
    host: env[vars.hostVar],
    apiKey: env.API_KEY,
    profile: env.AGENT_PROFILE,
  });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? "");
      return `${fieldVar[field] ?? field}: ${issue.message}`;
    });
    return { ok: false, problems };
  }
  const { host, port, apiKey, profile } = parsed.data;
  return { ok: true, config: apiKey === undefined ? { host, port, profile } : { host, port, apiKey, profile } };
}
