import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { describeListener } from "../../src/ports/describe.js";
import { ProcPortInspector } from "../../src/ports/proc-listeners.js";

const HEADER4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const HEADER6 =
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const row4 = (sl: number, local: string, remote: string, st: string, inode: number): string =>
  `   ${sl}: ${local} ${remote} ${st} 00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;

// 8080 and 22 listen on v4, 3000 on v6; 8081 (TIME_WAIT) and 50000 (ESTABLISHED) do not listen.
const TCP =
  HEADER4 +
  row4(0, "0100007F:1F90", "00000000:0000", "0A", 1001) +
  row4(1, "00000000:0016", "00000000:0000", "0A", 1002) +
  row4(2, "0100007F:1F90", "0100007F:C350", "01", 1003) +
  row4(3, "0100007F:C350", "0100007F:1F90", "01", 1004);
const TCP6 =
  HEADER6 +
  row4(0, "00000000000000000000000001000000:0BB8", "00000000000000000000000000000000:0000", "0A", 2001) +
  row4(1, "00000000000000000000000000000000:1F91", "00000000000000000000000000000000:0000", "06", 0);

async function writeTree(root: string, files: Record<string, string>, links: Record<string, string> = {}): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
  }
  for (const [rel, target] of Object.entries(links)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await symlink(target, path.join(root, rel));
  }
}

describe("ProcPortInspector on a fake /proc", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "ports-test-"));
    await writeTree(
      path.join(root, "full"),
      {
        "net/tcp": TCP,
        "net/tcp6": TCP6,
        "4321/comm": "fakegw\n",
        "99/cmdline": "/usr/sbin/sshd\0-D\0",
        "55/comm": "nofds\n",
        // Decoy: not a pid directory, so its fds must not be scanned.
        "self/comm": "decoy\n",
      },
      {
        "4321/fd/0": "pipe:[9]",
        "4321/fd/5": "socket:[2001]",
        "99/fd/3": "socket:[1002]",
        "self/fd/7": "socket:[1001]",
      },
    );
    await writeTree(path.join(root, "v4only"), { "net/tcp": TCP });
    await mkdir(path.join(root, "empty"));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("listeningPorts takes LISTEN rows of tcp and tcp6 only", async () => {
    const ports = await new ProcPortInspector(path.join(root, "full")).listeningPorts();
    assert.deepEqual([...ports].sort((a, b) => a - b), [22, 3000, 8080]);
  });

  test("a missing tcp6 or tcp file counts as empty", async () => {
    assert.deepEqual([...(await new ProcPortInspector(path.join(root, "v4only")).listeningPorts())].sort(), [22, 8080]);
    assert.equal((await new ProcPortInspector(path.join(root, "empty")).listeningPorts()).size, 0);
    assert.equal(await new ProcPortInspector(path.join(root, "empty")).listener(8080), null);
  });

  test("listener names the process holding the socket inode, command from comm", async () => {
    const l = await new ProcPortInspector(path.join(root, "full")).listener(3000);
    assert.deepEqual(l, { port: 3000, pid: 4321, command: "fakegw" });
  });

  test("without comm, the command is argv0's base name", async () => {
    const l = await new ProcPortInspector(path.join(root, "full")).listener(22);
    assert.deepEqual(l, { port: 22, pid: 99, command: "sshd" });
  });

  test("a listener whose owner is not visible has no pid", async () => {
    const l = await new ProcPortInspector(path.join(root, "full")).listener(8080);
    assert.deepEqual(l, { port: 8080 });
  });

  test("an fd directory this user cannot read is skipped", async (t) => {
    // chmod 000 stops no one when tests run as root; a file where the directory should be fails readdir for all.
    const fdDir = path.join(root, "full", "4321", "fd");
    await rename(fdDir, `${fdDir}.hidden`);
    await writeFile(fdDir, "");
    t.after(async () => {
      await rm(fdDir);
      await rename(`${fdDir}.hidden`, fdDir);
    });
    const l = await new ProcPortInspector(path.join(root, "full")).listener(3000);
    assert.deepEqual(l, { port: 3000 });
  });

  test("a snapshot answers like listener(), from one reading that later changes do not touch", async () => {
    const live = new ProcPortInspector(path.join(root, "full"));
    const snap = await live.snapshot();
    for (const port of [22, 3000, 8080, 9999]) assert.deepEqual(await snap.listener(port), await live.listener(port), String(port));
    assert.deepEqual([...(await snap.listeningPorts())].sort((a, b) => a - b), [22, 3000, 8080]);
    const tcp = path.join(root, "full", "net", "tcp");
    await rename(tcp, `${tcp}.away`);
    try {
      assert.equal(await live.listener(22), null);
      assert.deepEqual(await snap.listener(22), { port: 22, pid: 99, command: "sshd" });
    } finally {
      await rename(`${tcp}.away`, tcp);
    }
  });

  test("ports that are not in LISTEN state have no listener", async () => {
    const inspector = new ProcPortInspector(path.join(root, "full"));
    assert.equal(await inspector.listener(8081), null);
    assert.equal(await inspector.listener(50000), null);
    assert.equal(await inspector.listener(9999), null);
  });
});

describe("ProcPortInspector reads a table only as far as its listeners go", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "ports-partial-"));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("rows after the first row of another state are not read: the kernel lists every listener first", async () => {
    // A LISTEN row after a connection is what no kernel writes; it stands for the hash walk the read skips.
    const tcp = HEADER4 + row4(0, "0100007F:1F90", "00000000:0000", "0A", 1) + row4(1, "0100007F:1F90", "0100007F:C350", "06", 0) + row4(2, "0100007F:1F91", "00000000:0000", "0A", 2);
    await writeTree(path.join(root, "order"), { "net/tcp": tcp });
    assert.deepEqual([...(await new ProcPortInspector(path.join(root, "order")).listeningPorts())], [8080]);
  });

  test("a table longer than one read, its lines cut between reads, gives every listener", async () => {
    // 400 rows of ~150 bytes: some 60 KB, read 16 KB at a time.
    const ports = Array.from({ length: 400 }, (_, i) => 20000 + i);
    const tcp = HEADER4 + ports.map((p, i) => row4(i, `0100007F:${p.toString(16).toUpperCase()}`, "00000000:0000", "0A", 5000 + i)).join("") + row4(400, "0100007F:1F90", "0100007F:C350", "01", 9);
    await writeTree(path.join(root, "long"), { "net/tcp": tcp });
    assert.deepEqual([...(await new ProcPortInspector(path.join(root, "long")).listeningPorts())], ports);
  });

  test("tcp6 is skipped only when sockstat6 says no IPv6 TCP socket is in use", async () => {
    await writeTree(path.join(root, "none6"), { "net/tcp": TCP, "net/tcp6": TCP6, "net/sockstat6": "TCP6: inuse 0\nUDP6: inuse 0\n" });
    await writeTree(path.join(root, "some6"), { "net/tcp": TCP, "net/tcp6": TCP6, "net/sockstat6": "TCP6: inuse 10\nUDP6: inuse 0\n" });
    const sorted = async (dir: string) => [...(await new ProcPortInspector(path.join(root, dir)).listeningPorts())].sort((a, b) => a - b);
    assert.deepEqual(await sorted("none6"), [22, 8080], "inuse 0: tcp6 (which lists 3000 here) is not read");
    assert.deepEqual(await sorted("some6"), [22, 3000, 8080]);
  });
});

describe("ProcPortInspector.holders on a fake /proc", () => {
  let root: string;
  // 8082 listens on two addresses, one socket held by pid 77 and one by nobody visible; 8083's socket is
  // shared by pids 3 and 77 (a forked child keeps it).
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "holders-test-"));
    const tcp = HEADER4 + row4(0, "0100007F:1F92", "00000000:0000", "0A", 3001) + row4(1, "0200007F:1F92", "00000000:0000", "0A", 3002) + row4(2, "0100007F:1F93", "00000000:0000", "0A", 3003);
    await writeTree(root, { "net/tcp": tcp, "77/comm": "gw\n", "3/comm": "child\n" }, { "77/fd/4": "socket:[3001]", "77/fd/5": "socket:[3003]", "3/fd/6": "socket:[3003]" });
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("every listening socket of the port: one entry per process, one without a pid for the unseen", async () => {
    const inspector = new ProcPortInspector(root);
    assert.deepEqual(await inspector.holders(8082), [{ port: 8082, pid: 77, command: "gw" }, { port: 8082 }]);
    assert.deepEqual(await inspector.holders(9999), []);
    assert.deepEqual(await (await inspector.snapshot()).holders(8082), [{ port: 8082, pid: 77, command: "gw" }, { port: 8082 }]);
  });

  test("the pids given first are looked into first", async () => {
    const inspector = new ProcPortInspector(root);
    assert.deepEqual(await inspector.holders(8083, [77]), [{ port: 8083, pid: 77, command: "gw" }]);
    assert.deepEqual(await inspector.holders(8083, [3]), [{ port: 8083, pid: 3, command: "child" }]);
  });

  test("a snapshot looks into the pids given first too, and into all of /proc for a socket they do not hold", async () => {
    const inspector = new ProcPortInspector(root);
    assert.deepEqual(await (await inspector.snapshot()).holders(8083, [77]), [{ port: 8083, pid: 77, command: "gw" }]);
    assert.deepEqual(await (await inspector.snapshot()).holders(8083, [3]), [{ port: 8083, pid: 3, command: "child" }]);
    // 8082's second socket is nobody's that this user sees: pid 3 given first does not hold either, the whole scan finds 77's.
    const snap = await inspector.snapshot();
    assert.deepEqual(await snap.holders(8082, [3]), [{ port: 8082, pid: 77, command: "gw" }, { port: 8082 }]);
  });

  test("a snapshot asks afresh about a socket no process holds: it may have closed since the table was read", async () => {
    const tcp = path.join(root, "net", "tcp");
    const before = await readFile(tcp, "utf8");
    const snap = await new ProcPortInspector(root).snapshot();
    try {
      // 8082's second socket (3002) has no visible holder; now it is gone from the table too.
      await writeFile(tcp, before.split("\n").filter((l) => !l.includes(" 3002 ")).join("\n"));
      assert.deepEqual(await snap.holders(8082, [77]), [{ port: 8082, pid: 77, command: "gw" }]);
    } finally {
      await writeFile(tcp, before);
    }
    // Still in the table, still nobody's that this user sees: the same answer as before.
    assert.deepEqual(await (await new ProcPortInspector(root).snapshot()).holders(8082, [77]), [{ port: 8082, pid: 77, command: "gw" }, { port: 8082 }]);
  });
});

describe("ProcPortInspector on this host's /proc", () => {
  async function listenOn(host: string): Promise<net.Server> {
    const server = net.createServer();
    server.listen(0, host);
    await Promise.race([
      once(server, "listening"),
      once(server, "error").then(([e]) => Promise.reject(e as Error)),
    ]);
    return server;
  }

  test("finds this process listening on a v4 port", async (t) => {
    const server = await listenOn("127.0.0.1");
    t.after(() => server.close());
    const { port } = server.address() as AddressInfo;
    const inspector = new ProcPortInspector();
    assert.ok((await inspector.listeningPorts()).has(port));
    const l = await inspector.listener(port);
    assert.equal(l?.port, port);
    assert.equal(l?.pid, process.pid);
    assert.ok(typeof l?.command === "string" && l.command.length > 0);
  });

  test("finds this process listening on a v6 port", async (t) => {
    let server: net.Server;
    try {
      server = await listenOn("::1");
    } catch (err) {
      t.skip(`no IPv6 loopback here: ${(err as NodeJS.ErrnoException).code}`);
      return;
    }
    t.after(() => server.close());
    const { port } = server.address() as AddressInfo;
    const l = await new ProcPortInspector().listener(port);
    assert.equal(l?.pid, process.pid);
  });

  test("finds a listener made after many connections: the kernel lists listeners before connections", async (t) => {
    // 100 connections are 200 rows, more than the first read of /proc/net/tcp holds.
    const first = await listenOn("127.0.0.1");
    t.after(() => first.close());
    const sockets: net.Socket[] = [];
    t.after(() => sockets.forEach((s) => s.destroy()));
    for (let i = 0; i < 100; i++) {
      const s = net.connect((first.address() as AddressInfo).port, "127.0.0.1");
      sockets.push(s);
      await once(s, "connect");
    }
    const second = await listenOn("127.0.0.1");
    t.after(() => second.close());
    const { port } = second.address() as AddressInfo;
    const l = await new ProcPortInspector().listener(port);
    assert.equal(l?.pid, process.pid);
  });

  test("a port closed again has no listener and is bindable", async () => {
    const server = await listenOn("127.0.0.1");
    const { port } = server.address() as AddressInfo;
    const inspector = new ProcPortInspector();
    assert.equal(await inspector.bindable(port), false);
    await new Promise((r) => server.close(r));
    assert.equal(await inspector.listener(port), null);
    assert.equal(await inspector.bindable(port), true);
  });
});

describe("describeListener", () => {
  test("names a visible process", () => {
    assert.equal(describeListener({ port: 1, pid: 1234, command: "node" }), "process 1234 (node)");
    assert.equal(describeListener({ port: 1, pid: 1234 }), "process 1234");
  });
  test("admits when the owner is hidden", () => {
    assert.equal(describeListener({ port: 1 }), "another process (not visible to this user)");
  });
});
