// Min et al. (2022), "Rethinking the Role of Demonstrations": replacing the gold labels of in-context
// demonstrations with random labels costs little accuracy, while having demonstrations at all matters. Per
// task: no demonstrations, k demonstrations with gold labels, k with labels drawn uniformly at random (the
// prompting layer's "random" perturbation, seeded), for k in {4, 8, 16} and several demonstration draws.

import { buildFewShotPrompt, type LabelPerturbation } from "../../prompting/index.js";
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

export const DEMO_LABELS_K = [4, 8, 16] as const;
const QUICK_K = [4] as const;

export const demoLabels: ExperimentDefinition = {
  name: "demo-labels",
  title: "No demonstrations vs gold vs random labels",
  finding:
    "Min et al. 2022: demonstrations help, but whether their labels are correct matters little (random labels ≈ gold).",
  defaults: { full: { seeds: 2, examples: 40 }, quick: { seeds: 1, examples: 8 } },
  multiModel: true,
  plan(settings) {
    const ks = settings.quick ? [...QUICK_K] : [...DEMO_LABELS_K];
    const tasks = settings.quick ? CLASSIFICATION_TASKS.slice(0, 2) : [...CLASSIFICATION_TASKS];
    const cells: CellSpec[] = [];
    for (const model of settings.models.map(modelLabel)) {
      for (const task of tasks) {
        // without demonstrations the prompt has no random part: one cell, whatever the seed count
        cells.push(spec({ model, task, condition: "none", k: 0, seed: 0 }));
        for (const k of ks)
          for (const condition of ["gold", "random"])
            for (let seed = 0; seed < settings.seeds; seed++)
              cells.push(spec({ model, task, condition, k, seed }));
      }
    }
    return {
      setup: {
        models: settings.models,
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        data: `synthetic classification tasks (first domain, 2 classes, semantic labels), data seed ${DATA_SEED}`,
        tasks,
        k: ks,
        conditions: ["none", "gold", "random"],
        seeds: settings.seeds,
        examplesPerCell: settings.examples,
        demonstrationPool: DEMONSTRATION_POOL,
        template: EXPERIMENT_CLASSIFICATION_TEMPLATE.name,
        classification: "log-likelihood of each label (where the backend can score)",
      },
      cells,
    };
  },
  async runCell(cell, context) {
    const { model, task, condition, k, seed } = cell.coordinates as {
      model: string;
      task: string;
      condition: string;
      k: number;
      seed: number;
    };
    const split = classificationSplit(task, { examples: context.settings.examples });
    const labelPerturbation: LabelPerturbation = condition === "random" ? "random" : "gold";
    const records = await runClassificationCell({
      lm: context.lm(model),
      dir: context.dir,
      setup: {
        model,
        ...(context.settings.endpoint ? { endpoint: context.settings.endpoint } : {}),
        taskFile: `synthetic:${task}-${split.domain}`,
        strategy: k === 0 ? "zero-shot" : "few-shot",
        options: { k, labels: labelPerturbation, examples: context.settings.examples },
        seed,
      },
      queries: split.queries,
      goldOf: (id) => (id === undefined ? undefined : split.gold.get(id)),
      prompt: (query, index) =>
        buildFewShotPrompt(EXPERIMENT_CLASSIFICATION_TEMPLATE, split.pool, query, {
          labels: split.labels,
          k,
          labelPerturbation,
          seed: demonstrationSeed(seed, index),
        }),
      ...(context.signal ? { signal: context.signal } : {}),
      ...(context.onExample ? { onExample: context.onExample } : {}),
    });
    return { measurements: [measurementOf(records)], extra: { predictions: predictionCounts(records) } };
  },
  summarize(cells) {
    const rowKeys = ["model", "task", "condition", "k"];
    const rows = poolRows(cells, rowKeys);
    // the plot pools tasks: one line per model and condition, accuracy against k; "none" is drawn flat
    // across the k values so it reads as the baseline
    const byCondition = poolRows(cells, ["model", "condition", "k"]);
    const ks = distinct(byCondition, "k").filter((k) => k !== 0) as number[];
    const models = distinct(byCondition, "model");
    const series = models.flatMap((model) => {
      const prefix = models.length > 1 ? `${model}: ` : "";
      const none = rowsWhere(byCondition, { model, condition: "none" })[0];
      return [
        ...(none ? [flatSeries(`${prefix}no demos`, none, ks)] : []),
        ...["gold", "random"].map((condition) => ({
          name: `${prefix}${condition} labels`,
          rows: rowsWhere(byCondition, { model, condition }),
          x: (row: ExperimentRow) => Number(row.coordinates.k),
        })),
      ];
    });
    const chart = accuracyLineChart(
      "Accuracy vs demonstrations (pooled over tasks and seeds)",
      "demonstrations k",
      series,
    );
    return { rows, rowKeys, tables: [predictionTable(cells, rowKeys)], chart };
  },
};

function spec(coordinates: {
  model: string;
  task: string;
  condition: string;
  k: number;
  seed: number;
}): CellSpec {
  return { key: cellKey(coordinates), coordinates };
}
