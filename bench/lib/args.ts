/**
 * Command-line flags of `npm run bench`.
 *
 * @module
 */

/** Parsed flags. */
export interface BenchArgs {
  /** `--quick`: short smoke run. */
  readonly quick: boolean;
  /** `--only a,b`: scenario ids to run; empty: all. */
  readonly only: readonly string[];
  /** `--server-cpu N` (default 0). */
  readonly serverCpu: number | undefined;
  /** `--load-cpu N` (default 1, or 0 on a one-CPU machine). */
  readonly loadCpu: number | undefined;
  readonly help: boolean;
}

/** Usage text for `--help` and flag errors. */
export const usage = `usage: npm run bench [-- [--quick] [--only id,id] [--server-cpu N] [--load-cpu N]]
  --quick         short smoke run (1 repetition of 1 s, results in bench/results/quick)
  --only ids      run only these scenarios (comma-separated ids, e.g. unary,rest)
  --server-cpu N  CPU the servers under test are pinned to (default 0)
  --load-cpu N    CPU the load generator is pinned to (default 1)`;

/**
 * Parses `process.argv.slice(2)`.
 *
 * @throws Error naming an unknown flag or a bad value.
 *
 * @example
 * parseBenchArgs(["--quick", "--only", "unary"]); // { quick: true, only: ["unary"], ... }
 */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let help = false;
  let only: string[] = [];
  let serverCpu: number | undefined;
  let loadCpu: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = splitFlag(argv[i]!);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new Error(`${flag}: needs a value`);
      return v;
    };
    const cpu = () => {
      const v = value();
      if (!/^\d+$/.test(v)) throw new Error(`${flag}: must be a CPU number, got "${v}"`);
      return Number(v);
    };
    switch (flag) {
      case "--quick":
        quick = true;
        break;
      case "--only":
        only = value()
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "");
        break;
      case "--server-cpu":
        serverCpu = cpu();
        break;
      case "--load-cpu":
        loadCpu = cpu();
        break;
      case "--help":
      case "-h":
        help = true;
        break;
      default:
        throw new Error(`unknown flag ${JSON.stringify(argv[i])}`);
    }
  }
  return { quick, only, serverCpu, loadCpu, help };
}

function splitFlag(arg: string): [string, string | undefined] {
  const eq = arg.indexOf("=");
  return arg.startsWith("--") && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
}
