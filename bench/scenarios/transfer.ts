/**
 * Scenario "transfer": one large file through ChatService.Upload and back
 * through ChatService.Download (gRPC over h2c), against a raw node:http2
 * `POST` streamed to disk and `GET` of the same file
 * (bench/servers/raw-h2-upload.ts) — the reference.
 *
 * Per implementation and repetition a fresh server process (pinned to the
 * server CPU) gets a small warm-up transfer, then the measured upload and
 * download, each timed by the load process (bench/load/transfer-client.ts,
 * pinned to the load CPU). The server's peak RSS is its VmHWM, reset
 * (`/proc/<pid>/clear_refs`) before each measured direction so that each row
 * shows that direction's peak. Every repetition checks that the SHA-256 of
 * the downloaded bytes equals that of the uploaded ones (and Switchboard's
 * FileInfo.sha256).
 *
 * @module
 */

import { writeFileSync } from "node:fs";
import { type ServerProcess, startServerProcess } from "../lib/proc.js";
import { addRatios, median } from "../lib/stats.js";
import type { BenchOptions, BenchRow, Scenario, ScenarioResult } from "../lib/types.js";
import { type LoadChild, startLoadChild } from "../load/fanout-child.js";

const mib = 1024 * 1024;

/** One server under test. */
interface Implementation {
  readonly impl: string;
  /** Process name (logs, BENCH_CPU_PROF sub-directory). */
  readonly name: string;
  readonly protocol: "grpc" | "raw";
  readonly script: string;
  readonly args: readonly string[];
  /** Measured in quick runs too (default true). */
  readonly quick?: boolean;
}

const reference = "raw node:http2 + disk";

const implementations: readonly Implementation[] = [
  {
    impl: "switchboard gRPC, sqlite",
    name: "transfer-switchboard-sqlite",
    protocol: "grpc",
    script: "bench/servers/switchboard.ts",
    args: ["--backend", "sqlite"],
  },
  {
    impl: "switchboard gRPC, memory",
    name: "transfer-switchboard-memory",
    protocol: "grpc",
    script: "bench/servers/switchboard.ts",
    args: ["--backend", "memory"],
    quick: false,
  },
  {
    impl: reference,
    name: "transfer-raw-h2",
    protocol: "raw",
    script: "bench/servers/raw-h2-upload.ts",
    args: [],
  },
];

interface UploadResult {
  readonly fileId: string;
  readonly seconds: number;
  readonly sha256: string;
  readonly serverSha256?: string;
  readonly size: number;
}

interface DownloadResult {
  readonly seconds: number;
  readonly sha256: string;
  readonly bytes: number;
}

/** What one direction of one repetition measured. */
interface DirectionSample {
  readonly mibPerSec: number;
  /** Server VmHWM during the transfer; undefined when it could not be reset first. */
  readonly peakRssMiB: number | undefined;
  readonly serverCpuSec: number;
  readonly clientCpuSec: number;
}

/**
 * Resets the peak RSS (VmHWM) of `pid` to its current RSS (Linux ≥ 4.0:
 * `echo 5 > /proc/<pid>/clear_refs`). False when not permitted.
 */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Runs `transfer` and measures the server and the client around it. */
async function measure(
  server: ServerProcess,
  client: LoadChild,
  bytes: number,
  transfer: () => Promise<{ seconds: number }>,
): Promise<DirectionSample> {
  const reset = resetPeakRss(server.pid);
  const serverBefore = server.sample().cpuSec;
  const clientBefore = client.cpuSec();
  const { seconds } = await transfer();
  return {
    mibPerSec: bytes / mib / seconds,
    peakRssMiB: reset ? server.peakRssKiB() / 1024 : undefined,
    serverCpuSec: server.sample().cpuSec - serverBefore,
    clientCpuSec: client.cpuSec() - clientBefore,
  };
}

/** One repetition: fresh server, warm-up, measured upload and download, checks. */
async function repetition(
  opts: BenchOptions,
  impl: Implementation,
  client: LoadChild,
  bytes: number,
  warmupBytes: number,
): Promise<{ upload: DirectionSample; download: DirectionSample }> {
  const server = await startServerProcess({
    name: impl.name,
    script: impl.script,
    args: impl.args,
    cpu: opts.serverCpu,
  });
  try {
    const target = {
      protocol: impl.protocol,
      baseUrl: `http://127.0.0.1:${server.port}`,
      ...(typeof server.info.token === "string" ? { token: server.info.token } : {}),
    };
    const timeoutMs = 60_000 + (bytes / mib) * 1_000;
    const roundTrip = async (size: number) => {
      const up = await client.request<UploadResult>(
        "upload",
        { ...target, bytes: size },
        timeoutMs,
      );
      const down = await client.request<DownloadResult>(
        "download",
        { ...target, fileId: up.fileId },
        timeoutMs,
      );
      return { up, down };
    };
    await roundTrip(warmupBytes);
    let up: UploadResult | undefined;
    let down: DownloadResult | undefined;
    const upload = await measure(server, client, bytes, async () => {
      up = await client.request<UploadResult>("upload", { ...target, bytes }, timeoutMs);
      return up;
    });
    const download = await measure(server, client, bytes, async () => {
      down = await client.request<DownloadResult>(
        "download",
        { ...target, fileId: up!.fileId },
        timeoutMs,
      );
      return down;
    });
    checkIntegrity(impl, bytes, up!, down!);
    return { upload, download };
  } catch (e) {
    throw new Error(`${impl.impl}: ${(e as Error).message}\n${server.stderrTail().trim()}`, {
      cause: e,
    });
  } finally {
    await server.stop();
  }
}

