// Data files: CSV quoting, JSONL, split discovery, label inference, tokenised (pair) examples, typed errors.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readVocabTxt } from "../../src/tokenizers/vocab-files.js";
import {
  classificationExamples,
  DatasetError,
  findSplits,
  inferLabels,
  parseDelimited,
  readRecords,
} from "../../src/train/dataset.js";
import { makeTempDir } from "../io/temp-dir.js";

test("CSV: quoted delimiters, newlines and doubled quotes; CRLF", () => {
  assert.deepEqual(parseDelimited('text,label\r\n"a, ""b""\nc",1\r\nd,0\r\n'), [
    ["text", "label"],
    ['a, "b"\nc', "1"],
    ["d", "0"],
  ]);
  assert.throws(() => parseDelimited('x\n"open'), DatasetError);
});

test("split folder, records from JSONL and CSV, labels inferred, pairs tokenised with token types", () => {
  const dir = makeTempDir("data");
  writeFileSync(
    join(dir, "train.jsonl"),
    '{"premise": "the cat", "hypothesis": "a mat", "label": "yes"}\n\n{"premise": "a cat", "hypothesis": "the cat", "label": "no"}\n',
  );
  writeFileSync(join(dir, "dev.csv"), "premise,hypothesis,label\nthe mat,a cat,no\n");
  const splits = findSplits(dir);
  assert.equal(splits.validation, join(dir, "dev.csv"));
  const train = readRecords(splits.train as string);
  assert.deepEqual(inferLabels(train, "label"), ["no", "yes"]);
  assert.deepEqual(inferLabels([{ l: 2 }, { l: 0 }], "l"), ["0", "1", "2"]);
  writeFileSync(
    join(dir, "vocab.txt"),
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "mat"].join("\n"),
  );
  const tokenizer = readVocabTxt(join(dir, "vocab.txt"));
  const { examples, labels } = classificationExamples(train, tokenizer, {
    textField: "premise",
    pairField: "hypothesis",
  });
  assert.deepEqual(labels, ["no", "yes"]);
  assert.deepEqual(examples[0], {
    inputIds: [2, 5, 7, 3, 6, 8, 3],
    tokenTypeIds: [0, 0, 0, 0, 1, 1, 1],
    label: 1,
  });
  const dev = classificationExamples(readRecords(splits.validation as string), tokenizer, {
    textField: "premise",
    pairField: "hypothesis",
    labels,
  });
  assert.equal(dev.examples[0].label, 0);
  assert.throws(
    () => classificationExamples(train, tokenizer, { textField: "sentence" }),
    (e: unknown) => e instanceof DatasetError && /no field "sentence"/.test(e.message),
  );
  assert.throws(
    () => classificationExamples(train, tokenizer, { textField: "premise", labels: ["yes"] }),
    /not in the label set/,
  );
});
