/** The hand-written shell loops that `profiles roll` and `profiles sweep` are compared with. */

/**
 * What an operator writes instead of `profiles roll`: restart a batch of units through systemctl (which
 * waits for the jobs), then poll each one's /health every 20 ms until it answers 200; then the next batch.
 * Arguments: the batch size, then NAME:PORT pairs.
 */
export const ROLL_LOOP = `set -u
batch=$1
shift
pairs=("$@")
for ((i = 0; i < \${#pairs[@]}; i += batch)); do
  units=() ports=()
  for pair in "\${pairs[@]:i:batch}"; do
    units+=("agent-gateway@\${pair%%:*}.service") ports+=("\${pair#*:}")
  done
  systemctl --user restart "\${units[@]}" || exit 1
  deadline=$((EPOCHSECONDS + 30))
  for port in "\${ports[@]}"; do
    until curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/health"; do
      if ((EPOCHSECONDS >= deadline)); then echo "port $port: no 200 from /health within 30 s" >&2; exit 1; fi
      sleep 0.02
    done
  done
done`;

/**
 * What an operator writes instead of `profiles sweep`: one curl per profile, one after the other.
 * Arguments: the ports. It is handed them, so it does less than a sweep (no unit states, no files).
 */
export const CURL_SWEEP = `set -u
unhealthy=0
for port in "$@"; do
  curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$port/health" || { echo "port $port: unhealthy" >&2; unhealthy=$((unhealthy + 1)); }
done
echo "$# checked, $unhealthy unhealthy"
((unhealthy == 0))`;

/** `bash -c SCRIPT` with positional arguments. */
export function bash(script: string, args: readonly string[]): string[] {
  return ["bash", "-c", script, "bench", ...args];
}
