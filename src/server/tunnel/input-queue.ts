/**
 * The request body of one tunnel call: envelopes pushed as frames arrive,
 * read once by the connect handler. It reports bytes as they are consumed,
 * so the session can pause reading the socket while a handler lags
 * (backpressure).
 *
 * @module
 */

/** Request envelopes of one call, consumed as an `AsyncIterable<Uint8Array>`. */
export interface InputQueue extends AsyncIterable<Uint8Array> {
  /** Adds an envelope; ignored once ended. */
  push(envelope: Uint8Array): void;
  /** Ends the input: the reader finishes after draining, or throws `error` at once when given. */
  end(error?: unknown): void;
  /** Drops whatever is still queued (the handler is done reading) and ends the input. */
  discard(): void;
  /** True once `end` was called. */
  readonly ended: boolean;
  /** Bytes pushed and not yet read. */
  readonly queuedBytes: number;
}

/**
 * Creates an {@link InputQueue}. `onConsumed` receives the size of every
 * envelope the reader takes, and of those discarded by `end(error)`.
 *
 * @example
 * const body = createInputQueue((n) => { queued -= n; });
 */
export function createInputQueue(onConsumed: (bytes: number) => void): InputQueue {
  const buffer: Uint8Array[] = [];
  let queuedBytes = 0;
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const take = (): Uint8Array => {
    const envelope = buffer.shift() as Uint8Array;
    queuedBytes -= envelope.byteLength;
    onConsumed(envelope.byteLength);
    return envelope;
  };
  return {
    push(envelope) {
      if (ended) return;
      buffer.push(envelope);
      queuedBytes += envelope.byteLength;
      notify();
    },
    end(error) {
      if (ended) return;
      ended = true;
      if (error !== undefined) {
        failure = { error };
        while (buffer.length > 0) take();
      }
      notify();
    },
    discard() {
      ended = true;
      while (buffer.length > 0) take();
      notify();
    },
    get ended() {
      return ended;
    },
    get queuedBytes() {
      return queuedBytes;
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (failure) throw failure.error;
        if (buffer.length > 0) {
          yield take();
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}
