// In-context learning of a numeric classification task (the lecture's "ICL as learning a function from
// examples", cf. Garg et al. 2022 on in-context learning of simple function classes): inputs are vectors of
// small integers, the class is whether their sum reaches a threshold, and the label words are arbitrary
// (foo/bar), so nothing but the demonstrations tells the model the rule. Accuracy against the number of
// demonstrations k; the task is generated here, seeded.

import { buildFewShotPrompt, createRng, type LabelledExample, randomIndex } from "../../prompting/index.js";
import { measurementOf, predictionCounts, runClassificationCell } from "./classification-cell.js";
import { demonstrationSeed, EXPERIMENT_CLASSIFICATION_TEMPLATE } from "./classification-data.js";
import { type CellSpec, cellKey, type ExperimentDefinition, type ExperimentRow } from "./experiment.js";
import { modelLabel } from "./runner.js";
import { accuracyLineChart, distinct, poolRows, predictionTable, rowsWhere } from "./summary.js";

export const NUMERIC_LABELS = ["foo", "bar"] as const;
export const NUMERIC_DIMENSIONS = 3;
const NUMERIC_POOL = 64;
const NUMERIC_DATA_SEED = 77;

/**
 * `count` labelled vectors of `dimensions` integers in 0..9, classes alternating (balanced): "foo" when the
 * sum is at least 4.5 per dimension, else "bar", drawn by rejection from uniform vectors.
 */
export function numericTask(seed: number, count: number, dimensions = NUMERIC_DIMENSIONS): LabelledExample[] {
  const rng = createRng(seed);
  const threshold = 4.5 * dimensions;
  return Array.from({ length: count }, (_, i) => {
    const label = NUMERIC_LABELS[i % 2] as string;
    for (;;) {
      const vector = Array.from({ length: dimensions }, () => randomIndex(rng, 10));
      const sum = vector.reduce((a, b) => a + b, 0);
      if ((sum >= threshold ? "foo" : "bar") === label)
        return { id: `numeric-${i}`, fields: { input: vector.join(" ") }, label };
    }
  });
}

export const NUMERIC_K = [0, 2, 4, 8, 16] as const;

export const iclNumeric: ExperimentDefinition = {
  name: "icl-numeric",
  title: "In-context classification of numeric vectors vs k",
  finding:
    "In-context learning as learning from examples: with arbitrary labels, accuracy above chance can only come from the demonstrations, and should grow with k.",
  defaults: { full: { seeds: 3, examples: 40 }, quick: { seeds: 1, examples: 8 } },
  multiModel: true,
  plan(settings) {
    const ks = settings.quick ? [0, 4] : [...NUMERIC_K];
    const cells: CellSpec[] = [];
    for (const model of settings.models.map(modelLabel))
      for (const k of ks)
        for (let seed = 0; seed < (k === 0 ? 1 : settings.seeds); seed++) {
          const coordinates = { model, k, seed };
          cells.push({ key: cellKey(coordinates), coordinates });
        }
    return {
      setup: {
        models: settings.models,
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        data: `${NUMERIC_DIMENSIONS} integers 0-9; label foo if their sum >= ${4.5 * NUMERIC_DIMENSIONS} else bar; balanced; data seed ${NUMERIC_DATA_SEED}`,
        k: ks,
        seeds: settings.seeds,
        examplesPerCell: settings.examples,
        demonstrationPool: NUMERIC_POOL,
        template: EXPERIMENT_CLASSIFICATION_TEMPLATE.name,
      },
      cells,
    };
  },
  async runCell(cell, context) {
    const { model, k, seed } = cell.coordinates as { model: string; k: number; seed: number };
    const examples = numericTask(NUMERIC_DATA_SEED, context.settings.examples + NUMERIC_POOL);
    const queries = examples.slice(0, context.settings.examples);
    const pool = examples.slice(context.settings.examples);
    const gold = new Map(examples.map((e) => [e.id as string, e.label]));
    const records = await runClassificationCell({
      lm: context.lm(model),
      dir: context.dir,
      setup: {
        model,
        ...(context.settings.endpoint ? { endpoint: context.settings.endpoint } : {}),
        taskFile: "generated:numeric-sum",
        strategy: k === 0 ? "zero-shot" : "few-shot",
        options: { k, examples: context.settings.examples, dimensions: NUMERIC_DIMENSIONS },
        seed,
      },
      queries,
      goldOf: (id) => (id === undefined ? undefined : gold.get(id)),
      prompt: (query, index) =>
        buildFewShotPrompt(EXPERIMENT_CLASSIFICATION_TEMPLATE, pool, query, {
          labels: [...NUMERIC_LABELS],
          k,
          selection: "random",
          seed: demonstrationSeed(seed, index),
        }),
      ...(context.signal ? { signal: context.signal } : {}),
      ...(context.onExample ? { onExample: context.onExample } : {}),
    });
    return { measurements: [measurementOf(records)], extra: { predictions: predictionCounts(records) } };
  },
  summarize(cells) {
    const rowKeys = ["model", "k"];
    const rows = poolRows(cells, rowKeys);
    const chart = accuracyLineChart(
      "Numeric in-context classification: accuracy vs k (pooled over seeds)",
      "demonstrations k",
      distinct(rows, "model").map((model) => ({
        name: String(model),
        rows: rowsWhere(rows, { model }),
        x: (row: ExperimentRow) => Number(row.coordinates.k),
      })),
    );
    return { rows, rowKeys, tables: [predictionTable(cells, rowKeys)], chart };
  },
};
