/**
 * HAProxy for the cluster tests and the cluster bench: the binary, the
 * configuration rendered from deploy/haproxy.cfg, its stats page, and the
 * wait until it has bound its listeners.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findBinary } from "./find-binary.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** Path of deploy/haproxy.cfg, the template of every generated configuration. */
export const haproxyTemplatePath = join(root, "deploy", "haproxy.cfg");

/** Path of the haproxy binary; throws when none is found. */
export function haproxyBinary(): string {
  return findBinary("haproxy", "HAPROXY_BIN");
}

/**
 * deploy/haproxy.cfg with one `server` line per node address in place of the
 * lines between `# nodes:begin` and `# nodes:end`, and, with `statsBind`, a
 * stats listener whose CSV is at `/;csv`.
 *
 * @example
 * renderHaproxyConfig(template, { nodes: ["127.0.0.1:9001", "127.0.0.1:9002"] });
 */
export function renderHaproxyConfig(
  template: string,
  opts: { nodes: readonly string[]; statsBind?: string },
): string {
  // Every "# nodes:begin … # nodes:end" block (one per backend) gets the node list.
  const block = /^([ \t]*)# nodes:begin\n[\s\S]*?^[ \t]*# nodes:end\n/gm;
  const match = /^([ \t]*)# nodes:begin$/m.exec(template);
  if (!match) throw new Error("haproxy template: no '# nodes:begin' … '# nodes:end' block");
  const indent = match[1] ?? "    ";
  const servers = opts.nodes.map((addr, i) => `${indent}server node${i + 1} ${addr}\n`).join("");
  let cfg = template.replace(block, `${indent}# nodes:begin\n${servers}${indent}# nodes:end\n`);
  if (opts.statsBind !== undefined) {
    cfg += `\nlisten stats\n    bind ${opts.statsBind}\n    stats enable\n    stats uri /\n    stats refresh 0\n`;
  }
  return cfg;
}

/** One server line of the HAProxy stats. */
export interface BalancerServerStats {
  /** `node1` … */
  readonly name: string;
  /** `UP`, `DOWN`, `UP 1/2`, `no check`, … */
  readonly status: string;
  /** Requests (streams) in progress on the server now. */
  readonly current: number;
  /** Requests the server got in total. */
  readonly total: number;
}

/** Reads the backend servers' lines from HAProxy's stats CSV. */
export async function readBalancerStats(statsUrl: string): Promise<BalancerServerStats[]> {
  const res = await fetch(`${statsUrl}/;csv`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  const [header, ...rows] = text.trim().split("\n");
  const columns = (header ?? "").replace(/^# /, "").split(",");
  const col = (name: string) => columns.indexOf(name);
  return rows
    .map((row) => row.split(","))
    .filter((f) => f[col("pxname")] === "switchboard_nodes" && /^node\d+$/.test(f[col("svname")]!))
    .map((f) => ({
      name: f[col("svname")]!,
      status: f[col("status")]!,
      current: Number(f[col("scur")]),
      total: Number(f[col("stot")]),
    }));
}

/**
 * Waits until HAProxy answers on its stats port (true) or exits (false).
 * HAProxy binds every listener before it serves any, so an answer on the
 * stats port means the frontend is bound too.
 */
export async function balancerBound(
  proc: ChildProcess,
  statsPort: number,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) return false;
    try {
      await fetch(`http://127.0.0.1:${statsPort}/;csv`, { signal: AbortSignal.timeout(2000) });
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`haproxy: stats port ${statsPort} not answering within ${timeoutMs} ms`);
}
