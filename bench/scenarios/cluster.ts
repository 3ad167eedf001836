/**
 * Scenario "cluster": Switchboard on NATS JetStream behind HAProxy
 * (deploy/haproxy.cfg) with 1 and 3 nodes, against one node reached
 * directly (the reference). Unary Send is loaded with h2load through the
 * entry point; a probe process then measures how long a sent message takes
 * to reach a subscriber connected through the same entry point.
 *
 * The deployment (bench/load/cluster-deploy.ts) pins NATS, every node and
 * HAProxy to the server CPU; h2load and the probe run on the load CPU.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  Direction,
  HistoryRequestSchema,
  HistoryResponseSchema,
  SendRequestSchema,
  SendResponseSchema,
} from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { grpcFrame, type H2loadLoad, type H2loadResult, runH2load } from "../lib/h2load.js";
import { sampleProcess } from "../lib/proc.js";
import { okGrpcMessage, replay } from "../lib/replay.js";
import { addRatios, median } from "../lib/stats.js";
import type { BenchOptions, BenchRow, Scenario, ScenarioResult } from "../lib/types.js";
import { type ClusterDeployment, deployCluster } from "../load/cluster-deploy.js";
import { type LoadChild, startLoadChild } from "../load/fanout-child.js";

const title = "Cluster: NATS JetStream behind HAProxy";
const reference = "1 node, direct";
const sendRoom = "bench-cluster";
const deliveryRoom = "bench-cluster-delivery";
const clients = 8;
const streams = 16;
/** The delivery probe sends one message every this many ms (200/s). */
const deliveryIntervalMs = 5;

const sendBody = grpcFrame(
  toBinary(SendRequestSchema, create(SendRequestSchema, { room: sendRoom, text: "hello world" })),
);

