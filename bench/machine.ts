/** The machine and software a bench ran on, for the report's header. */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Facts quoted at the top of BENCHMARKS.md. */
export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  systemd: string;
  pm2: string;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8" }).split("\n")[0]!.trim();
  } catch {
    return "unknown";
  }
}

/** Reads the machine's facts; `appDir` is the staged app, whose pm2 the bench ran. */
export function describeMachine(appDir: string): Machine {
  const osRelease = fs.existsSync("/etc/os-release") ? fs.readFileSync("/etc/os-release", "utf8") : "";
  const pm2Package = JSON.parse(fs.readFileSync(path.join(appDir, "node_modules", "pm2", "package.json"), "utf8")) as { version: string };
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: os.totalmem() / 2 ** 30,
    kernel: `${os.type()} ${os.release()}`,
    os: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? "unknown",
    node: process.version,
    systemd: firstLine("systemctl", ["--version"]),
    pm2: pm2Package.version,
  };
}
