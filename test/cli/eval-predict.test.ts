// `adaptlm eval` and `adaptlm predict` on what `adaptlm train` saved (a LoRA adapter folder and a full
// fine-tuning folder of a tiny random BERT): the reloaded classifier reproduces the trained model's own
// validation metrics, eval and predict agree, and eval's accuracy is the count of predict's correct labels.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { readRecords } from "../../src/train/dataset.js";
import { evaluateClassifier, loadClassifier, PredictError, predictRecords } from "../../src/train/predict.js";
import { runTraining } from "../../src/train/train-run.js";
import { makeTempDir } from "../io/temp-dir.js";
import { writeTinyBertFolder } from "../models/model-fixtures.js";
import { adaptlm } from "./run-cli.js";

const _cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

const subjects = ["the movie", "this book", "our dinner", "that song", "the trip", "my day", "the show"];

function writeSet(path: string, n: number, offset: number): void {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const positive = (i + offset) % 3 !== 0;
    const word = positive ? ["great", "lovely", "fine"][i % 3] : ["awful", "bad"][i % 2];
    lines.push(
      JSON.stringify({
        text: `${subjects[(i + offset) % subjects.length]} was ${word}`,
        label: positive ? "pos" : "neg",
      }),
    );
  }
  writeFileSync(path, `${lines.join("\n")}\n`);
}

describe("adaptlm eval / predict", () => {
  const model = writeTinyBertFolder({ mlmHead: false });
  const dir = makeTempDir("eval-predict");
  const train = join(dir, "train.jsonl");
  const evalFile = join(dir, "test.jsonl");
  writeSet(train, 48, 0);
  writeSet(evalFile, 21, 1);

  for (const method of ["lora", "full"] as const) {
    test(`${method}: reloaded classifier reproduces the trained metrics; eval and predict agree`, async () => {
      const out = join(dir, method);
      const trained = runTraining({
        model,
        train,
        eval: evalFile,
        method,
        learningRate: method === "lora" ? 2e-2 : 2e-3,
        batchSize: 8,
        maxSteps: 8,
        evalEvery: 8,
        seed: 5,
        outputDir: out,
      });
      const saved = join(out, method === "lora" ? "adapter" : "model");
      assert.equal(trained.savedTo, saved);

      // Library: the same numbers as the Trainer's last evaluation of the in-memory model.
      const classifier = loadClassifier({ model, adapter: saved, seed: 5 });
      assert.equal(classifier.kind, method === "lora" ? "adapter" : "model");
      assert.deepEqual(classifier.labels, ["neg", "pos"]);
      const records = readRecords(evalFile);
      const { report, predictions } = evaluateClassifier(classifier, records, { batchSize: 5 });
      assert.ok(
        Math.abs(report.accuracy - trained.finalMetrics.accuracy) < 1e-9,
        `${report.accuracy} vs ${JSON.stringify(trained.finalMetrics)}`,
      );
      assert.ok(Math.abs(report.macroF1 - trained.finalMetrics.macro_f1) < 1e-9);
      assert.ok(Math.abs(report.mcc - trained.finalMetrics.mcc) < 1e-9);
      assert.equal(report.examples, 21);
      assert.deepEqual(
        report.perClass.map((c) => c.support),
        [7, 14],
      );
      assert.equal(
        report.confusion.flat().reduce((a, b) => a + b, 0),
        21,
      );
      const unlabelled = records.map(({ text }) => ({ text }));
      assert.deepEqual(
        predictRecords(classifier, unlabelled, { batchSize: 7 }).map((p) => p.label),
        predictions.map((p) => p.label),
      );

      // CLI: eval --json, then predict; accuracy = the share of predict's labels that equal the gold ones.
      const evalRun = await adaptlm([
        "eval",
        model,
        "--adapter",
        saved,
        "--task",
        dir,
        "--seed",
        "5",
        "--json",
      ]);
      assert.equal(evalRun.code, 0, evalRun.stderr);
      const cliReport = JSON.parse(evalRun.stdout) as { accuracy: number; confusion: number[][] };
      assert.equal(cliReport.accuracy, report.accuracy);
      assert.deepEqual(cliReport.confusion, report.confusion);

      const predicted = join(dir, `${method}-predictions.jsonl`);
      const predictRun = await adaptlm([
        "predict",
        model,
        "--adapter",
        saved,
        "--input",
        evalFile,
        "--seed",
        "5",
        "--out",
        predicted,
      ]);
      assert.equal(predictRun.code, 0, predictRun.stderr);
      const rows = readFileSync(predicted, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { text: string; label: string; probabilities: Record<string, number> });
      assert.equal(rows.length, 21);
      let correct = 0;
      rows.forEach((row, i) => {
        assert.equal(row.text, records[i].text);
        if (row.label === records[i].label) correct++;
        const p = row.probabilities;
        assert.ok(Math.abs(p.neg + p.pos - 1) < 1e-6);
        assert.equal(row.label, p.pos > p.neg ? "pos" : "neg");
      });
      assert.equal(correct / 21, report.accuracy);

      // Plain text lines on standard input.
      const stdinRun = await adaptlm(["predict", model, "--adapter", saved, "--seed", "5"], {
        stdin: `${records[0].text}\n{"text": ${JSON.stringify(records[1].text)}, "id": 7}\n`,
      });
      assert.equal(stdinRun.code, 0, stdinRun.stderr);
      const fromStdin = stdinRun.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { label: string; id?: number });
      assert.deepEqual(
        fromStdin.map((r) => r.label),
        [rows[0].label, rows[1].label],
      );
      assert.equal(fromStdin[1].id, 7);
    });
  }

  test("text report and clear errors", async () => {
    const out = join(dir, "bitfit");
    runTraining({ model, train, method: "bitfit", batchSize: 8, maxSteps: 2, outputDir: out });
    const run = await adaptlm(["eval", model, "--adapter", join(out, "adapter"), "--task", evalFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /examples 21 {2}accuracy \d\.\d{4} {2}macro-F1 \d\.\d{4} {2}MCC -?\d\.\d{4}/);
    assert.match(
      run.stdout,
      /confusion matrix \(rows: gold, columns: predicted\)\n\s+neg\s+pos\nneg\s+\d+\s+\d+\npos\s+\d+\s+\d+/,
    );
    assert.throws(() => loadClassifier({ model, adapter: dir }), PredictError);
    assert.throws(() => loadClassifier({ model }), /no classification head labels/);
    const noTask = await adaptlm(["eval", model, "--adapter", join(out, "adapter")]);
    assert.equal(noTask.code, 1);
    assert.match(noTask.stderr, /eval needs --task/);
  });
});
