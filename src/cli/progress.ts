/**
 * A one-line progress bar for transfers, drawn on stderr only when it is a
 * terminal.
 *
 * @module
 */
import type { TextOut } from "./context.js";
import { formatBytes } from "./format.js";

/** A progress display. */
export interface Progress {
  /** Reports bytes done so far (and the total when known). */
  update(done: number, total?: number): void;
  /** Draws the final state and ends the line. */
  finish(): void;
}

/**
 * Creates a progress bar on `out`; a no-op when `out` is not a TTY.
 *
 * @example
 * const progress = createProgress(ctx.stderr, "upload");
 * progress.update(1024, 4096);
 */
export function createProgress(out: TextOut, label: string): Progress {
  if (!out.isTTY) return { update() {}, finish() {} };
  let last = 0;
  let done = 0;
  let total: number | undefined;
  let drawn = false;
  const draw = () => {
    drawn = true;
    const width = 30;
    if (total && total > 0) {
      const ratio = Math.min(1, done / total);
      const filled = Math.round(ratio * width);
      const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
      out.write(
        `\r${label} [${bar}] ${(ratio * 100).toFixed(0).padStart(3)}% ${formatBytes(done)} / ${formatBytes(total)}  `,
      );
    } else {
      out.write(`\r${label} ${formatBytes(done)}  `);
    }
  };
  return {
    update(d, t) {
      done = d;
      if (t !== undefined) total = t;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        draw();
      }
    },
    finish() {
      draw();
      if (drawn) out.write("\n");
    },
  };
}
