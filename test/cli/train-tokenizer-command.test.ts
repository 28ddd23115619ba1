// End to end: `adaptlm train-tokenizer` run as a user runs it (spawning the compiled CLI) on small input files.

import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { makeTempDir } from "../io/temp-dir.js";
import { adaptlm } from "./run-cli.js";

const _cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

const sentences = [
  "The whale swam under the ship and the sailors watched the sea.",
  "A captain should know the winds, the stars and the ways of whales.",
  "Call me Ishmael; some years ago I went to sea with little money.",
  "The harpooneers sharpened their irons while the mates kept watch.",
  "Every sailor on the ship wondered where the white whale had gone.",
];

function writeInputs(dir: string): { text: string; jsonl: string } {
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) lines.push(`${sentences[i % sentences.length]} (${i})`);
  const text = join(dir, "sea.txt");
  writeFileSync(text, `${lines.join("\n")}\n`);
  const jsonl = join(dir, "sea.jsonl");
  writeFileSync(jsonl, `${lines.map((line, i) => JSON.stringify({ id: i, body: line })).join("\n")}\n`);
  return { text, jsonl };
}

describe("adaptlm train-tokenizer", () => {
  const dir = makeTempDir("train-tokenizer-cli");
  const inputs = writeInputs(dir);

  test("bpe on a text file: exit 0, summary, a folder that loads and round-trips", async () => {
    const out = join(dir, "bpe");
    const run = await adaptlm([
      "train-tokenizer",
      "--kind",
      "bpe",
      "--vocab-size",
      "300",
      "--input",
      inputs.text,
      "--out",
      out,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /vocabulary: 300 tokens \(1 special\)/);
    const ratio = /tokens per character on the training text: ([\d.]+)/.exec(run.stdout);
    assert.ok(ratio && Number(ratio[1]) > 0.05 && Number(ratio[1]) < 1, run.stdout);
    assert.match(run.stdout, /time: training [\d.]+ s, total [\d.]+ s/);
    assert.match(run.stdout, new RegExp(`saved to ${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    assert.match(run.stderr, /merges \[/);
    assert.ok(existsSync(join(out, "tokenizer_config.json")));
    const tokenizer = loadTokenizer(out);
    assert.equal(tokenizer.vocabSize, 300);
    const text = "The white whale 🐋 swam away.";
    assert.equal(tokenizer.decode(tokenizer.encode(text).ids), text);
  });

  test("wordpiece on a .jsonl file with --text-field", async () => {
    const out = join(dir, "wordpiece");
    const run = await adaptlm([
      "train-tokenizer",
      "--kind",
      "wordpiece",
      "--vocab-size",
      "150",
      "--input",
      inputs.jsonl,
      "--text-field",
      "body",
      "--out",
      out,
      "--min-frequency",
      "3",
      "--model-max-length",
      "128",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /vocabulary: 150 tokens \(5 special\)/);
    const config = JSON.parse(readFileSync(join(out, "tokenizer_config.json"), "utf8"));
    assert.equal(config.model_max_length, 128);
    const tokenizer = loadTokenizer(out);
    const encoding = tokenizer.encode("The whale", { pair: "the sea" });
    assert.equal(encoding.tokens[0], "[CLS]");
    assert.deepEqual(encoding.tokens.slice(1, 3), ["the", "whale"]);
    assert.ok(encoding.typeIds.includes(1));
  });

  test("usage errors are one line with what to do; --help documents the options", async () => {
    const missingKind = await adaptlm([
      "train-tokenizer",
      "--vocab-size",
      "300",
      "--input",
      inputs.text,
      "--out",
      dir,
    ]);
    assert.equal(missingKind.code, 1);
    assert.match(missingKind.stderr, /needs --kind bpe or wordpiece/);
    const both = await adaptlm([
      "train-tokenizer",
      "--kind",
      "bpe",
      "--vocab-size",
      "300",
      "--corpus",
      "english",
      "--input",
      inputs.text,
      "--out",
      dir,
    ]);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /either --corpus english or --input FILE/);
    const badField = await adaptlm([
      "train-tokenizer",
      "--kind",
      "bpe",
      "--vocab-size",
      "300",
      "--input",
      inputs.jsonl,
      "--out",
      join(dir, "x"),
    ]);
    assert.equal(badField.code, 1);
    assert.match(
      badField.stderr,
      /no string field "text" \(fields: id, body\); choose one with --text-field/,
    );
    const help = await adaptlm(["train-tokenizer", "--help"]);
    assert.equal(help.code, 0);
    for (const option of [
      "--kind",
      "--vocab-size",
      "--corpus",
      "--input",
      "--text-field",
      "--out",
      "--min-frequency",
    ]) {
      assert.ok(help.stdout.includes(option), option);
    }
  });
});
