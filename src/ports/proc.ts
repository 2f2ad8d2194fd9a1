/** Ports in use on this host, read from /proc: the only module that parses /proc/net/tcp*. */
import { readdirSync, readlinkSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { readProc } from "../proc/read.js";
import getPort, { clearLockedPorts } from "get-port";
import type { Listener, PortInspector } from "./types.js";

// TCP_LISTEN in include/net/tcp_states.h, as /proc/net/tcp prints it.
const STATE_LISTEN = "0A";
const TABLES = ["net/tcp", "net/tcp6"] as const;

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
    const rows = (await this.listenRows()).filter((r) => r.port === port);
    if (rows.length === 0) return null;
    // The kernel shows inode 0 for sockets already detached from a file; no fd can point at those.
    const inodes = new Set(rows.map((r) => r.inode).filter((i) => i !== "0"));
    const owner = inodes.size > 0 ? await this.findOwner(inodes) : undefined;
    if (owner === undefined) return { port };
    const command = await this.commandOf(owner);
    return command === undefined ? { port, pid: owner } : { port, pid: owner, command };
  }

  /** A bind test through get-port; a port it would not hand out as asked counts as taken. */
  async bindable(port: number): Promise<boolean> {
    // get-port withholds ports it returned earlier in this process; only the bind itself matters here.
    clearLockedPorts();
    return (await getPort({ port })) === port;
  }

  async snapshot(): Promise<PortInspector> {
    const rows = await this.listenRows();
    let owners: Promise<Map<string, number>> | undefined;
    const listener = async (port: number): Promise<Listener | null> => {
      const mine = rows.filter((r) => r.port === port);
      if (mine.length === 0) return null;
      owners ??= this.socketOwners();
      const map = await owners;
      const owner = mine.map((r) => map.get(r.inode)).find((pid) => pid !== undefined);
      if (owner === undefined) return { port };
      const command = await this.commandOf(owner);
      return command === undefined ? { port, pid: owner } : { port, pid: owner, command };
    };
    const frozen: PortInspector = {
      listener,
      listeningPorts: async () => new Set(rows.map((r) => r.port)),
      bindable: (port) => this.bindable(port),
      snapshot: async () => frozen,
    };
    return frozen;
  }

  /** Socket inode to pid, over every process this user may look into. */
  private async socketOwners(): Promise<Map<string, number>> {
    return scanSocketOwners(this.procRoot);
  }

  private async listenRows(): Promise<ListenRow[]> {
    const texts = await Promise.all(TABLES.map((t) => readIfExists(path.join(this.procRoot, t))));
    return texts.flatMap(parseListenRows);
  }

  private async findOwner(inodes: Set<string>): Promise<number | undefined> {
    const owners = scanSocketOwners(this.procRoot, inodes);
    return [...inodes].map((i) => owners.get(i)).find((pid) => pid !== undefined);
  }

  private async commandOf(pid: number): Promise<string | undefined> {
    const dir = path.join(this.procRoot, String(pid));
    const comm = readProc(path.join(dir, "comm")).trim();
    if (comm !== "") return comm;
    const argv0 = readProc(path.join(dir, "cmdline")).split("\0", 1)[0] ?? "";
    return argv0 === "" ? undefined : path.basename(argv0);
  }
}

/**
 * Socket inode to pid over every process this user may look into, stopping once every inode in `only`
 * is found. Synchronous on purpose: /proc never waits on a disk, and a sweep of 200 gateways reads some
 * 4,000 fd links, where a thread-pool hop per call cost ~100 ms against ~15 ms.
 */
function scanSocketOwners(procRoot: string, only?: ReadonlySet<string>): Map<string, number> {
  const owners = new Map<string, number>();
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return owners;
  }
  for (const name of entries) {
    if (!/^[0-9]+$/.test(name)) continue;
    const fdDir = path.join(procRoot, name, "fd");
    let fds: string[];
    try {
      fds = readdirSync(fdDir);
    } catch {
      // Another user's process (EACCES), or one that exited since readdir (ENOENT).
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(path.join(fdDir, fd));
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (!m || owners.has(m[1]!) || (only && !only.has(m[1]!))) continue;
      owners.set(m[1]!, Number(name));
      if (only && owners.size === only.size) return owners;
    }
  }
  return owners;
}

async function readIfExists(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    // A kernel without IPv6 has no tcp6 table; that is "no listeners", not an error.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
}

// Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
function parseListenRows(text: string): ListenRow[] {
  const rows: ListenRow[] = [];
  for (const line of text.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    const local = cols[1];
    const state = cols[3];
    const inode = cols[9];
    if (local === undefined || state !== STATE_LISTEN || inode === undefined) continue;
    const hexPort = local.slice(local.lastIndexOf(":") + 1);
    const port = Number.parseInt(hexPort, 16);
    if (/^[0-9A-Fa-f]{1,4}$/.test(hexPort) && port > 0) rows.push({ port, inode });
  }
  return rows;
}
