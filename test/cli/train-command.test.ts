// End to end: `adaptlm train` run as a user runs it (spawning the compiled CLI) on a tiny random BERT folder
// and a synthetic two-class JSONL set separable by a keyword, with LoRA.

import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { openCheckpoint } from "../../src/io/safetensors-index.js";
import { loadAdapter, readAdapterConfig } from "../../src/peft/adapter-store.js";
import { runTraining } from "../../src/train/train-run.js";
import { makeTempDir } from "../io/temp-dir.js";
import { writeTinyBertFolder } from "../models/model-fixtures.js";
import { adaptlm } from "./run-cli.js";

const _cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

const fillers = [
  "the movie was",
  "this book is",
  "our dinner felt",
  "that song sounds",
  "the trip was",
  "my day is",
];

function writeSet(path: string, n: number, offset: number): void {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const positive = i % 2 === 0;
    const text = `${fillers[(i + offset) % fillers.length]} ${positive ? "great" : "awful"} today`;
    lines.push(JSON.stringify({ sentence: text, sentiment: positive ? "pos" : "neg" }));
  }
  writeFileSync(path, `${lines.join("\n")}\n`);
}

describe("adaptlm train", () => {
  test("LoRA on a tiny BERT: exit 0, trainable parameters printed, PEFT folder loads, loss goes down", async () => {
    const model = writeTinyBertFolder({ mlmHead: false });
    const dir = makeTempDir("train-cli");
    const train = join(dir, "train.jsonl");
    const evalFile = join(dir, "eval.jsonl");
    writeSet(train, 48, 0);
    writeSet(evalFile, 12, 3);
    const out = join(dir, "out");
    const args = [
      "train",
      model,
      "--train",
      train,
      "--eval",
      evalFile,
      "--text-field",
      "sentence",
      "--label-field",
      "sentiment",
      "--method",
      "lora",
      "--r",
      "8",
      "--lr",
      "3e-2",
      "--batch-size",
      "8",
      "--max-steps",
      "30",
      "--eval-every",
      "10",
      "--out",
      out,
    ];
    const run = await adaptlm(args);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /trainable parameters: \d+ \(\d+\.\d+% of \d+ base\)/);
    assert.match(run.stdout, /eval step 10: loss \d\.\d+ accuracy \d\.\d+ macro-F1 \d\.\d+/);
    const adapterDir = join(out, "adapter");
    assert.ok(run.stdout.includes(`adapter saved to ${adapterDir}`), run.stdout);
    assert.ok(existsSync(join(adapterDir, "adapter_config.json")));
    assert.ok(existsSync(join(adapterDir, "adapter_model.safetensors")));
    assert.equal(readAdapterConfig(adapterDir).r, 8);
    // The run's record for adaptlm report: per-step losses and the options, never the callback.
    const record = JSON.parse(readFileSync(join(out, "train_run.json"), "utf8"));
    assert.equal(record.result.stepLosses.length, 30);
    assert.equal(record.options.method, "lora");
    assert.equal(record.options.maxSteps, 30);
    assert.equal(record.result.evaluations.length, 3);
    const adapter = loadAdapter(adapterDir);
    assert.equal(adapter.peftType, "LORA");

    // Loss went down: the printed first/last training step losses, and the eval log (steps 10, 20, 30).
    const m = /training loss: first step (\d+\.\d+), last step (\d+\.\d+)/.exec(run.stdout);
    assert.ok(m, run.stdout);
    assert.ok(Number(m[2]) < Number(m[1]) - 0.05, `training loss ${m[1]} -> ${m[2]}`);
    const log = readFileSync(join(out, "eval_log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { step: number; metrics: Record<string, number> });
    assert.deepEqual(
      log.map((r) => r.step),
      [10, 20, 30],
    );
    assert.ok(log[2].metrics.loss < log[0].metrics.loss - 0.05, JSON.stringify(log));
    // The keyword separates the classes: the held-out set is learned.
    assert.ok(log[2].metrics.accuracy >= 0.9, JSON.stringify(log));

    // An existing checkpoint without --resume is a clear error; with --resume it continues (already done).
    const again = await adaptlm(args);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds a training checkpoint: pass --resume/);
  });

  test("bad options are usage errors", async () => {
    const model = writeTinyBertFolder({ mlmHead: false });
    const bad = await adaptlm(["train", model, "--train", "nope.jsonl", "--method", "magic", "--out", "x"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--method must be one of full, bitfit/);
    const missing = await adaptlm([
      "train",
      model,
      "--train",
      "/nonexistent.jsonl",
      "--method",
      "lora",
      "--out",
      "x",
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /training file \/nonexistent\.jsonl does not exist/);
    const scratchLora = await adaptlm([
      "train",
      model,
      "--train",
      "x.jsonl",
      "--method",
      "lora",
      "--from-scratch",
      "--out",
      "x",
    ]);
    assert.equal(scratchLora.code, 1);
    assert.match(scratchLora.stderr, /--from-scratch trains every weight: use method "full"/);
  });

  test("prefix tuning: the default max length leaves room for the virtual tokens; a too-long one is refused", async () => {
    const model = writeTinyBertFolder({ mlmHead: false }); // 64 positions
    const dir = makeTempDir("train-prefix");
    const train = join(dir, "train.jsonl");
    const long = (label: string) => JSON.stringify({ text: `${"word ".repeat(80)}${label}`, label });
    writeFileSync(train, `${[long("a"), long("b"), long("a"), long("b")].join("\n")}\n`);
    const args = [
      "train",
      model,
      "--train",
      train,
      "--method",
      "prefix",
      "--max-steps",
      "1",
      "--batch-size",
      "2",
    ];
    const run = await adaptlm([...args, "--out", join(dir, "out")]);
    assert.equal(run.code, 0, run.stderr);
    const tooLong = await adaptlm([...args, "--max-length", "60", "--out", join(dir, "out2")]);
    assert.equal(tooLong.code, 1);
    assert.match(
      tooLong.stderr,
      /maxLength 60 \+ 20 virtual tokens need 80 positions but the model has 64: give maxLength <= 44/,
    );
  });

  test("a Parquet training file trains like JSONL", async () => {
    const model = writeTinyBertFolder({ mlmHead: false });
    const parquet = fileURLToPath(new URL("../../../test/train/fixtures/sentiment.parquet", import.meta.url));
    const out = join(makeTempDir("train-parquet"), "out");
    const args = ["train", model, "--train", parquet, "--text-field", "sentence", "--method", "bitfit"];
    const run = await adaptlm([...args, "--max-steps", "2", "--batch-size", "3", "--out", out]);
    assert.equal(run.code, 0, run.stderr);
    const record = JSON.parse(readFileSync(join(out, "train_run.json"), "utf8"));
    assert.equal(record.result.trainExamples, 6);
    assert.deepEqual(record.result.labels, ["0", "1"]);
    assert.equal(record.options.trainRecords, undefined, "records are not copied into the run record");
  });

  test("--from-scratch starts from the seeded initialisation, not the folder's weights", () => {
    const model = writeTinyBertFolder({ mlmHead: false });
    const dir = makeTempDir("train-scratch");
    const train = join(dir, "train.jsonl");
    writeSet(train, 16, 0);
    const run = (fromScratch: boolean) =>
      runTraining({
        model,
        train,
        textField: "sentence",
        labelField: "sentiment",
        method: "full",
        maxSteps: 1,
        learningRate: 1e-9,
        outputDir: join(dir, fromScratch ? "scratch" : "pretrained"),
        ...(fromScratch ? { fromScratch: true } : {}),
      });
    const embedding = (folder: string) =>
      openCheckpoint(join(folder, "model.safetensors")).read("bert.embeddings.word_embeddings.weight").data;
    const source = openCheckpoint(join(model, "model.safetensors")).read(
      "bert.embeddings.word_embeddings.weight",
    ).data;
    const pretrained = embedding(run(false).savedTo);
    const scratch = embedding(run(true).savedTo);
    // lr 1e-9 for one step: the saved weights are the starting ones.
    assert.ok(Math.abs(pretrained[5] - source[5]) < 1e-6);
    assert.ok(scratch.some((v, i) => Math.abs(v - source[i]) > 1e-3));
  });
});
