/**
 * Serializes generated descriptors (protobuf-es `GenFile`s) and all their
 * imports as one `google.protobuf.FileDescriptorSet`, imports first — what
 * the Python clients load into a descriptor pool instead of generated
 * Python code (Debian ships no grpcio-tools that matches its protobuf).
 *
 * @module
 */

import { create, type DescFile, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/**
 * Returns the serialized set of `files` and their transitive imports.
 *
 * @example
 * writeFileSync(path, descriptorSetOf([file_grpc_testing_test]));
 */
export function descriptorSetOf(files: readonly DescFile[]): Uint8Array {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    for (const dep of f.dependencies) visit(dep);
    ordered.push(f);
  };
  for (const f of files) visit(f);
  return toBinary(
    FileDescriptorSetSchema,
    create(FileDescriptorSetSchema, { file: ordered.map((f) => f.proto) }),
  );
}
