/** Listeners on this host, read from /proc/net/tcp* and the fds of processes: the only module that parses /proc/net/tcp*. */
import { closeSync, openSync, readdirSync, readlinkSync, readSync } from "node:fs";
import path from "node:path";
import { readProc } from "../processes/read.js";
import getPort, { clearLockedPorts } from "get-port";
import type { Listener, PortInspector } from "./types.js";

// TCP_LISTEN in include/net/tcp_states.h, as /proc/net/tcp prints it.
const STATE_LISTEN = "0A";
const TABLES = ["net/tcp", "net/tcp6"] as const;
// "TCP6: inuse N": the TCP sockets of IPv6 (listeners among them) in this network namespace.
const SOCKSTAT6 = "net/sockstat6";

interface ListenRow {
  port: number;
  inode: string;
}

/** Reads listeners from `/proc` (or a fake tree under `procRoot`); holders of other users' sockets stay anonymous. */
export class ProcPortInspector implements PortInspector {
  constructor(private readonly procRoot = "/proc") {}

  /** Every port with a TCP listener (v4 or v6) in this network namespace. */
  async listeningPorts(): Promise<Set<number>> {
    return new Set((await this.listenRows()).map((r) => r.port));
  }

  /** The listener on `port`, naming its process when this user may read that process's fds. */
  async listener(port: number): Promise<Listener | null> {
    return (await this.holders(port))[0] ?? null;
  }

  async holders(port: number, first: readonly number[] = []): Promise<Listener[]> {
    const inodes = socketInodes((await this.listenRows()).filter((r) => r.port === port));
    if (inodes === null) return [];
    return this.named(port, inodes, inodes.size > 0 ? scanSocketOwners(this.procRoot, inodes, first) : new Map());
  }

  /** A bind test through get-port; a port it would not hand out as asked counts as taken. */
  async bindable(port: number): Promise<boolean> {
    // get-port withholds ports it returned earlier in this process; only the bind itself matters here.
    clearLockedPorts();
    return (await getPort({ port })) === port;
  }

  async snapshot(): Promise<PortInspector> {
    const rows = await this.listenRows();
    // Socket inode to pid, as far as looked: first in the pids a caller names (a profile's main PID, where
    // a sweep of 200 finds each listener in a few fd links), all of /proc only for an inode still unseen,
    // and that once. A full scan first read every fd link of every process: ~5,000 for 200 gateways.
    const owners = new Map<string, number>();
    let scannedAll = false;
    const holders = async (port: number, first: readonly number[] = []): Promise<Listener[]> => {
      const inodes = socketInodes(rows.filter((r) => r.port === port));
      if (inodes === null) return [];
      const unseen = (): Set<string> => new Set([...inodes].filter((i) => !owners.has(i)));
      if (!scannedAll && unseen().size > 0 && first.length > 0) {
        const only = unseen();
        const found = new Map<string, number>();
        scanPids(this.procRoot, first.map(String), found, only);
        for (const [inode, pid] of found) owners.set(inode, pid);
      }
      if (!scannedAll && unseen().size > 0) {
        for (const [inode, pid] of scanSocketOwners(this.procRoot)) if (!owners.has(inode)) owners.set(inode, pid);
        scannedAll = true;
      }
      const answer = await this.named(port, inodes, owners);
      // A socket no process holds any more (its process exited after the table was read, as a gateway the
      // manager restarts during a sweep does) reads like another user's: such an answer is asked afresh.
      return answer.some((l) => l.pid === undefined) ? this.holders(port, first) : answer;
    };
    const frozen: PortInspector = {
      listener: async (port) => (await holders(port))[0] ?? null,
      holders,
      listeningPorts: async () => new Set(rows.map((r) => r.port)),
      bindable: (port) => this.bindable(port),
      snapshot: async () => frozen,
    };
    return frozen;
  }

  /** One entry per process holding one of `inodes`, then one without a pid when any socket's process is unseen. */
  private async named(port: number, inodes: ReadonlySet<string>, owners: ReadonlyMap<string, number>): Promise<Listener[]> {
    const pids = [...new Set([...inodes].flatMap((i) => owners.get(i) ?? []))];
    const out: Listener[] = [];
    for (const pid of pids) {
      const command = await this.commandOf(pid);
      out.push(command === undefined ? { port, pid } : { port, pid, command });
    }
    if (inodes.size === 0 || [...inodes].some((i) => !owners.has(i))) out.push({ port });
    return out;
  }

  private async listenRows(): Promise<ListenRow[]> {
    const tables = noTcp6Sockets(this.procRoot) ? TABLES.filter((t) => t !== "net/tcp6") : TABLES;
    return tables.flatMap((t) => readListenRows(path.join(this.procRoot, t)));
  }

  private async commandOf(pid: number): Promise<string | undefined> {
    const dir = path.join(this.procRoot, String(pid));
    const comm = readProc(path.join(dir, "comm")).trim();
    if (comm !== "") return comm;
    const argv0 = readProc(path.join(dir, "cmdline")).split("\0", 1)[0] ?? "";
    return argv0 === "" ? undefined : path.basename(argv0);
  }
}

