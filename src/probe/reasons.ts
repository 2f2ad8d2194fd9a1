/** Short, human reasons for connection errors, shared by the probes. */

const ERROR_REASONS: Record<string, string> = {
  ECONNREFUSED: "refused",
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
