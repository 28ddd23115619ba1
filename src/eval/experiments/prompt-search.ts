// Automatic prompt search against a hand-written instruction: APE (Zhou et al. 2023; the model induces
// instructions from input-output pairs, they are scored on dev pairs, the best is kept) and RLPrompt (Deng et
// al. 2022; a policy over discrete words is trained with rewards from the task model). Each method's prompt
// is then evaluated zero-shot on the same held-out queries; the table adds the search's cost in model calls
// and tokens (a hand-written instruction costs none). The search result is kept in the cell folder
// (search.json), so a resumed cell evaluates the same prompt without searching again.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../io/atomic-file.js";
import { UsageMeter } from "../../lm/usage-meter.js";
import {
  buildFewShotPrompt,
  formatTarget,
  searchInstructions,
  searchPromptRl,
} from "../../prompting/index.js";
import type { PromptTemplate } from "../../prompting/template.js";
import { measurementOf, runClassificationCell } from "./classification-cell.js";
import { classificationSplit, DATA_SEED } from "./classification-data.js";
import { type CellSpec, cellKey, type ExperimentDefinition, type ExperimentTable } from "./experiment.js";
import { percent, poolRows } from "./summary.js";

export const SEARCH_METHODS = ["hand-written", "ape", "rl-prompt"] as const;
export const SEARCH_TASK = "sentiment";
export const HAND_WRITTEN_INSTRUCTION = "Is the sentiment of the input positive or negative?";
/** RLPrompt's word vocabulary: task-relevant and filler words. */
export const RL_VOCABULARY = [
  "sentiment",
  "positive",
  "negative",
  "review",
  "label",
  "classify",
  "the",
  "input",
  "is",
  "good",
  "bad",
  "feeling",
  "text",
  "answer",
  "opinion",
  "mood",
] as const;

const SIZES = {
  full: {
    ape: { subsets: 2, candidatesPerSubset: 4, dev: 16 },
    rl: { steps: 12, batchSize: 4, examplesPerStep: 8 },
  },
  quick: {
    ape: { subsets: 1, candidatesPerSubset: 2, dev: 4 },
    rl: { steps: 2, batchSize: 2, examplesPerStep: 4 },
  },
} as const;

function template(instruction: string): PromptTemplate {
  return {
    name: "prompt-search/instruction",
    instruction,
    input: "Input: {{input}}\nLabel:",
    target: " {{label}}",
  };
}

