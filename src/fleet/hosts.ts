/**
 * The hosts a command runs on: `--host [USER@]HOST[:PORT]` (repeatable, comma-separated, `@group`) and
 * `--hosts-file FILE` (one host a line, or an Ansible-style INI inventory). A host is handed to the user's
 * own ssh, which resolves aliases, keys and known hosts from ~/.ssh/config.
 */
import { UsageError } from "../errors.js";
import { readInput, readProblem } from "../store/read-input.js";

/** One host: `name` is how output names it; `destination`, `user` and `port` are what ssh is given. */
export interface Host {
  name: string;
  destination: string;
  user?: string;
  port?: number;
}

// A destination never starts with "-": ssh would read it as an option (`-oProxyCommand=...`).
const SPEC = /^(?:([A-Za-z_][A-Za-z0-9_.-]*)@)?([A-Za-z0-9][A-Za-z0-9_.-]*|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?$/;
const SPEC_RULE = "[USER@]HOST[:PORT], HOST a name from ~/.ssh/config, a DNS name or an address";

function portOf(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`${what}: port ${text} is not 1-65535`);
  return port;
}

/** `[USER@]HOST[:PORT]` as a Host named by the text itself (exit 2 when it is not one). */
export function parseHostSpec(text: string, what = `--host "${text}"`): Host {
  const m = SPEC.exec(text);
  if (!m) throw new UsageError(`${what} is not a host: want ${SPEC_RULE}`, "see `profiles --help`");
  return { name: text, destination: m[2]!.replace(/^\[|\]$/g, ""), ...(m[1] ? { user: m[1] } : {}), ...(m[3] ? { port: portOf(m[3], what)! } : {}) };
}

/** An inventory: its hosts in file order, and its groups (`[name]` sections, `:children` resolved). */
export interface Inventory {
  hosts: Host[];
  groups: Map<string, Host[]>;
}

// Far deeper than any inventory nests its groups; a chain of thousands overflowed the stack (exit 70).
const MAX_NESTING = 100;

const INVENTORY_VARS = new Set(["ansible_host", "ansible_user", "ansible_port"]);

/** One inventory line: `HOST`, or `ALIAS ansible_host=ADDR ansible_user=U ansible_port=P`. */
function inventoryHost(line: string, where: string): Host {
  const [first, ...vars] = line.split(/\s+/);
  const host = parseHostSpec(first!, `${where}: "${first}"`);
  for (const v of vars) {
    const eq = v.indexOf("=");
    const key = v.slice(0, eq);
    const value = v.slice(eq + 1);
    if (eq < 1 || !INVENTORY_VARS.has(key)) throw new UsageError(`${where}: "${v}" is not one of ${[...INVENTORY_VARS].join(", ")}=VALUE`);
    // A bare IPv6 address is an address here, not HOST:PORT.
    if (key === "ansible_host") host.destination = /^[0-9A-Fa-f]*:[0-9A-Fa-f:.]*$/.test(value) ? value : parseHostSpec(value, `${where}: ansible_host`).destination;
    else if (key === "ansible_user") host.user = parseHostSpec(`${value}@x`, `${where}: ansible_user`).user;
    else host.port = portOf(value, `${where}: ansible_port`);
  }
  return host;
}

