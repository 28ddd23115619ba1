// Parameter-efficient fine-tuning (Houlsby et al. 2019; BitFit, Ben Zaken et al. 2022; LoRA, Hu et al. 2022;
// prefix and prompt tuning): adapting a small share of the parameters comes close to full fine-tuning while
// storing kilobytes per task instead of a whole model. Every method of the compare-methods machinery
// (src/train/compare-run.ts) trains the same encoder on the same bundled task from the same weights, one
// cell per method; the table adds trainable % and stored bytes per task.
//
// The bootstrap interval of a method's test accuracy is taken over a correctness vector with the measured
// number of correct examples: the percentile bootstrap of a mean of 0/1 values depends only on that count.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../io/atomic-file.js";
import { classificationTaskRecords } from "../../tasks/synthetic/arbitrary-label-classification.js";
import type { MethodComparisonRow } from "../../train/compare-methods.js";
import { COMPARE_METHODS, runMethodComparison } from "../../train/compare-run.js";
import { type CellSpec, cellKey, type ExperimentDefinition, type ExperimentTable } from "./experiment.js";
import { percent, poolRows } from "./summary.js";

export const ADAPTER_TASK = { family: "sentiment", domain: "sentence" } as const;
const TASK_SEED = 1234;
const SETTINGS = {
  full: { train: 256, maxSteps: 60 },
  quick: { train: 32, maxSteps: 4 },
  batchSize: 16,
} as const;

/** train.jsonl and test.jsonl of the bundled task (test sentences that also occur in train are dropped). */
export function writeAdapterTask(dir: string, train: number, test: number): void {
  mkdirSync(dir, { recursive: true });
  const records = classificationTaskRecords(ADAPTER_TASK.family, ADAPTER_TASK.domain, {
    seed: TASK_SEED,
    count: 2 * (train + test),
  });
  const trainRecords = records.slice(0, train);
  const seen = new Set(trainRecords.map((r) => r.text));
  const testRecords = records
    .slice(train)
    .filter((r) => !seen.has(r.text) && seen.add(r.text))
    .slice(0, test);
  const lines = (rs: typeof records) =>
    `${rs.map((r) => JSON.stringify({ text: r.text, label: r.label })).join("\n")}\n`;
  writeFileAtomic(join(dir, "train.jsonl"), lines(trainRecords));
  writeFileAtomic(join(dir, "test.jsonl"), lines(testRecords));
}

export const adapters: ExperimentDefinition = {
  name: "adapters",
  title: "PEFT methods vs full fine-tuning: accuracy, trainable %, storage per task",
  finding:
    "Houlsby 2019, BitFit 2022, LoRA 2022, prefix/prompt tuning: training a small share of the parameters approaches full fine-tuning while storing far less per task.",
  defaults: { full: { seeds: 1, examples: 100 }, quick: { seeds: 1, examples: 16 } },
  defaultModel: "lab-encoder",
  plan(settings) {
    const sizes = settings.quick ? SETTINGS.quick : SETTINGS.full;
    const methods = settings.quick ? ["full", "lora"] : [...COMPARE_METHODS];
    const cells: CellSpec[] = [];
    for (const method of methods)
      for (let seed = 0; seed < settings.seeds; seed++) {
        const coordinates = { method, seed };
        cells.push({ key: cellKey(coordinates), coordinates });
      }
    return {
      setup: {
        model: settings.models[0],
        data: `synthetic ${ADAPTER_TASK.family}-${ADAPTER_TASK.domain}, ${sizes.train} train / ${settings.examples} test examples, data seed ${TASK_SEED}`,
        methods,
        maxSteps: sizes.maxSteps,
        batchSize: SETTINGS.batchSize,
        learningRates: "each method's default (compare-methods)",
        seeds: settings.seeds,
        testExamples: settings.examples,
      },
      cells,
    };
  },
  async runCell(cell, context, plan) {
    const { method, seed } = cell.coordinates as { method: string; seed: number };
    const taskDir = join(context.dir, "task");
    const sizes = context.settings.quick ? SETTINGS.quick : SETTINGS.full;
    writeAdapterTask(taskDir, sizes.train, context.settings.examples);
    let row: MethodComparisonRow | undefined;
    const result = await runMethodComparison({
      model: context.settings.models[0] as string,
      taskDir,
      methods: [method],
      maxSteps: plan.setup.maxSteps as number,
      batchSize: SETTINGS.batchSize,
      seed: 42 + seed,
      outputDir: join(context.dir, "methods"),
      onRow: (r) => {
        row = r;
      },
    });
    row = row ?? result.rows[0];
    const accuracy = row?.metrics.accuracy ?? 0;
    const correctCount = Math.round(accuracy * result.testExamples);
    const correct = Array.from({ length: result.testExamples }, (_, i) => i < correctCount);
    return {
      measurements: [{ coordinates: {}, correct }],
      extra: {
        trainableParameters: row?.trainableParameters ?? 0,
        percentOfBase: row?.percentOfBase ?? 0,
        storedBytes: row?.storedBytes ?? 0,
        seconds: row?.seconds ?? 0,
        metrics: row?.metrics ?? {},
      },
    };
  },
  summarize(cells) {
    const rowKeys = ["method"];
    const rows = poolRows(cells, rowKeys);
    const cost = (method: string) => cells.find((c) => c.coordinates.method === method)?.extra ?? {};
    const costTable: ExperimentTable = {
      title: "Cost per task",
      columns: [
        "method",
        "accuracy",
        "trainable parameters",
        "trainable %",
        "stored per task",
        "train seconds",
      ],
      rows: rows.map((row) => {
        const extra = cost(String(row.coordinates.method));
        return [
          String(row.coordinates.method),
          percent(row.accuracy),
          Number(extra.trainableParameters ?? 0),
          `${Number(extra.percentOfBase ?? 0).toFixed(3)}%`,
          formatBytes(Number(extra.storedBytes ?? 0)),
          Number(Number(extra.seconds ?? 0).toFixed(1)),
        ];
      }),
    };
    return {
      rows,
      rowKeys,
      tables: [costTable],
      chart: {
        kind: "scatter",
        title: "Test accuracy vs trainable share of the parameters",
        xLabel: "trainable % of the base model (log)",
        yLabel: "accuracy",
        percent: true,
        logX: true,
        frontier: true,
        points: rows.map((row) => {
          const method = String(row.coordinates.method);
          return {
            label: method,
            x: Math.max(1e-4, Number(cost(method).percentOfBase ?? 0)),
            y: row.accuracy,
            group: method === "full" ? "full fine-tuning" : "PEFT",
          };
        }),
      },
    };
  },
};

function formatBytes(bytes: number): string {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}
