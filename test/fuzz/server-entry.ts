/**
 * Child-process entry of the fuzz harness: starts a real server with
 * {@link startTestServer} (memory backend, port 0), prints one JSON line
 * `{ "url", "port", "token" }` on stdout, and answers `"stats"` messages on
 * the IPC channel with its memory use after a full GC (run with --expose-gc). It exits when its parent disconnects
 * or sends SIGTERM, so a crash of the server is seen as this process exiting.
 *
 * Run by {@link startFuzzServer}; not a test itself.
 *
 * @module
 */
import { startTestServer } from "../helpers/start-server.js";

// Rate limits are not what this server is fuzzed for: lift them so that
// thousands of valid Sends between bad requests are never throttled.
const ts = await startTestServer({
  backend: "memory",
  limits: { sendRatePerSec: 1_000_000, sendBurst: 1_000_000 },
});
const token = await ts.token({ subject: "fuzzer", name: "Fuzzer", rooms: ["*"] });
let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await ts.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("disconnect", stop);
process.on("message", (m) => {
  if (m === "stats") {
    (globalThis as { gc?: () => void }).gc?.();
    const mem = process.memoryUsage();
    process.send?.({ rss: mem.rss, heapUsed: mem.heapUsed });
  }
});
process.stdout.write(`${JSON.stringify({ url: ts.url, port: ts.port, token })}\n`);