/** Parse a hosts file's text; `file` names it in errors (exit 2, with the line). */
export function parseInventory(text: string, file: string): Inventory {
  const hosts = new Map<string, Host>();
  const members = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  let section: { group: string; children: boolean; vars: boolean } | null = null;
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/[#;].*$/, "").trim();
    if (line === "") return;
    const where = `${file} line ${i + 1}`;
    const head = /^\[([A-Za-z0-9_-]+)(:children|:vars)?\]$/.exec(line);
    // Ansible's variables are Ansible's: skipped, as a section of their own.
    if (head?.[2] === ":vars") {
      section = { group: "", children: false, vars: true };
      return;
    }
    if (head) {
      section = { group: head[1]!, children: Boolean(head[2]), vars: false };
      (head[2] ? children : members).set(head[1]!, (head[2] ? children : members).get(head[1]!) ?? []);
      return;
    }
    if (line.startsWith("[")) throw new UsageError(`${where}: "${line}" is not a [group], [group:children] or [group:vars] section`);
    if (section?.vars) return;
    if (section?.children) {
      children.get(section.group)!.push(line);
      return;
    }
    const host = inventoryHost(line, where);
    const known = hosts.get(host.name);
    // As Ansible: a host's variables are given once; it may be named bare in other groups.
    if (known && !/\s/.test(line)) {
      if (section) members.get(section.group)!.push(host.name);
      return;
    }
    if (known && JSON.stringify(known) !== JSON.stringify(host)) throw new UsageError(`${where}: host "${host.name}" is given twice, differently`);
    hosts.set(host.name, host);
    if (section) members.get(section.group)!.push(host.name);
  });
  // Each group resolved once: a group named twice by each of its parents doubled the work at every level.
  // Its depth is kept with it, so that the bound holds whichever order the file lists the groups in.
  const resolved = new Map<string, { names: string[]; depth: number }>();
  const tooDeep = (path: string[]) => new UsageError(`${file}: groups nest more than ${MAX_NESTING} deep (${path.slice(0, 3).join(" > ")} > ...)`);
  const resolve = (group: string, seen: string[]): { names: string[]; depth: number } => {
    const done = resolved.get(group);
    if (done) {
      if (seen.length + done.depth > MAX_NESTING) throw tooDeep([...seen, group]);
      return done;
    }
    if (seen.includes(group)) throw new UsageError(`${file}: group "${group}" contains itself (${[...seen, group].join(" > ")})`);
    if (!members.has(group) && !children.has(group)) throw new UsageError(`${file}: group "${seen.at(-1)}" names a group "${group}" the file does not have`);
    if (seen.length === MAX_NESTING) throw tooDeep(seen);
    const kids = (children.get(group) ?? []).map((c) => resolve(c, [...seen, group]));
    const found = { names: [...new Set([...(members.get(group) ?? []), ...kids.flatMap((k) => k.names)])], depth: 1 + Math.max(0, ...kids.map((k) => k.depth)) };
    resolved.set(group, found);
    return found;
  };
  const groups = new Map<string, Host[]>();
  for (const g of new Set([...members.keys(), ...children.keys()])) groups.set(g, resolve(g, []).names.map((n) => hosts.get(n)!));
  groups.set("all", [...hosts.values()]);
  return { hosts: [...hosts.values()], groups };
}

/** Read `--hosts-file` (exit 2 naming the file when it cannot be read or has no host). */
export function readInventory(file: string): Inventory {
  let text: string;
  try {
    text = readInput(file).toString("utf8");
  } catch (err) {
    throw new UsageError(`--hosts-file ${file} ${readProblem(err)}`, "give a file with one host a line, or [group] sections");
  }
  const inventory = parseInventory(text, file);
  if (inventory.hosts.length === 0) throw new UsageError(`--hosts-file ${file} names no host`);
  return inventory;
}

/**
 * The hosts of `--host` and `--hosts-file`, in the order given: `--host` values (each may be a comma list;
 * `@group` a group of the file); `--hosts-file` alone means all its hosts. A host named twice is refused.
 */
export function chooseHosts(given: readonly string[], hostsFile: string | undefined): Host[] {
  const inventory = hostsFile === undefined ? null : readInventory(hostsFile);
  const specs = given.flatMap((g) => g.split(",")).map((s) => s.trim());
  const chosen: Host[] = [];
  if (specs.length === 0 && inventory) chosen.push(...inventory.hosts);
  for (const spec of specs) {
    if (spec === "") throw new UsageError("--host has an empty entry", "give --host a,b or --host a --host b");
    if (spec.startsWith("@")) {
      if (!inventory) throw new UsageError(`--host ${spec} names a group, which needs --hosts-file FILE`);
      const group = inventory.groups.get(spec.slice(1));
      if (!group) throw new UsageError(`--host ${spec}: ${hostsFile} has no group "${spec.slice(1)}"`, `its groups: ${[...inventory.groups.keys()].join(", ")}`);
      chosen.push(...group);
    } else {
      chosen.push(inventory?.hosts.find((h) => h.name === spec) ?? parseHostSpec(spec));
    }
  }
  const seen = new Set<string>();
  for (const h of chosen) {
    if (seen.has(h.name)) throw new UsageError(`host "${h.name}" is named twice: give each host once, in the order to use them`);
    seen.add(h.name);
  }
  return chosen;
}
