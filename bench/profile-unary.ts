/**
 * A profile (or a plain measurement) of one Switchboard unary method under
 * h2load: the compiled bench server (bench/servers/switchboard.ts, sqlite
 * backend, EchoService mounted) pinned to CPU 0, h2load pinned to CPU 1 at
 * `-c8 -m16` over h2c, a 4 s warm-up, then the measured run. With
 * `--prof DIR` the server runs under `node --cpu-prof` and writes its
 * profile there when it exits (summarise it with
 * `node scripts/profile-summary.mjs DIR`). Prints h2load's throughput line.
 *
 *   node --import tsx bench/profile-unary.ts [--method send|echo] [--seconds 10] [--prof DIR]
 *
 * Used for the Send and Echo profiles in bench/README.md; also handy for a
 * quick A/B of two checkouts (run it in each, interleaved).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { SendRequestSchema } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { EchoRequestSchema } from "./gen/switchboard/bench/v1/bench_pb.js";
import { compiledEntry } from "./lib/compile.js";
import { grpcFrame } from "./lib/h2load.js";

const { values: flags } = parseArgs({
  options: {
    method: { type: "string", default: "send" },
    seconds: { type: "string", default: "10" },
    prof: { type: "string" },
  },
  strict: true,
});

const methods = {
  send: {
    path: "/switchboard.chat.v1.ChatService/Send",
    body: toBinary(
      SendRequestSchema,
      create(SendRequestSchema, { room: "bench-send", text: "hello world" }),
    ),
  },
  echo: {
    path: "/switchboard.bench.v1.EchoService/Echo",
    body: toBinary(
      EchoRequestSchema,
      create(EchoRequestSchema, { payload: new TextEncoder().encode("hello world") }),
    ),
  },
} as const;
const method = methods[flags.method as keyof typeof methods];
if (method === undefined) throw new Error(`--method: send or echo, got "${flags.method}"`);

const work = mkdtempSync(join(tmpdir(), "switchboard-profile-"));
const bodyFile = join(work, "request.bin");
writeFileSync(bodyFile, grpcFrame(method.body));

const nodeArgs = flags.prof ? ["--cpu-prof", `--cpu-prof-dir=${flags.prof}`] : [];
const entry = compiledEntry("bench/servers/switchboard.ts");
const server = spawn(
  "taskset",
  ["-c", "0", process.execPath, ...nodeArgs, entry, "--backend", "sqlite", "--echo"],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const ready = await new Promise<{ port: number; token: string }>((resolve, reject) => {
  let out = "";
  server.once("exit", (code) => reject(new Error(`server exited (${code}) before ready`)));
  server.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    const line = out.split("\n").find((l) => l.includes('"ready"'));
    if (line) resolve(JSON.parse(line));
  });
});

function h2load(seconds: string): Promise<string> {
  const args = ["-c", "1", "h2load", "-c8", "-m16", "-D", seconds, "-d", bodyFile];
  for (const h of ["content-type: application/grpc", "te: trailers"]) args.push("-H", h);
  args.push("-H", `authorization: Bearer ${ready.token}`);
  args.push(`http://127.0.0.1:${ready.port}${method.path}`);
  return new Promise((resolve, reject) => {
    const p = spawn("taskset", args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    p.on("error", reject);
    p.on("close", () => resolve(out));
  });
}

try {
  await h2load("4");
  const out = await h2load(flags.seconds);
  console.log(
    out
      .split("\n")
      .filter((l) => /finished in|^requests:/.test(l))
      .join("\n"),
  );
} finally {
  server.kill("SIGTERM");
  await new Promise((resolve) => server.once("close", resolve));
  rmSync(work, { recursive: true, force: true });
}
