// Zhou et al. (2023), least-to-most prompting: on last-letter concatenation, chain of thought degrades as the
// lists grow longer than the exemplars', while decomposing into sub-problems and solving them in order keeps
// up better (easy-to-hard generalisation). Accuracy against the number of words for few-shot CoT and
// least-to-most, both run by the prompt runner with exemplars drawn from the same list length.

import { lastLetterTaskRecords } from "../../tasks/synthetic/last-letter.js";
import { measurementOf } from "./classification-cell.js";
import { type CellSpec, cellKey, type ExperimentDefinition, type ExperimentRow } from "./experiment.js";
import { answerTask, runPromptCell } from "./prompt-cell.js";
import { accuracyLineChart, poolRows, rowsWhere } from "./summary.js";

const DATA_SEED = 1234;
const EXEMPLAR_POOL = 32;
/** One exemplar: two already overflow the lab models' 256-token context in the solving stage. */
export const LTM_K = 1;
export const LTM_STRATEGIES = ["cot", "least-to-most"] as const;
export const LIST_LENGTHS = [2, 3, 4, 5, 6] as const;

export const leastToMostExperiment: ExperimentDefinition = {
  name: "least-to-most",
  title: "Last-letter concatenation: CoT vs least-to-most by list length",
  finding:
    "Zhou et al. 2023: least-to-most prompting generalises to longer lists than chain of thought as problems get harder.",
  defaults: { full: { seeds: 1, examples: 25 }, quick: { seeds: 1, examples: 3 } },
  plan(settings) {
    const lengths = settings.quick ? [2, 4] : [...LIST_LENGTHS];
    const cells: CellSpec[] = [];
    for (const words of lengths)
      for (const strategy of LTM_STRATEGIES)
        for (let seed = 0; seed < settings.seeds; seed++) {
          const coordinates = { strategy, words, seed };
          cells.push({ key: cellKey(coordinates), coordinates });
        }
    return {
      setup: {
        model: settings.models[0],
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        data: `synthetic last-letter concatenation (held-out words), data seed ${DATA_SEED}`,
        words: lengths,
        strategies: [...LTM_STRATEGIES],
        k: LTM_K,
        decoding: "greedy",
        seeds: settings.seeds,
        examplesPerCell: settings.examples,
      },
      cells,
    };
  },
  async runCell(cell, context) {
    const { strategy, words, seed } = cell.coordinates as {
      strategy: "cot" | "least-to-most";
      words: number;
      seed: number;
    };
    const examples = await runPromptCell(context, {
      model: context.settings.models[0] as string,
      taskName: `synthetic:last-letter-n${words}`,
      task: answerTask(
        lastLetterTaskRecords({
          seed: DATA_SEED,
          count: context.settings.examples + EXEMPLAR_POOL,
          n: words,
        }),
      ),
      limit: context.settings.examples,
      run: { strategy, k: LTM_K, seed, answerType: "text" },
    });
    return { measurements: [measurementOf(examples)] };
  },
  summarize(cells) {
    const rowKeys = ["strategy", "words"];
    const rows = poolRows(cells, rowKeys);
    const chart = accuracyLineChart(
      "Last-letter concatenation: accuracy vs words",
      "words in the list",
      LTM_STRATEGIES.map((strategy) => ({
        name: strategy,
        rows: rowsWhere(rows, { strategy }),
        x: (row: ExperimentRow) => Number(row.coordinates.words),
      })),
    );
    return { rows, rowKeys, chart };
  },
};
