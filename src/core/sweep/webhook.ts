/**
 * The sweep's alert: a JSON summary POSTed to a URL when something is unhealthy. A URL's `user:password@`
 * is sent as HTTP Basic auth (fetch refuses a URL that carries it), and the URL is never shown whole.
 */
import { redactJson, redactText } from "../../redact.js";
import { noteUrlSecrets } from "../../secrets.js";
import type { SweepResult } from "./types.js";

/** What became of the POST. `url` is redacted: webhook paths often carry a token. */
export interface WebhookOutcome {
  url: string;
  sent: boolean;
  status: number | null;
  error: string | null;
}

/** How long the POST may take, connect to last byte. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** `https://hooks.example.com/…`: scheme, host and port only, since paths and queries of webhooks are secrets. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" && !u.search ? "/" : "/…"}`;
  } catch {
    return "(invalid URL)";
  }
}

/** The URL without its userinfo, and that userinfo as an Authorization header (none when it has none). */
export function splitCredentials(url: string): { url: string; headers: Record<string, string> } {
  const u = new URL(url);
  if (u.username === "" && u.password === "") return { url, headers: {} };
  const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64");
  u.username = "";
  u.password = "";
  return { url: u.href, headers: { authorization: `Basic ${basic}` } };
}

/** POST `body` as JSON, redacted like every output; never throws: a failed POST is an outcome, and the sweep's result stands. */
export async function postWebhook(url: string, body: unknown, timeoutMs = WEBHOOK_TIMEOUT_MS): Promise<WebhookOutcome> {
  const shown = redactUrl(url);
  // Whatever an error below quotes of the URL is masked too.
  noteUrlSecrets(url);
  try {
    const target = splitCredentials(url);
    const res = await fetch(target.url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "agent-profiles-sweep", ...target.headers },
      body: redactJson(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "error",
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { url: shown, sent: true, status: res.status, error: null };
    return { url: shown, sent: false, status: res.status, error: `status ${res.status}` };
  } catch (err) {
    return { url: shown, sent: false, status: null, error: redactText(fetchError(err, timeoutMs)) };
  }
}

// fetch wraps the socket error in `cause`; its code (ECONNREFUSED, ...) is what people can act on.
function fetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (e.name === "TimeoutError" || e.name === "AbortError") return `no answer within ${timeoutMs} ms`;
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** What the webhook receives: who, where, and what is wrong; `text` suits chat webhooks (Slack, Mattermost). */
export function webhookSummary(r: SweepResult, user: string) {
  const bad = r.profiles.filter((p) => !p.healthy);
  const text = `agent-profiles on ${r.host} (${user}): ${bad.length} of ${r.total} profiles unhealthy: ${bad.map((p) => `${p.name} (${p.problems[0] ?? "?"})`).join(", ")}`;
  return {
    source: "agent-profiles",
    text,
    host: r.host,
    user,
    time: r.time,
    total: r.total,
    healthy: r.healthy,
    unhealthy: bad.map((p) => ({ name: p.name, condition: p.condition, problems: p.problems, action: p.action })),
  };
}
