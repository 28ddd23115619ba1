// End to end: `adaptlm pretrain --config ... --tokenizer ... --input ...` run as a user runs it (spawning the
// compiled CLI) with the bert-base-uncased vocab.txt and a tiny BERT config; the folder it writes loads.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadLocalModel } from "../../src/models/load-model.js";
import { sharedPath } from "../io/shared-paths.js";
import { makeTempDir } from "../io/temp-dir.js";
import { adaptlm, cliPath } from "./run-cli.js";

const _cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** A tiny BERT config and a text file in a fresh folder: the inputs of a quick `pretrain --config` run. */
function tinyBertInputs(name: string): { dir: string; config: string; input: string } {
  const dir = makeTempDir(name);
  const config = join(dir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      model_type: "bert",
      vocab_size: 30522,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 32,
    }),
  );
  const input = join(dir, "docs.txt");
  const docs = Array.from(
    { length: 60 },
    (_, i) => `the cat number ${i % 7} sat on the mat and looked at the dog.`,
  );
  writeFileSync(input, docs.join("\n\n"));
  return { dir, config, input };
}

/** `pretrain --config` on the bert-base-uncased vocabulary: the arguments before the run's sizes. */
function pretrainConfigArgs(config: string, input: string, out: string): string[] {
  const vocab = sharedPath("tokenizers/bert-base-uncased/vocab.txt");
  return ["pretrain", "--config", config, "--tokenizer", vocab, "--input", input, "--out", out];
}

test("pretrain --config --tokenizer --input writes a loadable BERT folder and prints validation perplexity", async () => {
  const { dir, config, input } = tinyBertInputs("pretrain-cli");
  const out = join(dir, "model");
  const run = await adaptlm([
    ...pretrainConfigArgs(config, input, out),
    "--steps",
    "4",
    "--batch-size",
    "2",
    "--seq-len",
    "16",
    "--eval-every",
    "2",
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /step 4: validation loss [\d.]+, perplexity [\d.]+/);
  assert.match(run.stdout, /model saved to/);
  assert.ok(existsSync(join(out, "vocab.txt")));
  const loaded = loadLocalModel(out);
  assert.equal(loaded.kind, "masked-lm");
  assert.equal(loaded.tokenizer?.maskTokenId, 103);
});

test("pretrain without --recipe, --config or --init: usage error", async () => {
  const run = await adaptlm(["pretrain", "--steps", "3"]);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /--recipe .*, --config FILE or --init MODEL_DIR/);
});

test("pretrain --init continues a folder on new texts with its tokenizer; usage errors name what is missing", async () => {
  const { dir, config, input } = tinyBertInputs("pretrain-cli-init");
  const first = join(dir, "first");
  const common = ["--steps", "2", "--batch-size", "2", "--seq-len", "16", "--eval-every", "2"];
  const base = await adaptlm([...pretrainConfigArgs(config, input, first), ...common]);
  assert.equal(base.code, 0, base.stderr);
  const second = join(dir, "second");
  const run = await adaptlm(["pretrain", "--init", first, "--input", input, "--out", second, ...common]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /model saved to/);
  assert.equal(loadLocalModel(second).tokenizer?.maskTokenId, 103);
  const noInput = await adaptlm(["pretrain", "--init", first, "--out", join(dir, "x")]);
  assert.notEqual(noInput.code, 0);
  assert.match(noInput.stderr, /--init needs --input/);
  const notAModel = await adaptlm([
    "pretrain",
    "--init",
    makeTempDir("pretrain-cli-empty"),
    "--input",
    input,
    "--out",
    join(dir, "y"),
  ]);
  assert.notEqual(notAModel.code, 0);
  assert.match(notAModel.stderr, /--init needs a model folder with config.json/);
  const both = await adaptlm(["pretrain", "--init", first, "--recipe", "lab-encoder", "--input", input]);
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /exactly one of/);
});

test("Ctrl-C during pretrain writes a checkpoint after the current step and stops", async () => {
  const { dir, config, input } = tinyBertInputs("pretrain-sigint");
  const out = join(dir, "model");
  // far more steps than the test waits for: only the interrupt can end this run in time
  const args = [
    "pretrain",
    "--config",
    config,
    "--tokenizer",
    sharedPath("tokenizers/bert-base-uncased/vocab.txt"),
  ];
  args.push("--input", input, "--out", out, "--steps", "1000000", "--batch-size", "2", "--seq-len", "16");
  args.push("--eval-every", "5");
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      if (/step 10: validation loss/.test(stdout)) resolve();
    });
  });
  child.kill("SIGINT");
  const timeout = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const code = await exited;
  clearTimeout(timeout);
  assert.equal(code, 0, `exit code ${code}; stderr: ${stderr}`);
  assert.match(stderr, /interrupt: writing a checkpoint after this step/);
  const stopped = /stopped at step (\d+); continue with the same command and --resume/.exec(stdout);
  assert.ok(stopped, stdout);
  const checkpoints = readdirSync(join(out, "checkpoint")).filter((f) => f.startsWith("state-"));
  assert.deepEqual(checkpoints, [`state-${stopped[1]}.safetensors`]);
});
