/**
 * gRPC server reflection (v1 and v1alpha) on the API port, with real
 * reflection clients: @grpc/grpc-js loading the vendored reflection.proto
 * with proto-loader, and Python grpcio (test/interop/python_reflection_client.py)
 * which loads the returned descriptors into its own DescriptorPool. The
 * returned FileDescriptorProtos are parsed with protobuf-es and must
 * describe ChatService exactly as the generated code does.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { file_grpc_reflection_v1_reflection } from "../src/gen/grpc/reflection/v1/reflection_pb.js";
import { ChatService } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";
import { descriptorSetOf } from "./interop/descriptor-set.js";
import { loadGrpcService } from "./interop/load-grpc-service.js";
import { assertPythonGrpc, interopScript, runPython } from "./interop/python.js";

const protoRoot = fileURLToPath(new URL("../proto", import.meta.url));
const load = (version: "v1" | "v1alpha") =>
  loadGrpcService(
    protoRoot,
    `grpc/reflection/${version}/reflection.proto`,
    `grpc.reflection.${version}.ServerReflection`,
  );

type Answer = {
  message_response: string;
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  all_extension_numbers_response?: { base_type_name: string; extension_number: number[] };
  error_response?: { error_code: number; error_message: string };
};

/** One open ServerReflectionInfo stream: `ask` sends a request and awaits its answer. */
function openReflection(target: string, version: "v1" | "v1alpha" = "v1") {
  const Client = load(version);
  const client = new Client(target, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    ServerReflectionInfo(): grpc.ClientDuplexStream<object, Answer>;
  };
  const call = client.ServerReflectionInfo();
  const waiting: ((a: Answer) => void)[] = [];
  let failure: Error | undefined;
  const failed: ((e: Error) => void)[] = [];
  call.on("data", (a: Answer) => waiting.shift()?.(a));
  call.on("error", (e: Error) => {
    failure = e;
    for (const f of failed.splice(0)) f(e);
  });
  return {
    ask(req: object): Promise<Answer> {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        waiting.push(resolve);
        failed.push(reject);
        call.write(req);
      });
    },
    close() {
      call.end();
      call.cancel();
      client.close();
    },
  };
}

const files = (a: Answer): FileDescriptorProto[] => {
  assert.equal(a.message_response, "file_descriptor_response", JSON.stringify(a.error_response));
  return a.file_descriptor_response!.file_descriptor_proto.map((b) =>
    fromBinary(FileDescriptorProtoSchema, b),
  );
};

const allServices = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "switchboard.chat.v1.ChatService",
];

