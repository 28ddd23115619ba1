// Min et al. (2022): the distribution of the demonstrations' inputs matters. Demonstrations whose inputs come
// from another domain (here: the same task's other input domain, e.g. a sentence instead of a word list)
// help less than in-domain ones. Conditions per task: no demonstrations; k in-domain demonstrations (gold
// labels); k demonstrations drawn from the other domain with their own gold labels; and Min et al.'s
// "out-of-distribution inputs": in-domain demonstrations whose inputs are replaced by other-domain texts
// (labels kept; the prompting layer's outOfDomain option).

import { buildFewShotPrompt } from "../../prompting/index.js";
import { measurementOf, predictionCounts, runClassificationCell } from "./classification-cell.js";
import {
  CLASSIFICATION_TASKS,
  classificationSplit,
  DATA_SEED,
  DEMONSTRATION_POOL,
  demonstrationSeed,
  EXPERIMENT_CLASSIFICATION_TEMPLATE,
  taskDomains,
} from "./classification-data.js";
import { type CellSpec, cellKey, type ExperimentDefinition } from "./experiment.js";
import { modelLabel } from "./runner.js";
import { distinct, poolRows, predictionTable, rowsWhere } from "./summary.js";

export const DOMAIN_CONDITIONS = ["none", "in-domain", "other-domain", "ood-inputs"] as const;

export const demoDomain: ExperimentDefinition = {
  name: "demo-domain",
  title: "In-domain vs out-of-domain demonstration inputs",
  finding:
    "Min et al. 2022: demonstrations help through the distribution of their inputs; inputs from another domain help less than in-domain ones.",
  defaults: { full: { seeds: 2, examples: 40 }, quick: { seeds: 1, examples: 8 } },
  multiModel: true,
  plan(settings) {
    const tasks = settings.quick ? CLASSIFICATION_TASKS.slice(0, 2) : [...CLASSIFICATION_TASKS];
    const k = settings.quick ? 4 : 8;
    const cells: CellSpec[] = [];
    for (const model of settings.models.map(modelLabel))
      for (const task of tasks) {
        cells.push(spec({ model, task, condition: "none", seed: 0 }));
        for (const condition of DOMAIN_CONDITIONS.slice(1))
          for (let seed = 0; seed < settings.seeds; seed++)
            cells.push(spec({ model, task, condition, seed }));
      }
    return {
      setup: {
        models: settings.models,
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        data: `synthetic classification tasks, queries from the first domain, other-domain demonstrations from the second; 2 classes, data seed ${DATA_SEED}`,
        tasks: tasks.map((task) => `${task} (${taskDomains(task).join(" / ")})`),
        k,
        conditions: [...DOMAIN_CONDITIONS],
        seeds: settings.seeds,
        examplesPerCell: settings.examples,
        demonstrationPool: DEMONSTRATION_POOL,
        template: EXPERIMENT_CLASSIFICATION_TEMPLATE.name,
      },
      cells,
    };
  },
  async runCell(cell, context, plan) {
    const { model, task, condition, seed } = cell.coordinates as {
      model: string;
      task: string;
      condition: string;
      seed: number;
    };
    const k = condition === "none" ? 0 : (plan.setup.k as number);
    const split = classificationSplit(task, { examples: context.settings.examples });
    const other = classificationSplit(task, {
      examples: context.settings.examples,
      domain: taskDomains(task)[1] as string,
    });
    const gold = new Map([...split.gold, ...other.gold]);
    const records = await runClassificationCell({
      lm: context.lm(model),
      dir: context.dir,
      setup: {
        model,
        ...(context.settings.endpoint ? { endpoint: context.settings.endpoint } : {}),
        taskFile: `synthetic:${task}-${split.domain}`,
        strategy: k === 0 ? "zero-shot" : "few-shot",
        options: { k, condition, otherDomain: other.domain, examples: context.settings.examples },
        seed,
      },
      queries: split.queries,
      goldOf: (id) => (id === undefined ? undefined : gold.get(id)),
      prompt: (query, index) =>
        buildFewShotPrompt(
          EXPERIMENT_CLASSIFICATION_TEMPLATE,
          condition === "other-domain" ? other.pool : split.pool,
          query,
          {
            labels: split.labels,
            k,
            seed: demonstrationSeed(seed, index),
            ...(condition === "ood-inputs"
              ? { outOfDomain: { texts: other.pool.map((e) => e.fields.input as string), field: "input" } }
              : {}),
          },
        ),
      ...(context.signal ? { signal: context.signal } : {}),
      ...(context.onExample ? { onExample: context.onExample } : {}),
    });
    return { measurements: [measurementOf(records)], extra: { predictions: predictionCounts(records) } };
  },
  summarize(cells) {
    const rowKeys = ["model", "task", "condition"];
    const rows = poolRows(cells, rowKeys);
    const pooled = poolRows(cells, ["model", "condition"]);
    const models = distinct(pooled, "model");
    return {
      rows,
      rowKeys,
      tables: [predictionTable(cells, rowKeys)],
      chart: {
        kind: "bars",
        title: "Accuracy by demonstration inputs (pooled over tasks and seeds, 95% CI)",
        xLabel: "demonstrations",
        yLabel: "accuracy",
        percent: true,
        bars: models.flatMap((model) =>
          DOMAIN_CONDITIONS.flatMap((condition) =>
            rowsWhere(pooled, { model, condition })
              .filter((row) => row.total > 0)
              .map((row) => ({
                category: condition,
                group: String(model),
                value: row.accuracy,
                low: row.low,
                high: row.high,
              })),
          ),
        ),
      },
    };
  },
};

function spec(coordinates: { model: string; task: string; condition: string; seed: number }): CellSpec {
  return { key: cellKey(coordinates), coordinates };
}
