// End to end: `adaptlm pretrain --config ... --tokenizer ... --input ...` run as a user runs it (spawning the
// compiled CLI) with the bert-base-uncased vocab.txt and a tiny BERT config; the folder it writes loads.

import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadLocalModel } from "../../src/models/load-model.js";
import { sharedPath } from "../io/shared-paths.js";
import { makeTempDir } from "../io/temp-dir.js";
import { adaptlm } from "./run-cli.js";

const _cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

test("pretrain --config --tokenizer --input writes a loadable BERT folder and prints validation perplexity", async () => {
  const dir = makeTempDir("pretrain-cli");
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
  const out = join(dir, "model");
  const run = await adaptlm([
    "pretrain",
    "--config",
    config,
    "--tokenizer",
    sharedPath("tokenizers/bert-base-uncased/vocab.txt"),
    "--input",
    input,
    "--out",
    out,
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

test("pretrain without --recipe or --config: usage error", async () => {
  const run = await adaptlm(["pretrain", "--steps", "3"]);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /--recipe .* or --config/);
});
