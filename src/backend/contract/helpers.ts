/**
 * Shared fixtures of the backend contract suite: test users, message and
 * blob helpers, and the {@link ContractContext} every role's tests receive.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { AppendInput, Backend, StoredFile, StoredMessage, UserRef } from "../types.js";

/** Options of `runBackendContract`. */
export interface BackendContractOptions {
  /** The backend keeps history and files across close + reopen on the same directory. */
  readonly durable: boolean;
}

/** What each role's tests get from the suite. */
export interface ContractContext {
  /** The backend shared by the suite (opened in `before`, closed in `after`). */
  readonly backend: Backend;
  /** The factory under test. */
  readonly open: (dir: string) => Promise<Backend>;
  readonly options: BackendContractOptions;
  /** A new temp directory, removed when the suite ends. */
  freshDir(): Promise<string>;
  /** A room name no other test uses. */
  newRoom(): string;
}

/** A test user. */
export const ada: UserRef = { id: "ada", name: "Ada Lovelace" };
/** Another test user. */
export const bob: UserRef = { id: "bob", name: "Bob" };

/**
 * Builds an {@link AppendInput} with defaults.
 *
 * @example
 * await backend.log.append(msg("lobby", "hi", { clientMessageId: "k" }));
 */
export function msg(room: string, text: string, extra: Partial<AppendInput> = {}): AppendInput {
  return { room, sender: ada, text, attachments: [], clientMessageId: "", ...extra };
}

/**
 * Appends `n` messages ("m0", "m1", …) one after the other.
 *
 * @example
 * const sent = await appendMany(backend, "lobby", 3);
 */
export async function appendMany(
  backend: Backend,
  room: string,
  n: number,
): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  for (let i = 0; i < n; i++) out.push((await backend.log.append(msg(room, `m${i}`))).message);
  return out;
}

/**
 * The offsets of `messages`, in order.
 *
 * @example
 * assert.deepEqual(offsets(page.messages), [1n, 2n]);
 */
export function offsets(messages: readonly StoredMessage[]): bigint[] {
  return messages.map((m) => m.offset);
}

/**
 * Asserts that `values` are strictly increasing.
 *
 * @example
 * assertIncreasing(offsets(seen));
 */
export function assertIncreasing(values: readonly bigint[]): void {
  for (let i = 1; i < values.length; i++) {
    assert.ok(values[i]! > values[i - 1]!, `offsets not increasing: ${values.join(",")}`);
  }
}

/**
 * Uploads `bytes` in chunks of `chunk` bytes and commits the file.
 *
 * @example
 * const file = await uploadBytes(backend, testBytes(10));
 */
export async function uploadBytes(
  backend: Backend,
  bytes: Uint8Array,
  chunk = 1000,
): Promise<StoredFile> {
  const w = await backend.blobs.create({
    name: "data.bin",
    contentType: "application/octet-stream",
    room: "files",
    uploader: ada,
  });
  for (let i = 0; i < bytes.length; i += chunk) await w.write(bytes.subarray(i, i + chunk));
  assert.equal(w.size, bytes.length);
  return w.commit();
}

/**
 * Reads a stored file from `offset` to its end.
 *
 * @example
 * const content = await readAll(backend, file.id, 0);
 */
export async function readAll(backend: Backend, id: string, offset: number): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of backend.blobs.read(id, offset)) parts.push(part);
  return Buffer.concat(parts);
}

/**
 * `n` deterministic, non-repeating-looking bytes.
 *
 * @example
 * const bytes = testBytes(200_000);
 */
export function testBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

/**
 * Waits `ms` milliseconds (lets asynchronous deliveries land).
 *
 * @example
 * await sleep(10);
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
