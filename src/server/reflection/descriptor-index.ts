/**
 * What server reflection can describe: the proto files of the served
 * services and all their imports (e.g. `google/protobuf/timestamp.proto`),
 * looked up by file name, by fully-qualified symbol, or by extension.
 * Built from the generated descriptors (protobuf-es `DescFile`, whose
 * `proto` is the file's `FileDescriptorProto`), so it always matches the
 * code that serves the calls.
 *
 * @module
 */

import { type DescExtension, type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/** Lookups over the files of a set of services. */
export interface DescriptorIndex {
  /** Fully-qualified names of the services, sorted. */
  readonly serviceNames: readonly string[];
  /** The file with this name (as in `import`), e.g. `switchboard/chat/v1/chat.proto`. */
  fileByName(name: string): DescFile | undefined;
  /**
   * The file declaring a fully-qualified symbol: a service, a method
   * (`pkg.Service.Method`), a message, an enum or an extension, nested
   * ones included. A leading dot is ignored.
   */
  fileContainingSymbol(symbol: string): DescFile | undefined;
  /** The file declaring extension `number` of message `containingType`. */
  fileContainingExtension(containingType: string, number: number): DescFile | undefined;
  /** Extension numbers declared for a message; undefined if the message is unknown. */
  extensionNumbersOf(typeName: string): number[] | undefined;
}

/**
 * Indexes the files declaring `services` and, transitively, their imports.
 *
 * @example
 * const index = createDescriptorIndex([ChatService, Health]);
 * index.fileContainingSymbol("switchboard.chat.v1.ChatService")?.name; // "switchboard/chat/v1/chat"
 */
export function createDescriptorIndex(services: readonly DescService[]): DescriptorIndex {
  const files = new Map<string, DescFile>();
  const symbols = new Map<string, DescFile>();
  const messages = new Set<string>();
  const extensions: DescExtension[] = [];
  const visit = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    for (const dep of file.dependencies) visit(dep);
    for (const type of nestedTypes(file)) {
      symbols.set(type.typeName, file);
      if (type.kind === "message") messages.add(type.typeName);
      if (type.kind === "extension") extensions.push(type);
      if (type.kind === "service") {
        for (const method of type.methods) symbols.set(`${type.typeName}.${method.name}`, file);
      }
    }
  };
  for (const service of services) visit(service.file);
  const strip = (name: string) => (name.startsWith(".") ? name.slice(1) : name);
  return {
    serviceNames: [...new Set(services.map((s) => s.typeName))].sort(),
    fileByName: (name) => files.get(name),
    fileContainingSymbol: (symbol) => symbols.get(strip(symbol)),
    fileContainingExtension(containingType, number) {
      const want = strip(containingType);
      return extensions.find((e) => e.extendee.typeName === want && e.number === number)?.file;
    },
    extensionNumbersOf(typeName) {
      const want = strip(typeName);
      if (!messages.has(want)) return undefined;
      return extensions
        .filter((e) => e.extendee.typeName === want)
        .map((e) => e.number)
        .sort((a, b) => a - b);
    },
  };
}

/**
 * Serializes `file` (always, first) and those of its transitive imports
 * whose names are not in `sent`, adding every name to `sent` — what a
 * reflection stream answers (as grpc-go does), so a client can build the
 * file without asking again.
 *
 * @example
 * const sent = new Set<string>();
 * const protos = encodeFileWithImports(ChatService.file, sent); // chat.proto, timestamp.proto
 */
export function encodeFileWithImports(file: DescFile, sent: Set<string>): Uint8Array[] {
  const out: Uint8Array[] = [];
  const queue = [file];
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    if (out.length > 0 && sent.has(f.proto.name)) continue;
    sent.add(f.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    queue.push(...f.dependencies);
  }
  return out;
}
