// Wei et al. (2023), "Larger language models do in-context learning differently": as a growing share of the
// demonstrations' labels is flipped, small models keep following their semantic priors (accuracy stays up)
// while large models follow the flipped demonstrations (accuracy falls below chance at 100% flipped); with
// semantically unrelated labels (foo/bar) only models that learn the mapping from the context do well.
// One line per model size: accuracy against the percentage of flipped demonstration labels, plus the
// unrelated-labels condition.

import {
  buildFewShotPrompt,
  buildPrompt,
  createRng,
  type FewShotPrompt,
  formatTarget,
  type LabelledExample,
  perturbLabels,
  selectDemonstrations,
  shuffled,
} from "../../prompting/index.js";
import type { PromptTemplate } from "../../prompting/template.js";
import { measurementOf, predictionCounts, runClassificationCell } from "./classification-cell.js";
import {
  CLASSIFICATION_TASKS,
  classificationSplit,
  DATA_SEED,
  DEMONSTRATION_POOL,
  demonstrationSeed,
  EXPERIMENT_CLASSIFICATION_TEMPLATE,
} from "./classification-data.js";
import { type CellSpec, cellKey, type ExperimentDefinition, type ExperimentRow } from "./experiment.js";
import { modelLabel } from "./runner.js";
import { accuracyLineChart, distinct, flatSeries, poolRows, predictionTable, rowsWhere } from "./summary.js";

export const FLIP_PERCENTAGES = [0, 25, 50, 75, 100] as const;
const QUICK_FLIP_PERCENTAGES = [0, 50, 100] as const;

/**
 * k demonstrations (random selection, seeded) of which round(k * percent / 100), chosen by a seeded shuffle,
 * carry a flipped label (the prompting layer's "flipped" perturbation); the rest keep their gold label.
 */
export function partiallyFlippedPrompt(
  template: PromptTemplate,
  pool: readonly LabelledExample[],
  query: LabelledExample,
  options: { labels: readonly string[]; k: number; percent: number; seed: number },
): FewShotPrompt {
  const selected = selectDemonstrations(pool, {
    k: options.k,
    strategy: "random",
    seed: options.seed,
    query,
  });
  const flipCount = Math.round((options.k * options.percent) / 100);
  const flipped = new Set(shuffled([...selected.keys()], createRng(options.seed + 2)).slice(0, flipCount));
  const demonstrations = selected.map((demo, i) =>
    flipped.has(i)
      ? (perturbLabels([demo], "flipped", { labels: options.labels }).demonstrations[0] as LabelledExample)
      : demo,
  );
  return {
    prompt: buildPrompt(template, demonstrations, query, { labels: options.labels }),
    demonstrations,
    candidates: options.labels.map((label) => ({ label, continuation: formatTarget(template, label) })),
    verbalizer: template.verbalizer,
  };
}

export const flippedLabels: ExperimentDefinition = {
  name: "flipped-labels",
  title: "Accuracy vs flipped demonstration labels, per model size",
  finding:
    "Wei et al. 2023: larger models override semantic priors and follow flipped labels (accuracy drops below chance); smaller ones do not. Unrelated labels (foo/bar) need the mapping to be learnt in context.",
  defaults: { full: { seeds: 2, examples: 40 }, quick: { seeds: 1, examples: 8 } },
  multiModel: true,
  plan(settings) {
    const percents = settings.quick ? [...QUICK_FLIP_PERCENTAGES] : [...FLIP_PERCENTAGES];
    const tasks = settings.quick ? CLASSIFICATION_TASKS.slice(0, 2) : [...CLASSIFICATION_TASKS];
    const k = settings.quick ? 4 : 8;
    const cells: CellSpec[] = [];
    for (const model of settings.models.map(modelLabel))
      for (const task of tasks)
        for (let seed = 0; seed < settings.seeds; seed++) {
          for (const flipped of percents)
            cells.push(spec({ model, task, condition: "flipped", flipped, seed }));
          cells.push(spec({ model, task, condition: "unrelated", flipped: 0, seed }));
        }
    return {
      setup: {
        models: settings.models,
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        data: `synthetic classification tasks (first domain, 2 classes, semantic labels), data seed ${DATA_SEED}`,
        tasks,
        k,
        flippedPercent: percents,
        conditions: ["flipped", "unrelated"],
        seeds: settings.seeds,
        examplesPerCell: settings.examples,
        demonstrationPool: DEMONSTRATION_POOL,
        template: EXPERIMENT_CLASSIFICATION_TEMPLATE.name,
        classification: "log-likelihood of each label (where the backend can score)",
      },
      cells,
    };
  },
  async runCell(cell, context, plan) {
    const { model, task, condition, flipped, seed } = cell.coordinates as {
      model: string;
      task: string;
      condition: string;
      flipped: number;
      seed: number;
    };
    const k = plan.setup.k as number;
    const split = classificationSplit(task, { examples: context.settings.examples });
    const records = await runClassificationCell({
      lm: context.lm(model),
      dir: context.dir,
      setup: {
        model,
        ...(context.settings.endpoint ? { endpoint: context.settings.endpoint } : {}),
        taskFile: `synthetic:${task}-${split.domain}`,
        strategy: "few-shot",
        options: { k, condition, flippedPercent: flipped, examples: context.settings.examples },
        seed,
      },
      queries: split.queries,
      goldOf: (id) => (id === undefined ? undefined : split.gold.get(id)),
      prompt: (query, index) =>
        condition === "unrelated"
          ? buildFewShotPrompt(EXPERIMENT_CLASSIFICATION_TEMPLATE, split.pool, query, {
              labels: split.labels,
              k,
              labelPerturbation: "unrelated",
              seed: demonstrationSeed(seed, index),
            })
          : partiallyFlippedPrompt(EXPERIMENT_CLASSIFICATION_TEMPLATE, split.pool, query, {
              labels: split.labels,
              k,
              percent: flipped,
              seed: demonstrationSeed(seed, index),
            }),
      ...(context.signal ? { signal: context.signal } : {}),
      ...(context.onExample ? { onExample: context.onExample } : {}),
    });
    return { measurements: [measurementOf(records)], extra: { predictions: predictionCounts(records) } };
  },
  summarize(cells) {
    const rowKeys = ["model", "task", "condition", "flipped"];
    const rows = poolRows(cells, rowKeys);
    const pooled = poolRows(cells, ["model", "condition", "flipped"]);
    const percents = distinct(rowsWhere(pooled, { condition: "flipped" }), "flipped") as number[];
    const series = distinct(pooled, "model").flatMap((model) => {
      const unrelated = rowsWhere(pooled, { model, condition: "unrelated" })[0];
      return [
        {
          name: `${model}`,
          rows: rowsWhere(pooled, { model, condition: "flipped" }),
          x: (row: ExperimentRow) => Number(row.coordinates.flipped),
        },
        ...(unrelated ? [flatSeries(`${model}: unrelated labels`, unrelated, percents)] : []),
      ];
    });
    const chart = accuracyLineChart(
      "Accuracy vs % flipped demonstration labels (pooled over tasks and seeds)",
      "% of demonstration labels flipped",
      series,
    );
    return { rows, rowKeys, tables: [predictionTable(cells, rowKeys)], chart };
  },
};

function spec(coordinates: {
  model: string;
  task: string;
  condition: string;
  flipped: number;
  seed: number;
}): CellSpec {
  return { key: cellKey(coordinates), coordinates };
}
