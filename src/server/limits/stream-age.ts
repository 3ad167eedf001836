/**
 * Stream rebalancing and resume hints for Subscribe and Chat.
 *
 * - Max stream age: with `maxAgeMs` > 0 each Subscribe/Chat stream ends after
 *   `maxAgeMs` ± `jitter` (spread so that reconnects do not come in waves)
 *   with `unavailable` "stream reached its maximum age …". Clients reconnect,
 *   through a load balancer possibly to another node, so long-lived streams
 *   spread over nodes that were added later.
 * - Resume hint: when such a stream ends on purpose — `unavailable` for the
 *   maximum age or a shutdown, `resource_exhausted` for a slow consumer — the
 *   error carries the last offset delivered per room, in the message and in
 *   the `switchboard-resume-offsets` trailer (`room=offset,room=offset`).
 *   The SDK reconnects at once on an `unavailable` with the hint (other
 *   failures, such as a backend outage, get backoff) and resumes from its
 *   own cursor, without gap or duplicate.
 *
 * @module
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { ChatService } from "../../gen/switchboard/chat/v1/chat_pb.js";
import { type CallEndHook, kCallEnd } from "../../service/call-end.js";
import { kStreamHooks, type StreamHooks } from "../fast/stream-hooks.js";
import { forMethodKinds } from "../interceptor-kinds.js";

/** Trailer with the last delivered offset per room: `room=offset,room=offset`. */
export const resumeOffsetsHeader = "switchboard-resume-offsets";

/** Options of {@link createStreamAgeInterceptor}. */
export interface StreamAgeOptions {
  /** Maximum stream age in ms; 0 = unlimited (only resume hints are added). */
  readonly maxAgeMs: number;
  /** Fraction of `maxAgeMs` by which each stream's limit is randomized, 0..1. */
  readonly jitter: number;
  /** Random source in [0, 1); default Math.random. */
  readonly random?: () => number;
}

const expired = Symbol("expired");

/**
 * Creates the interceptor. Put it outside the drain interceptor so that
 * shutdown errors get the hint too.
 *
 * @example
 * connectNodeAdapter({ routes, interceptors: [createStreamAgeInterceptor({ maxAgeMs: 600_000, jitter: 0.1 })] });
 */
export function createStreamAgeInterceptor(options: StreamAgeOptions): Interceptor {
  const random = options.random ?? Math.random;
  // Acts on Subscribe and Chat only; for unary and client-streaming calls `res.stream` is false.
  return forMethodKinds(["server_streaming", "bidi_streaming"], (next) => async (req) => {
    const res = await next(req);
    const name = req.method.name;
    if (
      !res.stream ||
      req.service.typeName !== ChatService.typeName ||
      (name !== "Subscribe" && name !== "Chat")
    ) {
      return res;
    }
    const ageMs =
      options.maxAgeMs > 0
        ? Math.max(1, Math.round(options.maxAgeMs * (1 + options.jitter * (2 * random() - 1))))
        : 0;
    const hooks = req.contextValues.get(kStreamHooks);
    if (hooks !== undefined) {
      hookStream(hooks, req.contextValues.get(kCallEnd), ageMs);
      return res;
    }
    const inner = res.message;
    const offsets = new Map<string, bigint>();
    return {
      ...res,
      message: (async function* () {
        const it = inner[Symbol.asyncIterator]();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const deadline =
          ageMs > 0
            ? new Promise<typeof expired>((resolve) => {
                timer = setTimeout(() => resolve(expired), ageMs);
              })
            : undefined;
        let done = false;
        try {
          for (;;) {
            const pending = it.next();
            const r = deadline ? await Promise.race([pending, deadline]) : await pending;
            if (r === expired) {
              // Whatever the abandoned read yields or throws is not delivered.
              pending.catch(() => undefined);
              throw maxAgeError(ageMs, offsets);
            }
            if (r.done) {
              done = true;
              return;
            }
            trackOffset(offsets, r.value);
            try {
              yield r.value;
            } catch (e) {
              // Thrown in by the writer: the transport failed (client gone,
              // stream reset), not the handler. Not an internal error.
              throw e instanceof ConnectError ? e : ConnectError.from(e, Code.Canceled);
            }
          }
        } catch (e) {
          done = true;
          void it.return?.(undefined).catch(() => undefined);
          throw withResumeHint(e, offsets);
        } finally {
          clearTimeout(timer);
          if (!done) void it.return?.(undefined).catch(() => undefined);
        }
      })(),
    };
  });
}

/**
 * The fast path's form (stream-hooks.ts): offsets tracked per message (the
 * map is created on the first one), the hint added to the stream's error,
 * and at the maximum age the call is aborted with the max-age error, which
 * the implementation then ends with.
 */
function hookStream(hooks: StreamHooks, onEnd: CallEndHook | undefined, ageMs: number): void {
  let offsets: Map<string, bigint> | undefined;
  hooks.onMessage((response) => {
    offsets = trackOffset(offsets, response);
  });
  hooks.mapError((e) => withResumeHint(e, offsets ?? noOffsets));
  if (ageMs <= 0) return;
  const timer = setTimeout(() => hooks.abort(maxAgeError(ageMs, offsets ?? noOffsets)), ageMs);
  onEnd?.(() => clearTimeout(timer));
}

const noOffsets: ReadonlyMap<string, bigint> = new Map();

function maxAgeError(ageMs: number, offsets: ReadonlyMap<string, bigint>): ConnectError {
  const value = [...offsets].map(([room, offset]) => `${room}=${offset}`).join(",");
  return new ConnectError(
    `stream reached its maximum age of ${ageMs} ms; reconnect and resume; last delivered offsets: ${value.replaceAll(",", ", ") || "none"}`,
    Code.Unavailable,
    { [resumeOffsetsHeader]: value },
  );
}

/** Records a message event's offset; returns the map (created on the first message). */
function trackOffset(
  offsets: Map<string, bigint> | undefined,
  response: unknown,
): Map<string, bigint> | undefined {
  const event = (response as { event?: { case?: string; value?: unknown } }).event;
  if (event?.case !== "message") return offsets;
  const message = event.value as { room: string; offset: bigint };
  const map = offsets ?? new Map<string, bigint>();
  map.set(message.room, message.offset);
  return map;
}

/**
 * Adds the last delivered offsets (message and trailer) to the errors of a
 * deliberate end: maximum age or shutdown (Unavailable "… shutting down"),
 * which the SDK answers with an immediate reconnect, and a slow consumer
 * (ResourceExhausted). Other errors — a backend outage among them, which
 * calls for backoff — pass unchanged.
 */
function withResumeHint(err: unknown, offsets: ReadonlyMap<string, bigint>): unknown {
  if (!(err instanceof ConnectError)) return err;
  const deliberate =
    (err.code === Code.Unavailable && /shutting down/.test(err.rawMessage)) ||
    (err.code === Code.ResourceExhausted && err.rawMessage.startsWith("slow consumer"));
  if (!deliberate || err.metadata.has(resumeOffsetsHeader)) return err;
  const value = [...offsets].map(([room, offset]) => `${room}=${offset}`).join(",");
  const metadata = new Headers(err.metadata);
  metadata.set(resumeOffsetsHeader, value);
  const text = /last delivered offsets/.test(err.rawMessage)
    ? err.rawMessage
    : `${err.rawMessage}; last delivered offsets: ${value.replaceAll(",", ", ") || "none"}`;
  return new ConnectError(text, err.code, metadata, undefined, err.cause ?? err);
}