interface SearchOutcome {
  instruction: string;
  /** The search's own score of the chosen prompt (dev score for APE, reward for RL). */
  searchScore: number | null;
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

export const promptSearch: ExperimentDefinition = {
  name: "prompt-search",
  title: "Prompt search: APE vs RLPrompt vs a hand-written instruction",
  finding:
    "Zhou et al. 2023 (APE), Deng et al. 2022 (RLPrompt): searched prompts can match or beat hand-written ones, at a search cost of many model calls.",
  defaults: { full: { seeds: 1, examples: 40 }, quick: { seeds: 1, examples: 6 } },
  plan(settings) {
    const cells: CellSpec[] = [];
    for (const method of SEARCH_METHODS)
      for (let seed = 0; seed < settings.seeds; seed++) {
        const coordinates = { method, seed };
        cells.push({ key: cellKey(coordinates), coordinates });
      }
    const sizes = settings.quick ? SIZES.quick : SIZES.full;
    return {
      setup: {
        model: settings.models[0],
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        data: `synthetic ${SEARCH_TASK} (first domain, semantic labels), data seed ${DATA_SEED}; search on the demonstration pool, evaluation on held-out queries`,
        methods: [...SEARCH_METHODS],
        handWritten: HAND_WRITTEN_INSTRUCTION,
        ape: { ...sizes.ape, scoring: "likelihood" },
        rlPrompt: { ...sizes.rl, promptLength: 5, vocabulary: RL_VOCABULARY.length },
        evaluation: "zero-shot, the prompt as instruction, log-likelihood of each label",
        seeds: settings.seeds,
        examplesPerCell: settings.examples,
      },
      cells,
    };
  },
  async runCell(cell, context) {
    const { method, seed } = cell.coordinates as { method: string; seed: number };
    const model = context.settings.models[0] as string;
    const split = classificationSplit(SEARCH_TASK, { examples: context.settings.examples });
    const sizes = context.settings.quick ? SIZES.quick : SIZES.full;
    const searchPath = join(context.dir, "search.json");
    let search: SearchOutcome;
    if (existsSync(searchPath)) search = JSON.parse(readFileSync(searchPath, "utf8")) as SearchOutcome;
    else {
      const meter = new UsageMeter();
      const lm = meter.wrap(context.lm(model));
      const pairs = split.pool.map((e) => ({ input: e.fields.input as string, output: e.label }));
      let instruction = HAND_WRITTEN_INSTRUCTION;
      let searchScore: number | null = null;
      if (method === "ape") {
        const result = await searchInstructions(lm, {
          demonstrations: pairs.slice(sizes.ape.dev),
          dev: pairs.slice(0, sizes.ape.dev),
          subsets: sizes.ape.subsets,
          candidatesPerSubset: sizes.ape.candidatesPerSubset,
          scoring: "likelihood",
          seed,
          ...(context.signal ? { signal: context.signal } : {}),
        });
        instruction = result.best.instruction;
        searchScore = result.best.score;
      } else if (method === "rl-prompt") {
        const result = await searchPromptRl(lm, {
          vocabulary: RL_VOCABULARY,
          examples: split.pool,
          buildPrompt: (prompt, example) => `${prompt}\n\nInput: ${example.fields.input}\nLabel:`,
          candidates: () =>
            split.labels.map((label) => ({ label, continuation: formatTarget(template(""), label) })),
          steps: sizes.rl.steps,
          batchSize: sizes.rl.batchSize,
          examplesPerStep: sizes.rl.examplesPerStep,
          seed,
          ...(context.signal ? { signal: context.signal } : {}),
        });
        instruction = result.bestPrompt;
        searchScore = result.bestReward;
      }
      const usage = meter.snapshot();
      search = {
        instruction,
        searchScore,
        requests: usage.requests,
        promptTokens: usage.promptTokens,
        completionTokens: usage.completionTokens,
      };
      writeFileAtomic(searchPath, `${JSON.stringify(search, null, 2)}\n`);
    }
    const records = await runClassificationCell({
      lm: context.lm(model),
      dir: join(context.dir, "evaluation"),
      setup: {
        model,
        ...(context.settings.endpoint ? { endpoint: context.settings.endpoint } : {}),
        taskFile: `synthetic:${SEARCH_TASK}-${split.domain}`,
        strategy: "zero-shot",
        options: { instruction: search.instruction, examples: context.settings.examples },
        seed,
      },
      queries: split.queries,
      prompt: (query) =>
        buildFewShotPrompt(template(search.instruction), split.pool, query, { labels: split.labels, k: 0 }),
      ...(context.signal ? { signal: context.signal } : {}),
      ...(context.onExample ? { onExample: context.onExample } : {}),
    });
    return {
      measurements: [measurementOf(records)],
      extra: { ...search },
    };
  },
  summarize(cells) {
    const rowKeys = ["method"];
    const rows = poolRows(cells, rowKeys);
    const cost: ExperimentTable = {
      title: "Prompts found and their search cost",
      columns: ["method", "seed", "prompt", "search score", "test accuracy", "search calls", "search tokens"],
      rows: cells.map((cell) => {
        const extra = (cell.extra ?? {}) as Partial<SearchOutcome>;
        return [
          String(cell.coordinates.method),
          Number(cell.coordinates.seed),
          JSON.stringify(extra.instruction ?? ""),
          extra.searchScore === null || extra.searchScore === undefined
            ? null
            : Number(extra.searchScore.toFixed(3)),
          percent(cell.measurements[0]?.accuracy ?? 0),
          extra.requests ?? 0,
          (extra.promptTokens ?? 0) + (extra.completionTokens ?? 0),
        ];
      }),
    };
    return {
      rows,
      rowKeys,
      tables: [cost],
      chart: {
        kind: "bars",
        title: "Zero-shot test accuracy of each method's prompt (95% CI)",
        xLabel: "prompt",
        yLabel: "accuracy",
        percent: true,
        bars: rows
          .filter((row) => row.total > 0)
          .map((row) => ({
            category: String(row.coordinates.method),
            group: "accuracy",
            value: row.accuracy,
            low: row.low,
            high: row.high,
          })),
      },
    };
  },
};
