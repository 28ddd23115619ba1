// `npm run bench`: runs the benchmark suites and prints, per suite, a table of rows
// {name, ours_ms, ref_ms, ratio} with ratio = ref_ms / ours_ms (above 1: we are faster than the reference
// measured in the same run), or with --json one JSON object per row, one per line.
//
//   node dist/bench/main.js [--json] [--quick] [suite ...]   (--help lists the suites)
//
// A suite is an object {name, description, run(context)}; add one by importing it into `suites` below.
// Numbers on shared machines are noisy: suites report the best of several runs after a warm-up.

import { bertTrainingStepSuite } from "./suites/bert-training-step.js";
import { gemmSuite } from "./suites/gemm.js";
import { generationSuite } from "./suites/generation.js";
import { promptingSuite } from "./suites/prompting.js";
import { trainingSuite } from "./suites/training.js";

export interface BenchRow {
  /** What was measured, e.g. "native 512x768x768 1 thread vs torch". */
  name: string;
  /** Our time in milliseconds (best of several runs). */
  ours_ms: number;
  /** The reference's time in milliseconds, or null when the reference is not available here. */
  ref_ms: number | null;
  /** ref_ms / ours_ms: above 1 means we are faster. */
  ratio: number | null;
  /** Free-form extra columns (GFLOP/s, thread counts, which reference) shown after the main ones. */
  detail?: Record<string, string | number | null>;
}

export interface BenchContext {
  /** Fewer repetitions and smaller problem lists, for a smoke run. */
  readonly quick: boolean;
  /** Records one result row. */
  row(row: Omit<BenchRow, "ratio"> & { ratio?: number | null }): void;
  /** A line of context (what the reference runs on, what is missing); printed above the table. */
  note(text: string): void;
}

export interface BenchSuite {
  name: string;
  description: string;
  run(context: BenchContext): Promise<void>;
}

const suites: BenchSuite[] = [
  gemmSuite,
  trainingSuite,
  generationSuite,
  bertTrainingStepSuite,
  promptingSuite,
];

function format(value: number | null, digits: number): string {
  if (value === null || !Number.isFinite(value)) return "-";
  return value.toFixed(digits);
}

function printTable(suite: BenchSuite, notes: string[], rows: BenchRow[]): void {
  console.log(`\n== ${suite.name}: ${suite.description}`);
  for (const note of notes) console.log(`   ${note}`);
  const detailKeys = [...new Set(rows.flatMap((r) => Object.keys(r.detail ?? {})))];
  const header = ["name", "ours_ms", "ref_ms", "ratio", ...detailKeys];
  const cells = rows.map((r) => [
    r.name,
    format(r.ours_ms, 3),
    format(r.ref_ms, 3),
    format(r.ratio, 2),
    ...detailKeys.map((key) => {
      const v = r.detail?.[key];
      return typeof v === "number" ? format(v, Math.abs(v) >= 100 ? 1 : 3) : (v ?? "-");
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (values: string[]) =>
    values.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(
      [
        "npm run bench -- [--json] [--quick] [suite ...]",
        "",
        "Runs the benchmark suites (all, or the ones named) and prints one table per suite; ratio = reference",
        "time / ours, above 1 = adaptlm is faster. References (PyTorch, NumPy via /usr/bin/python3) are measured",
        "in the same run when installed (npm run bench:setup). Speed is never asserted by a test.",
        "",
        "  --json    one JSON object per row, one per line",
        "  --quick   shorter measurements: fewer runs and tokens (a smoke run, not numbers to quote)",
        "",
        "Suites:",
        ...suites.map((s) => `  ${s.name.padEnd(20)}${s.description}`),
      ].join("\n"),
    );
    return;
  }
  const json = args.includes("--json");
  const quick = args.includes("--quick");
  const unknownFlags = args.filter((a) => a.startsWith("-") && a !== "--json" && a !== "--quick");
  if (unknownFlags.length > 0) {
    console.error(`unknown option(s) ${unknownFlags.join(", ")}; see --help`);
    process.exit(2);
  }
  const wanted = args.filter((a) => !a.startsWith("--"));
  const unknown = wanted.filter((w) => !suites.some((s) => s.name === w));
  if (unknown.length > 0) {
    console.error(
      `unknown suite(s) ${unknown.join(", ")}; available: ${suites.map((s) => s.name).join(", ")}`,
    );
    process.exit(2);
  }
  for (const suite of suites) {
    if (wanted.length > 0 && !wanted.includes(suite.name)) continue;
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    const context: BenchContext = {
      quick,
      row(partial) {
        const ratio =
          partial.ratio !== undefined
            ? partial.ratio
            : partial.ref_ms === null || partial.ours_ms <= 0
              ? null
              : partial.ref_ms / partial.ours_ms;
        const row: BenchRow = { ...partial, ratio };
        rows.push(row);
        if (json) console.log(JSON.stringify({ suite: suite.name, ...row }));
      },
      note(text) {
        notes.push(text);
        if (json) console.error(`[${suite.name}] ${text}`);
      },
    };
    await suite.run(context);
    if (!json) printTable(suite, notes, rows);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
