/**
 * Micro benchmark of the memory an idle Subscribe stream costs the service:
 * opens `--streams` Subscribe calls (the handler called directly, memory
 * backend, no transport) spread over `--rooms` rooms, waits until they are
 * live and idle, forces GC and reports heap and RSS growth per stream. The
 * same number of bare handler contexts is measured first and subtracted
 * (`serviceHeapBytesPerStream`): that part belongs to the transport.
 *
 * Run: `node --expose-gc --import tsx bench/micro/fanout-idle-memory.ts
 * [--streams 10000] [--rooms 100] [--telemetry]`.
 *
 * @module
 */
import { createFanoutHarness, flags, turn } from "./fanout-harness.js";

const opts = flags({ streams: 10_000, rooms: 100, telemetry: false });
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");

async function settle(): Promise<{ heap: number; rss: number }> {
  for (let i = 0; i < 5; i++) {
    await turn();
    gc!();
  }
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, rss: usage.rss };
}

const h = createFanoutHarness({ telemetry: opts.telemetry });
// Warm the code paths so that compiled code is not counted as stream memory.
const warm = Array.from({ length: 200 }, (_, i) => h.subscribe(`warm-${i % 3}`, () => {}));
while (h.backend.fanout.activeSubscriptions < warm.length) await turn();
for (const s of warm) s.abort();
await Promise.all(warm.map((s) => s.done));

const base = await settle();
const contexts = Array.from({ length: opts.streams }, () => h.context());
const withContexts = await settle();
for (const c of contexts) c.abort();
contexts.length = 0;

const before = await settle();
let events = 0;
const subs = Array.from({ length: opts.streams }, (_, i) =>
  h.subscribe(`room-${i % opts.rooms}`, () => events++),
);
while (h.backend.fanout.activeSubscriptions < opts.streams || events < opts.streams) await turn();
const after = await settle();

for (const s of subs) s.abort();
await Promise.all(subs.map((s) => s.done));
subs.length = 0;
const released = await settle();
await h.close();

const per = (bytes: number) => Math.round(bytes / opts.streams);
const contextHeap = per(withContexts.heap - base.heap);
const streamHeap = per(after.heap - before.heap);
console.log(
  JSON.stringify({
    streams: opts.streams,
    rooms: opts.rooms,
    telemetry: opts.telemetry,
    heapBytesPerStream: streamHeap,
    rssBytesPerStream: per(after.rss - before.rss),
    contextHeapBytesPerStream: contextHeap,
    serviceHeapBytesPerStream: streamHeap - contextHeap,
    heapBytesLeftAfterClosePerStream: per(released.heap - before.heap),
  }),
);