describe("gRPC server reflection", { timeout: 120_000 }, () => {
  let ts: TestServer;
  let target: string;
  before(async () => {
    ts = await startTestServer();
    target = `127.0.0.1:${ts.port}`;
  });
  after(() => ts?.close());

  it("lists ChatService, health and both reflection services, without a token", async (t) => {
    const r = openReflection(target);
    t.after(() => r.close());
    const a = await r.ask({ list_services: "" });
    assert.deepEqual(a.list_services_response?.service.map((s) => s.name).sort(), allServices);
  });

  it("returns chat.proto and its imports for a ChatService symbol, describing every method as generated", async (t) => {
    const r = openReflection(target);
    t.after(() => r.close());
    for (const symbol of [
      "switchboard.chat.v1.ChatService",
      ".switchboard.chat.v1.ChatService.Send",
      "switchboard.chat.v1.SendRequest",
    ]) {
      const r2 = openReflection(target);
      const protos = files(await r2.ask({ file_containing_symbol: symbol }));
      r2.close();
      assert.equal(protos[0]!.name, "switchboard/chat/v1/chat.proto", symbol);
      assert.ok(protos.some((p) => p.name === "google/protobuf/timestamp.proto"));
    }
    const protos = files(
      await r.ask({ file_containing_symbol: "switchboard.chat.v1.ChatService" }),
    );
    const registry = createFileRegistry(
      create(FileDescriptorSetSchema, { file: [...protos].reverse() }),
    );
    const service = registry.getService("switchboard.chat.v1.ChatService");
    assert.ok(service, "ChatService is described");
    assert.deepEqual(
      service.methods.map((m) => [m.name, m.methodKind, m.input.typeName, m.output.typeName]),
      ChatService.methods.map((m) => [m.name, m.methodKind, m.input.typeName, m.output.typeName]),
    );
    const send = registry.getMessage("switchboard.chat.v1.SendRequest");
    assert.deepEqual(
      send?.fields.map((f) => f.name),
      ChatService.method.send.input.fields.map((f) => f.name),
    );
  });

  it("finds files by name and sends each import only once per stream", async (t) => {
    const r = openReflection(target);
    t.after(() => r.close());
    const first = files(await r.ask({ file_by_filename: "switchboard/chat/v1/chat.proto" }));
    assert.deepEqual(
      first.map((p) => p.name),
      ["switchboard/chat/v1/chat.proto", "google/protobuf/timestamp.proto"],
    );
    const again = files(await r.ask({ file_containing_symbol: "switchboard.chat.v1.Message" }));
    assert.deepEqual(
      again.map((p) => p.name),
      ["switchboard/chat/v1/chat.proto"],
    );
    const ts2 = files(await r.ask({ file_by_filename: "google/protobuf/timestamp.proto" }));
    assert.deepEqual(
      ts2.map((p) => p.name),
      ["google/protobuf/timestamp.proto"],
    );
    const health = files(await r.ask({ file_containing_symbol: "grpc.health.v1.Health.Watch" }));
    assert.equal(health[0]!.name, "grpc/health/v1/health.proto");
  });

  it("answers NOT_FOUND in the stream for unknown files, symbols and extensions, and keeps it open", async (t) => {
    const r = openReflection(target);
    t.after(() => r.close());
    for (const req of [
      { file_by_filename: "nope.proto" },
      { file_containing_symbol: "switchboard.chat.v1.Nope" },
      {
        file_containing_extension: {
          containing_type: "switchboard.chat.v1.SendRequest",
          extension_number: 100,
        },
      },
      { all_extension_numbers_of_type: "switchboard.chat.v1.Nope" },
    ]) {
      const a = await r.ask(req);
      assert.equal(a.message_response, "error_response", JSON.stringify(req));
      assert.equal(a.error_response?.error_code, grpc.status.NOT_FOUND);
    }
    const numbers = await r.ask({
      all_extension_numbers_of_type: "switchboard.chat.v1.SendRequest",
    });
    assert.deepEqual(numbers.all_extension_numbers_response, {
      base_type_name: "switchboard.chat.v1.SendRequest",
      extension_number: [],
    });
    const list = await r.ask({ list_services: "" });
    assert.equal(list.list_services_response?.service.length, allServices.length);
  });

  it("serves v1alpha for older tools", async (t) => {
    const r = openReflection(target, "v1alpha");
    t.after(() => r.close());
    const a = await r.ask({ list_services: "" });
    assert.deepEqual(a.list_services_response?.service.map((s) => s.name).sort(), allServices);
    const protos = files(
      await r.ask({ file_containing_symbol: "switchboard.chat.v1.ChatService" }),
    );
    assert.equal(protos[0]!.name, "switchboard/chat/v1/chat.proto");
  });

  it("is not served when the reflection setting is false", async (t) => {
    const off = await startTestServer({ config: { reflection: false } });
    t.after(() => off.close());
    const r = openReflection(`127.0.0.1:${off.port}`);
    t.after(() => r.close());
    await assert.rejects(r.ask({ list_services: "" }), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.UNIMPLEMENTED);
      return true;
    });
  });

  it("works with a Python grpcio reflection client that rebuilds ChatService from the answers", async (t) => {
    await assertPythonGrpc();
    const dir = await mkdtemp(join(tmpdir(), "switchboard-reflection-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const set = join(dir, "reflection.binpb");
    await writeFile(set, descriptorSetOf([file_grpc_reflection_v1_reflection]));
    const out = JSON.parse(
      await runPython(interopScript("python_reflection_client.py"), [
        "--port",
        String(ts.port),
        "--descriptor-set",
        set,
      ]),
    ) as {
      services: string[];
      files: string[];
      methods: Record<string, { name: string; input: string; output: string }[]>;
    };
    assert.deepEqual([...out.services].sort(), allServices);
    assert.ok(out.files.includes("google/protobuf/timestamp.proto"));
    assert.deepEqual(
      out.methods["switchboard.chat.v1.ChatService"]?.map((m) => [m.name, m.input, m.output]),
      ChatService.methods.map((m) => [m.name, m.input.typeName, m.output.typeName]),
    );
  });
});