/** Throws unless sizes and SHA-256 of sent, stored and received bytes agree. */
function checkIntegrity(
  impl: Implementation,
  bytes: number,
  up: UploadResult,
  down: DownloadResult,
): void {
  const problems: string[] = [];
  if (up.size !== bytes) problems.push(`server stored ${up.size} of ${bytes} bytes`);
  if (down.bytes !== bytes) problems.push(`downloaded ${down.bytes} of ${bytes} bytes`);
  if (down.sha256 !== up.sha256) problems.push("sha256 of the download differs from the upload");
  if (up.serverSha256 !== undefined && up.serverSha256 !== up.sha256) {
    problems.push("FileInfo.sha256 differs from the uploaded bytes");
  }
  if (problems.length > 0)
    throw new Error(`${impl.impl}: integrity check failed: ${problems.join("; ")}`);
}

function rowOf(
  caseName: string,
  impl: Implementation,
  samples: readonly DirectionSample[],
  verified: string,
): BenchRow {
  const rss = samples.map((s) => s.peakRssMiB).filter((v): v is number => v !== undefined);
  const metrics: Record<string, number> = {
    mibPerSec: median(samples.map((s) => s.mibPerSec)),
    serverCpuSec: median(samples.map((s) => s.serverCpuSec)),
    clientCpuSec: median(samples.map((s) => s.clientCpuSec)),
  };
  if (rss.length > 0) metrics.peakRssMiB = median(rss);
  return {
    case: caseName,
    impl: impl.impl,
    metrics,
    samples: samples.map((s) => s.mibPerSec),
    verified,
  };
}

async function run(opts: BenchOptions): Promise<ScenarioResult> {
  const bytes = (opts.quick ? 16 : 256) * mib;
  const warmupBytes = (opts.quick ? 1 : 4) * mib;
  const size = `${bytes / mib} MiB`;
  const client = startLoadChild(
    "transfer-client",
    "bench/load/transfer-client.ts",
    {},
    opts.loadCpu,
  );
  const rows: BenchRow[] = [];
  let rssReset = true;
  try {
    for (const impl of implementations.filter((i) => !opts.quick || i.quick !== false)) {
      const ups: DirectionSample[] = [];
      const downs: DirectionSample[] = [];
      for (let i = 0; i < opts.repeats; i++) {
        const r = await repetition(opts, impl, client, bytes, warmupBytes);
        ups.push(r.upload);
        downs.push(r.download);
        rssReset &&= r.upload.peakRssMiB !== undefined;
        opts.log(
          `  ${impl.impl} #${i + 1}: upload ${r.upload.mibPerSec.toFixed(0)} MiB/s, ` +
            `download ${r.download.mibPerSec.toFixed(0)} MiB/s`,
        );
      }
      const verified =
        `sha256 of ${opts.repeats} × ${size} downloaded = uploaded` +
        (impl.protocol === "grpc" ? " = FileInfo.sha256" : "");
      rows.push(rowOf(`upload ${size}`, impl, ups, verified));
      rows.push(rowOf(`download ${size}`, impl, downs, verified));
    }
  } finally {
    await client.stop();
  }
  const notes = [
    `One ${size} file per repetition: Upload (client streaming, 256 KiB chunks as the SDK sends them) and then Download (server streaming, the server's 64 KiB chunks), gRPC over h2c through connect-node, against a raw node:http2 POST piped to a file and fsynced (the reference) and a GET answered with respondWithFile.`,
    "Each repetition starts a fresh server process (pinned to the server CPU) and warms it up with a small round trip; the load process (pinned to the load CPU) generates the file while sending it and hashes what it downloads, so neither side needs the whole file in memory.",
    "Switchboard does more than the reference: it frames every chunk as a protobuf message, hashes the file (SHA-256) while storing it, and the sqlite backend writes a temp file, fsyncs and renames it and records it in the database. The memory backend keeps the file in memory, so its peak RSS includes the whole file.",
    "Peak RSS is the server's VmHWM, reset before each direction, so each row shows the peak of that direction alone. Server/client CPU s are CPU seconds spent by each process during the transfer.",
  ];
  if (opts.quick) notes.push("Quick runs measure the sqlite backend and the reference only.");
  if (!rssReset) notes.push("VmHWM could not be reset on this machine: peak RSS is not shown.");
  return {
    id: "transfer",
    title: "Upload and download",
    columns: [
      { metric: "mibPerSec", label: "MiB/s", digits: 0 },
      { metric: "peakRssMiB", label: "Server peak RSS (MiB)", digits: 0 },
      { metric: "serverCpuSec", label: "Server CPU s", digits: 2 },
      { metric: "clientCpuSec", label: "Client CPU s", digits: 2 },
    ],
    rows: addRatios(rows, { reference, metric: "mibPerSec" }),
    notes,
    charts: [
      {
        file: "transfer-throughput",
        title: `Upload and download of ${size}`,
        metric: "mibPerSec",
        unit: "MiB/s",
      },
      {
        file: "transfer-rss",
        title: `Server peak RSS while transferring ${size}`,
        metric: "peakRssMiB",
        unit: "MiB",
      },
    ],
  };
}

export default {
  id: "transfer",
  title: "Upload and download",
  run,
} satisfies Scenario;
