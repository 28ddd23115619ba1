// The README's main job: on adaptlm's own lab models, offline, make the encoder a specialist (fine-tune it
// with a few methods) and use the decoder as a generalist (prompt it with a few strategies) on one bundled
// task, compare both paths on the same held-out examples (src/eval/compare.ts), and write the HTML report.
// Nothing here re-implements training, prompting or reporting; it only picks the task, the models and the
// settings, and reports progress through events.

import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AdaptlmError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic-file.js";
import { localEngineFactory } from "../lm/local-engine.js";
import { classificationTaskRecords } from "../tasks/synthetic/arbitrary-label-classification.js";
import { type CompareEvent, type CompareReport, runComparison } from "./compare.js";
import { renderReportHtml } from "./report/html-report.js";
import { loadReportInput } from "./report/load-report-input.js";

export class DemoError extends AdaptlmError {}

/** The lab models shipped in the package's models/ folder (made by `adaptlm pretrain`). */
export function labModelPath(name: string): string {
  return fileURLToPath(new URL(`../../../models/${name}`, import.meta.url));
}

export interface DemoOptions {
  /** BERT-style encoder folder for the fine-tuning rows. Default: the lab encoder. */
  encoder?: string;
  /** Causal LM folder for the prompting rows. Default: the small lab decoder. */
  lm?: string;
  outputDir: string;
  /** Fewer examples and steps: for tests and a first look (about a minute). */
  quick?: boolean;
  seed?: number;
  /** Keep finished rows of an earlier run in outputDir. */
  resume?: boolean;
  onEvent?: (event: DemoEvent) => void;
}

export type DemoEvent =
  | { type: "task"; dir: string; train: number; test: number; description: string }
  | { type: "compare"; event: CompareEvent }
  | { type: "report"; path: string };

export interface DemoResult {
  report: CompareReport;
  taskDir: string;
  reportPath: string;
  seconds: number;
}

/** The demo's task: short product-review sentences, positive or negative (a seeded synthetic task). */
export const DEMO_TASK = { family: "sentiment", domain: "sentence" } as const;

export const DEMO_SETTINGS = {
  full: { trainExamples: 256, testExamples: 100, maxSteps: 60, methods: ["full", "bitfit", "lora"] },
  quick: { trainExamples: 64, testExamples: 24, maxSteps: 8, methods: ["full", "lora"] },
  strategies: ["zero-shot", "instructions", "few-shot:4", "few-shot:8"],
  batchSize: 16,
} as const;

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = performance.now();
  const seed = options.seed ?? 0;
  const settings = options.quick ? DEMO_SETTINGS.quick : DEMO_SETTINGS.full;
  const encoder = resolve(options.encoder ?? labModelPath("lab-encoder"));
  const lmPath = resolve(options.lm ?? labModelPath("lab-decoder-s"));
  for (const [role, path] of [
    ["encoder", encoder],
    ["language model", lmPath],
  ] as const) {
    if (!existsSync(join(path, "config.json"))) {
      throw new DemoError(
        "DEMO_MODEL_MISSING",
        `the demo's ${role} ${path} has no config.json: the lab models ship in the package's models/ folder (re-make them with adaptlm pretrain --recipe ...), or pass another folder`,
      );
    }
  }
  const outputDir = resolve(options.outputDir);
  const taskDir = join(outputDir, "task");
  writeDemoTask(taskDir, settings.trainExamples, settings.testExamples, seed);
  options.onEvent?.({
    type: "task",
    dir: taskDir,
    train: settings.trainExamples,
    test: settings.testExamples,
    description: `synthetic ${DEMO_TASK.family} ${DEMO_TASK.domain}s (positive / negative), seed ${seed}`,
  });
  const lm = localEngineFactory({ name: lmPath })(lmPath);
  const report = await runComparison({
    task: taskDir,
    encoder,
    methods: settings.methods,
    lm,
    strategies: DEMO_SETTINGS.strategies,
    seed,
    maxSteps: settings.maxSteps,
    batchSize: DEMO_SETTINGS.batchSize,
    outputDir: join(outputDir, "compare"),
    ...(options.resume ? { resume: true } : {}),
    onEvent: (event) => options.onEvent?.({ type: "compare", event }),
  });
  const reportPath = join(outputDir, "report.html");
  const input = loadReportInput(outputDir, { title: "adaptlm demo: fine-tuning vs prompting on lab models" });
  writeFileAtomic(reportPath, await renderReportHtml(input));
  options.onEvent?.({ type: "report", path: reportPath });
  return { report, taskDir, reportPath, seconds: (performance.now() - started) / 1000 };
}

/**
 * train.jsonl and test.jsonl (fields text, label) of the demo task, rewritten identically for a seed. The
 * generator draws from word lists, so a test sentence that also occurs in train is dropped: the test set
 * measures generalisation, not recall.
 */
function writeDemoTask(dir: string, trainCount: number, testCount: number, seed: number): void {
  mkdirSync(dir, { recursive: true });
  const records = classificationTaskRecords(DEMO_TASK.family, DEMO_TASK.domain, {
    seed,
    count: 2 * (trainCount + testCount),
  });
  const train = records.slice(0, trainCount);
  const seen = new Set(train.map((r) => r.text));
  const test = records
    .slice(trainCount)
    .filter((r) => !seen.has(r.text) && seen.add(r.text))
    .slice(0, testCount);
  if (test.length < testCount) {
    throw new DemoError(
      "DEMO_TASK_TOO_SMALL",
      `only ${test.length} distinct test sentences for ${testCount} wanted`,
    );
  }
  const line = (r: (typeof records)[number]) => JSON.stringify({ id: r.id, text: r.text, label: r.label });
  writeFileAtomic(join(dir, "train.jsonl"), `${train.map(line).join("\n")}\n`);
  writeFileAtomic(join(dir, "test.jsonl"), `${test.map(line).join("\n")}\n`);
}