/** h2load's Send through `entryUrl`. */
function sendLoad(entryUrl: string, token: string): H2loadLoad {
  return {
    url: `${entryUrl}/switchboard.chat.v1.ChatService/Send`,
    clients,
    streams,
    headers: {
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${token}`,
    },
    body: sendBody,
  };
}

/** The send room's head offset (JetStream: the stream sequence of its newest message). */
async function headOffset(load: H2loadLoad): Promise<number> {
  const res = await replay({
    ...load,
    url: load.url.replace(/\/Send$/, "/History"),
    body: grpcFrame(
      toBinary(
        HistoryRequestSchema,
        create(HistoryRequestSchema, { room: sendRoom, direction: Direction.BACKWARD, limit: 1 }),
      ),
    ),
  });
  return Number(fromBinary(HistoryResponseSchema, okGrpcMessage(res)).headOffset);
}

/** CPU seconds used so far by every server-side process of the deployment. */
function serverCpuSec(cluster: ClusterDeployment): number {
  return cluster.pids.reduce((sum, pid) => sum + sampleProcess(pid).cpuSec, 0);
}

interface DeliveryResult {
  readonly sent: number;
  readonly received: number;
  /** null when no message arrived. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** Loads one entry point of a deployment and probes its delivery latency. */
async function measureEntry(
  opts: BenchOptions,
  cluster: ClusterDeployment,
  entryUrl: string,
  impl: string,
  probe: LoadChild,
): Promise<BenchRow> {
  const load = sendLoad(entryUrl, cluster.token);
  const replayed = fromBinary(SendResponseSchema, okGrpcMessage(await replay(load)));
  if (replayed.message?.text !== "hello world" || replayed.duplicate) {
    throw new Error(`${impl}: replayed Send did not store the message`);
  }
  const headBefore = await headOffset(load);
  let succeeded = 0;
  if (opts.warmupSec > 0)
    succeeded += (await runH2load(load, opts.warmupSec, opts.loadCpu)).succeeded;
  const runs: H2loadResult[] = [];
  const cpuPct: number[] = [];
  for (let i = 0; i < opts.repeats; i++) {
    const cpuBefore = serverCpuSec(cluster);
    const started = performance.now();
    const run = await runH2load(load, opts.durationSec, opts.loadCpu);
    const seconds = (performance.now() - started) / 1000;
    cpuPct.push(((serverCpuSec(cluster) - cpuBefore) / seconds) * 100);
    runs.push(run);
    succeeded += run.succeeded;
  }
  const stored = (await headOffset(load)) - headBefore;
  if (stored < succeeded) {
    throw new Error(`${impl}: only ${stored} messages stored for ${succeeded} successful Sends`);
  }
  const delivery = await probe.request<DeliveryResult>(
    "measure",
    {
      baseUrl: entryUrl,
      token: cluster.token,
      room: deliveryRoom,
      count: Math.round((opts.durationSec * 1000) / deliveryIntervalMs / 2),
      intervalMs: deliveryIntervalMs,
    },
    120_000,
  );
  if (delivery.received < delivery.sent) {
    opts.log(
      `  warning: ${impl}: only ${delivery.received} of ${delivery.sent} messages delivered`,
    );
  }
  const metrics: Record<string, number> = {
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    serverCpuPct: median(cpuPct),
    failed: runs.reduce((sum, r) => sum + r.failed + r.non2xx, 0),
    deliveryP50Ms: delivery.p50Ms ?? Number.NaN,
    deliveryP99Ms: delivery.p99Ms ?? Number.NaN,
  };
  opts.log(
    `  ${impl}: ${Math.round(metrics.rps!)} req/s, p50 ${metrics.p50Ms!.toFixed(2)} ms, ` +
      `p99 ${metrics.p99Ms!.toFixed(2)} ms, delivery p50 ${metrics.deliveryP50Ms!.toFixed(2)} ms ` +
      `(${delivery.received}/${delivery.sent})`,
  );
  return {
    case: `Send c${clients} m${streams}`,
    impl,
    metrics,
    samples: runs.map((r) => r.rps),
    verified:
      `replayed Send: grpc-status 0, message stored; History: ${stored} messages stored ≥ ` +
      `${succeeded} successful h2load Sends (warm-up included; calls in flight when h2load ` +
      `stops are stored but not counted); delivery probe: ${delivery.received} of ` +
      `${delivery.sent} messages received`,
  };
}

async function run(opts: BenchOptions): Promise<ScenarioResult> {
  const probe = startLoadChild(
    "cluster-delivery",
    "bench/load/cluster-delivery.ts",
    {},
    opts.loadCpu,
  );
  const rows: BenchRow[] = [];
  try {
    const single = await deployCluster(1, opts.serverCpu);
    try {
      rows.push(
        await measureEntry(
          opts,
          single,
          `http://127.0.0.1:${single.nodes[0]!.port}`,
          reference,
          probe,
        ),
      );
      rows.push(await measureEntry(opts, single, single.balancer.url, "HAProxy → 1 node", probe));
    } finally {
      await single.close();
    }
    if (!opts.quick) {
      const three = await deployCluster(3, opts.serverCpu);
      try {
        rows.push(await measureEntry(opts, three, three.balancer.url, "HAProxy → 3 nodes", probe));
      } finally {
        await three.close();
      }
    }
  } finally {
    await probe.stop();
  }
  return {
    id: "cluster",
    title,
    columns: [
      { metric: "rps", label: "req/s", digits: 0 },
      { metric: "p50Ms", label: "p50 ms", digits: 2 },
      { metric: "p99Ms", label: "p99 ms", digits: 2 },
      { metric: "serverCpuPct", label: "server side CPU %", digits: 0 },
      { metric: "failed", label: "failed", digits: 0 },
      { metric: "deliveryP50Ms", label: "delivery p50 ms", digits: 2 },
      { metric: "deliveryP99Ms", label: "delivery p99 ms", digits: 2 },
    ],
    rows: addRatios(rows, { reference, metric: "rps" }),
    notes: [
      `Switchboard nodes (bench/servers/switchboard.ts, backend jetstream, send rate limit off) on one private nats-server with JetStream (R1, file storage), behind HAProxy configured from deploy/haproxy.cfg (per-request balancing over h2c). ChatService/Send of an 11-character text, no client_message_id, answered after JetStream acknowledged the message; h2load with ${clients} connections × ${streams} streams over h2c.`,
      "1 node, direct: h2load talks to the node itself, bypassing HAProxy (the reference). HAProxy → N nodes: the same load through the balancer.",
      "On this machine NATS, every node and HAProxy are pinned to the one server CPU (h2load and the probe to the other), so more nodes cannot add capacity: the figures show the overhead of the HAProxy hop and of running more nodes, not how a cluster scales on separate machines. server side CPU % is the CPU time of all of them together, in % of one core.",
      `Delivery: a probe process subscribes to a room and sends one message every ${deliveryIntervalMs} ms through the same entry point (subscriber and sender on separate HTTP/2 connections); the latency is from calling Send to the subscriber receiving the message. Through HAProxy with 3 nodes, round-robin puts the subscription on one node and 2 of 3 sends on the others, so most messages cross nodes via NATS.`,
      "Correctness is checked outside the load: h2load's exact request is replayed once (grpc-status 0, message stored), and History's head offset before and after the runs is compared with h2load's successes.",
    ],
    charts: [
      {
        file: "cluster-rps",
        title: "Cluster: Send requests per second (higher is better)",
        metric: "rps",
        unit: "req/s",
      },
      {
        file: "cluster-delivery",
        title: "Cluster: send-to-subscriber delivery p50 (lower is better)",
        metric: "deliveryP50Ms",
        unit: "ms",
      },
    ],
  };
}

export default { id: "cluster", title, run } satisfies Scenario;
