/**
 * In-memory harness for the service tests: the ChatService on the memory
 * backend behind `createRouterTransport`, with a test interceptor that sets
 * `kUser` from the `authorization: Bearer <user id>` header.
 *
 * @module
 */
import type { DescService } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createMemoryBackend } from "../src/backend/memory/index.js";
import type { Backend } from "../src/backend/types.js";
import { ChatService } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { createChatService } from "../src/service/chat-service.js";
import { type AuthenticatedUser, kUser } from "../src/service/context-values.js";
import type { ServiceLimits } from "../src/service/limits.js";
import { createDecodeErrorGate } from "../src/service/request-gate.js";

/** Test users: alice may do everything, bob only `public.*`, carol subscribe-only. */
export const users: Record<string, AuthenticatedUser> = {
  alice: { id: "alice", name: "Alice", publish: ["*"], subscribe: ["*"] },
  bob: { id: "bob", name: "Bob", publish: ["public.*"], subscribe: ["public.*"] },
  carol: { id: "carol", name: "Carol", publish: [], subscribe: ["*"] },
};

/** Sets kUser from `authorization: Bearer <id>` (no header: no user). */
const testAuth: Interceptor = (next) => async (req) => {
  const header = req.header.get("authorization");
  const id = header?.replace(/^Bearer /, "");
  if (id !== undefined) req.contextValues.set(kUser, users[id]);
  return next(req);
};

/** A running in-memory service. */
export interface Harness {
  readonly backend: Backend;
  /** Client for a test user id, or anonymous for `undefined`; `json` picks the JSON format. */
  client(user?: string, format?: { json: boolean }): Client<typeof ChatService>;
  /** Client of another descriptor of the same service (raw-bytes variants). */
  clientOf<T extends DescService>(service: T, user?: string): Client<T>;
  close(): Promise<void>;
}

/** Options of {@link createHarness}. */
export interface HarnessOptions {
  readonly limits?: Partial<ServiceLimits>;
  /** Wraps the backend (to inject failures or fake trimming). */
  readonly wrap?: (backend: Backend) => Backend;
}

/**
 * Starts the ChatService over an in-memory router transport.
 *
 * @example
 * const h = createHarness();
 * await h.client("alice").send({ room: "lobby", text: "hi" });
 * await h.close();
 */
export function createHarness(options: HarnessOptions = {}): Harness {
  const memory = createMemoryBackend();
  const backend = options.wrap ? options.wrap(memory) : memory;
  const service = createChatService({ backend, limits: options.limits ?? {} });
  const transports = new Map<string, Transport>();
  const transportFor = (user: string | undefined, json = false): Transport => {
    const key = `${user ?? ""}/${json}`;
    let transport = transports.get(key);
    if (!transport) {
      const auth: Interceptor = (next) => (req) => {
        if (user !== undefined) req.header.set("authorization", `Bearer ${user}`);
        return next(req);
      };
      transport = createRouterTransport((router) => router.service(ChatService, service), {
        router: { interceptors: [testAuth], requestGate: createDecodeErrorGate() },
        transport: { interceptors: [auth], useBinaryFormat: !json },
      });
      transports.set(key, transport);
    }
    return transport;
  };
  return {
    backend,
    client: (user, format) => createClient(ChatService, transportFor(user, format?.json)),
    clientOf: (desc, user) => createClient(desc, transportFor(user)),
    close: () => memory.close(),
  };
}

/**
 * Runs `fn` and returns the ConnectError it rejects with (fails when it
 * resolves).
 */
export async function connectErrorOf(fn: () => Promise<unknown>): Promise<ConnectError> {
  try {
    await fn();
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

/** Asserts-friendly view of an error: code name and raw message. */
export function describe(err: ConnectError): { code: string; message: string } {
  return { code: Code[err.code], message: err.rawMessage };
}

/** An async iterable that a test pushes into (client-side request streams). */
export interface Pushable<T> extends AsyncIterable<T> {
  push(value: T): void;
  end(): void;
}

/**
 * Creates a {@link Pushable}.
 *
 * @example
 * const frames = createPushable<ChatRequest>();
 * const responses = client.chat(frames);
 */
export function createPushable<T>(): Pushable<T> {
  const values: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  return {
    push(value) {
      values.push(value);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const value = values.shift();
        if (value !== undefined) {
          yield value;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    },
  };
}

/**
 * Reads from an async iterator with a time limit, so a missing event fails
 * the test instead of hanging it.
 */
export async function nextWithin<T>(it: AsyncIterator<T>, ms = 2000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const result = await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
      }),
    ]);
    if (result.done) throw new Error("stream ended");
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns true or `ms` pass. */
export async function eventually(check: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
