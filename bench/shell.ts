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

/**
 * What an operator writes instead of `profiles --host`: the same remote command on each host at once
 * through ssh (multiplexed, as `profiles` does), then wait for them all. Arguments: the ssh config, the
 * control socket directory, the remote command line, then the hosts. Their output goes to stdout as it comes.
 */
export const FLEET_SSH = `set -u
config=$1 control=$2 remote=$3
shift 3
pids=()
for host in "$@"; do
  ssh -F "$config" -o BatchMode=yes -o ConnectTimeout=10 -o ControlMaster=auto -o "ControlPath=$control/%C" -o ControlPersist=300 "$host" "$remote" &
  pids+=($!)
done
failed=0
for pid in "\${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
((failed == 0))`;

/** `bash -c SCRIPT` with positional arguments. */
export function bash(script: string, args: readonly string[]): string[] {
  return ["bash", "-c", script, "bench", ...args];
}