/** The socket inodes of listen rows, or null when there are no rows. */
function socketInodes(rows: ListenRow[]): Set<string> | null {
  if (rows.length === 0) return null;
  // The kernel shows inode 0 for sockets already detached from a file; no fd can point at those.
  return new Set(rows.map((r) => r.inode).filter((i) => i !== "0"));
}

/**
 * Socket inode to pid over every process this user may look into, the pids in `first` before the rest,
 * stopping once every inode in `only` is found. Synchronous on purpose: /proc never waits on a disk, and
 * a sweep of 200 gateways reads some 4,000 fd links, where a thread-pool hop per call cost ~100 ms
 * against ~15 ms.
 */
function scanSocketOwners(procRoot: string, only?: ReadonlySet<string>, first: readonly number[] = []): Map<string, number> {
  const owners = new Map<string, number>();
  const firstNames = first.map(String);
  if (scanPids(procRoot, firstNames, owners, only)) return owners;
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return owners;
  }
  const seen = new Set(firstNames);
  scanPids(procRoot, entries.filter((name) => /^[0-9]+$/.test(name) && !seen.has(name)), owners, only);
  return owners;
}

/** Adds the sockets of processes `names` (pid directories) to `owners`, in order; true once every inode of `only` is in. */
function scanPids(procRoot: string, names: readonly string[], owners: Map<string, number>, only?: ReadonlySet<string>): boolean {
  for (const name of names) if (scanProcess(procRoot, name, owners, only) && only !== undefined && owners.size === only.size) return true;
  return false;
}

/** Adds the sockets of process `name` to `owners`; true when it found one. */
function scanProcess(procRoot: string, name: string, owners: Map<string, number>, only?: ReadonlySet<string>): boolean {
  const fdDir = path.join(procRoot, name, "fd");
  let fds: string[];
  try {
    fds = readdirSync(fdDir);
  } catch {
    // Another user's process (EACCES), or one that exited since readdir (ENOENT).
    return false;
  }
  let found = false;
  // Newest first: a server's listening socket comes after the fds its runtime opened at start (its
  // accepted connections come after it: a busy one reads those links first, as many as it holds).
  fds.sort((a, b) => Number(b) - Number(a));
  for (const fd of fds) {
    // Every inode looked for is found (`owners` then holds only those): the rest of the links need no read.
    if (only && owners.size === only.size) break;
    let link: string;
    try {
      link = readlinkSync(path.join(fdDir, fd));
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (!m || owners.has(m[1]!) || (only && !only.has(m[1]!))) continue;
    owners.set(m[1]!, Number(name));
    found = true;
  }
  return found;
}

/**
 * The LISTEN rows of a /proc/net/tcp* table, read only as far as they go. The kernel lists listeners
 * first (pending connections have been in the other hash since Linux 4.4), then walks its whole
 * established-connection hash (262,144 buckets on a 24 GiB machine, empty or not) for the rest: reading
 * to the end cost ~7 ms of system time per table, most of what a roll's port checks cost
 * (BENCHMARKS.md). The kernel fills a page per read, so the walk still goes on until the page after the
 * listeners is full: only as far as a page of connection rows where there are that many (a host that
 * probes has its TIME_WAIT rows), to the end where there are fewer. Synchronous, as the fd scan is: a
 * thread-pool hop per page cost more than the read.
 */
function readListenRows(file: string): ListenRow[] {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (err) {
    // A kernel without IPv6 has no tcp6 table; that is "no listeners", not an error.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  try {
    const rows: ListenRow[] = [];
    const page = Buffer.allocUnsafe(16 * 1024);
    let rest = "";
    let header = true;
    for (;;) {
      const n = readSync(fd, page, 0, page.length, null);
      const lines = (rest + page.toString("latin1", 0, n)).split("\n");
      rest = n === 0 ? "" : lines.pop()!;
      for (const line of lines) {
        if (header) {
          header = false;
          continue;
        }
        if (line.trim() === "") continue;
        const row = parseRow(line);
        if (row === null) return rows;
        if (row) rows.push(row);
      }
      if (n === 0) return rows;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether the kernel says it has no IPv6 TCP socket at all, so that tcp6 (whose read walks the same hash
 * to its end when no row of its own is in it) need not be read. False when it cannot tell.
 */
function noTcp6Sockets(procRoot: string): boolean {
  return /^TCP6: inuse 0$/m.test(readProc(path.join(procRoot, SOCKSTAT6)));
}

// Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
/** A listener's port and socket inode; undefined for a row to skip; null for a row of another state, which ends the listeners. */
function parseRow(line: string): ListenRow | undefined | null {
  const cols = line.trim().split(/\s+/);
  const local = cols[1];
  const state = cols[3];
  const inode = cols[9];
  if (state !== undefined && state !== STATE_LISTEN) return null;
  if (local === undefined || inode === undefined) return undefined;
  const hexPort = local.slice(local.lastIndexOf(":") + 1);
  const port = Number.parseInt(hexPort, 16);
  return /^[0-9A-Fa-f]{1,4}$/.test(hexPort) && port > 0 ? { port, inode } : undefined;
}
