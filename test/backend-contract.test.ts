import { runBackendContract } from "../src/backend/contract/index.js";
import { createBackend } from "../src/backend/create-backend.js";

runBackendContract("memory backend", () => createBackend({ kind: "memory" }), { durable: false });
runBackendContract("sqlite backend", (dir) => createBackend({ kind: "sqlite", dataDir: dir }), {
  durable: true,
});
