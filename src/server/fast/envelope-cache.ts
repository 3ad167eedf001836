/**
 * Encode once, send to many: the enveloped bytes of a response message are
 * cached per *shared payload object*, so a message fanned out to a
 * thousand streams is serialized once, not a thousand times.
 *
 * It applies to response types whose only field is one oneof (e.g.
 * `SubscribeResponse { oneof event { … Message message = 2; … } }`): every
 * subscriber's response wraps the same payload object (the service hands
 * one `Message` instance to all local subscribers of a delivery, see
 * src/service/convert.ts), so the payload object identifies the bytes. The
 * cache is a WeakMap keyed by that object: entries live as long as the
 * payload does. Payload objects must not be changed once yielded — the
 * service never does.
 *
 * @module
 */

import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { Serialization } from "@connectrpc/connect/protocol";

/** Serializes and envelopes output messages, reusing bytes of shared payloads. */
export interface EnvelopeCache<M extends Message = Message> {
  /** The 5-byte-prefixed, uncompressed envelope of `message` (flags 0). */
  envelope(message: M): Buffer;
}

interface Cached {
  readonly oneofCase: string;
  readonly envelope: Buffer;
}

/**
 * Creates the cache for one method's output type and one serialization
 * (binary or JSON).
 *
 * @example
 * const cache = createEnvelopeCache(method.output, serialization.getO(true));
 * res.write(cache.envelope(response));
 */
export function createEnvelopeCache<M extends Message>(
  schema: DescMessage,
  serialization: Serialization<M>,
): EnvelopeCache<M> {
  const oneof =
    schema.members.length === 1 && schema.members[0]?.kind === "oneof"
      ? schema.members[0].localName
      : undefined;
  const cache = new WeakMap<object, Cached>();
  const envelope = (message: M): Buffer => {
    const bytes = serialization.serialize(message);
    const out = Buffer.allocUnsafe(5 + bytes.byteLength);
    out[0] = 0;
    out.writeUInt32BE(bytes.byteLength, 1);
    out.set(bytes, 5);
    return out;
  };
  if (oneof === undefined) return { envelope };
  return {
    envelope(message) {
      const selected = (message as unknown as Record<string, { case?: string; value?: unknown }>)[
        oneof
      ];
      const payload = selected?.value;
      const unknown = (message as { $unknown?: unknown[] }).$unknown;
      if (
        typeof payload !== "object" ||
        payload === null ||
        selected?.case === undefined ||
        (unknown !== undefined && unknown.length > 0)
      ) {
        return envelope(message);
      }
      const hit = cache.get(payload);
      if (hit !== undefined && hit.oneofCase === selected.case) return hit.envelope;
      const bytes = envelope(message);
      cache.set(payload, { oneofCase: selected.case, envelope: bytes });
      return bytes;
    },
  };
}
