/** Short, human reasons for connection errors, shared by the probes. */

/** The reason of a probe whose connection was refused: nothing listens on the port (yet). */
export const REFUSED = "refused";

const ERROR_REASONS: Record<string, string> = {
  ECONNREFUSED: REFUSED,
  ECONNRESET: "connection reset",
  ENOTFOUND: "no such host",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EADDRNOTAVAIL: "address not available",
};

/** `refused`, `connection reset`, ... or the errno code itself. */
export function reasonFor(err: NodeJS.ErrnoException): string {
  if (err.code === undefined) return err.message;
  return ERROR_REASONS[err.code] ?? err.code;
}
