// Zhou et al. (2023), least-to-most prompting: on last-letter concatenation, chain of thought degrades as the
// lists grow longer than the exemplars', while decomposing into sub-problems and solving them in order keeps
// up better (easy-to-hard generalisation). Accuracy against the number of words for few-shot CoT and
// least-to-most, both run by the prompt runner.
//
// Sized for the lab decoders' 256-token context. The demonstrations are two-word lists (as in the paper, the
// exemplars are shorter than the test lists), rendered by the same builders as the pretraining texts
// (src/tasks/synthetic/format.ts), and drawn from the pretraining split so none is an evaluated list. With k = 1
// a CoT prompt for six words is about 90 tokens plus a 90-token rationale; least-to-most's solving stage keeps
// every answered step in its prompt (about 120 tokens for two words, 270 for four, 440 for six without any
// exemplar), so its long lists cannot fit. k = 0 (the model knows the formats from pretraining) is run as well.
// An example whose prompt does not fit, or whose generation the engine cut at the context (guardContext), is
// reported as too long and left out of the accuracy, never scored on a truncated answer.

import { guardContext } from "../../lm/context-guard.js";
import { lastLetterTaskRecords } from "../../tasks/synthetic/last-letter.js";
import type { ExampleRecord } from "../results-store.js";
import { measurementOf } from "./classification-cell.js";
import {
  type CellSpec,
  cellKey,
  type ExperimentDefinition,
  type ExperimentRow,
  type ExperimentTable,
} from "./experiment.js";
import { answerTask, runPromptCell } from "./prompt-cell.js";
import { accuracyLineChart, poolRows, rowsWhere } from "./summary.js";

const DATA_SEED = 1234;
const DEMO_SEED = 4321;
const DEMO_WORDS = 2;
const DEMO_POOL = 16;
export const LTM_SHOTS = [0, 1] as const;
export const LTM_STRATEGIES = ["cot", "least-to-most"] as const;
export const LIST_LENGTHS = [2, 3, 4, 5, 6] as const;
/** Per generation: a six-word rationale is about 90 tokens, a five-item decomposition about 115. */
export const LTM_MAX_TOKENS = 128;

/** The demonstration pool: two-word lists of the pretraining split, ids prefixed so none equals a test id. */
export function leastToMostDemonstrations() {
  return answerTask(
    lastLetterTaskRecords({ seed: DEMO_SEED, count: DEMO_POOL, n: DEMO_WORDS, split: "train" }),
  ).map((example) => ({ ...example, id: `demo-${example.id}` }));
}

export const leastToMostExperiment: ExperimentDefinition = {
  name: "least-to-most",
  title: "Last-letter concatenation: CoT vs least-to-most by list length",
  finding:
    "Zhou et al. 2023: least-to-most prompting generalises to longer lists than chain of thought as problems get harder.",
  defaults: { full: { seeds: 1, examples: 25 }, quick: { seeds: 1, examples: 3 } },
  plan(settings) {
    const lengths = settings.quick ? [2, 4] : [...LIST_LENGTHS];
    const shots = settings.quick ? [1] : [...LTM_SHOTS];
    const cells: CellSpec[] = [];
    for (const words of lengths)
      for (const k of shots)
        for (const strategy of LTM_STRATEGIES)
          for (let seed = 0; seed < settings.seeds; seed++) {
            const coordinates = { strategy, k, words, seed };
            cells.push({ key: cellKey(coordinates), coordinates });
          }
    return {
      setup: {
        model: settings.models[0],
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        data: `synthetic last-letter concatenation (held-out words), data seed ${DATA_SEED}`,
        demonstrations: `${DEMO_POOL} ${DEMO_WORDS}-word lists of the pretraining split, seed ${DEMO_SEED}`,
        words: lengths,
        k: shots,
        strategies: [...LTM_STRATEGIES],
        maxTokens: LTM_MAX_TOKENS,
        decoding: "greedy",
        seeds: settings.seeds,
        examplesPerCell: settings.examples,
      },
      cells,
    };
  },
  async runCell(cell, context) {
    const { strategy, k, words, seed } = cell.coordinates as {
      strategy: "cot" | "least-to-most";
      k: number;
      words: number;
      seed: number;
    };
    const examples = await runPromptCell(
      { ...context, lm: (model) => guardContext(context.lm(model)) },
      {
        model: context.settings.models[0] as string,
        taskName: `synthetic:last-letter-n${words}`,
        task: answerTask(
          lastLetterTaskRecords({ seed: DATA_SEED, count: context.settings.examples, n: words }),
        ),
        limit: context.settings.examples,
        run: {
          strategy,
          k,
          seed,
          answerType: "text",
          demonstrations: leastToMostDemonstrations(),
          maxTokens: LTM_MAX_TOKENS,
        },
      },
    );
    const reasons = tooLongReasons(examples);
    return {
      measurements: [measurementOf(examples)],
      ...(reasons.length > 0 ? { extra: { tooLong: reasons } } : {}),
    };
  },
  summarize(cells) {
    const rowKeys = ["strategy", "k", "words"];
    const rows = poolRows(cells, rowKeys);
    const shots = [...new Set(cells.map((cell) => Number(cell.coordinates.k)))].sort((a, b) => a - b);
    const chart = accuracyLineChart(
      "Last-letter concatenation: accuracy vs words",
      "words in the list",
      LTM_STRATEGIES.flatMap((strategy) =>
        shots.map((k) => ({
          name: `${strategy} k=${k}`,
          rows: rowsWhere(rows, { strategy, k }),
          x: (row: ExperimentRow) => Number(row.coordinates.words),
        })),
      ),
    );
    const tooLong = tooLongTable(cells);
    return { rows, rowKeys, chart, ...(tooLong ? { tables: [tooLong] } : {}) };
  },
};

/** The first two distinct reasons an example did not fit (the engine's or guardContext's message). */
function tooLongReasons(records: readonly ExampleRecord[]): string[] {
  const reasons: string[] = [];
  for (const record of records) {
    const error = (record as { tooLong?: boolean; error?: string }).tooLong
      ? (record as { error?: string }).error
      : undefined;
    if (error !== undefined && !reasons.includes(error) && reasons.length < 2) reasons.push(error);
  }
  return reasons;
}

/** Per cell with examples left out: how many, and why (so a row without accuracy says what happened). */
function tooLongTable(cells: Parameters<ExperimentDefinition["summarize"]>[0]): ExperimentTable | null {
  const rows: ExperimentTable["rows"] = [];
  for (const cell of cells) {
    const excluded = cell.measurements[0]?.excluded ?? 0;
    if (excluded === 0) continue;
    const total = excluded + (cell.measurements[0]?.total ?? 0);
    const reasons = (cell.extra?.tooLong as string[] | undefined) ?? [];
    const { strategy, k, words, seed } = cell.coordinates;
    rows.push([
      strategy ?? null,
      k ?? null,
      words ?? null,
      seed ?? null,
      `${excluded}/${total}`,
      reasons[0] ?? "",
    ]);
  }
  if (rows.length === 0) return null;
  return {
    title: "Examples skipped: prompt or generation over the model's context",
    columns: ["strategy", "k", "words", "seed", "skipped", "first reason"],
    rows,
    note: "skipped examples are not scored; a row with every example skipped has no accuracy",
  };
}
