// compareMethods: every default method trains from the same start on the toy task; adapters store a small
// fraction of what full fine-tuning stores.

import assert from "node:assert/strict";
import { test } from "node:test";
import { BertForSequenceClassification } from "../../src/heads/sequence-classification.js";
import { compareMethods, defaultMethodSpecs } from "../../src/train/compare-methods.js";
import { makeTempDir } from "../io/temp-dir.js";
import { toyConfig, toyExamples } from "./toy-setup.js";

test("one row per method: parameters, share of the base, stored bytes, metrics", () => {
  const methods = defaultMethodSpecs({ seed: 1, virtualTokens: 3 });
  assert.deepEqual(
    methods.map((m) => m.name),
    ["full", "bitfit", "houlsby", "adapter-bias", "lora", "prefix", "prompt"],
  );
  const rows = compareMethods({
    buildModel: () => new BertForSequenceClassification(toyConfig, { numLabels: 2, seed: 11, dropout: 0 }),
    methods,
    trainer: { train: toyExamples(8, 1), validation: toyExamples(4, 2), batchSize: 4, epochs: 1, seed: 1 },
    outputDir: makeTempDir("compare"),
  });
  assert.equal(rows.length, methods.length);
  const full = rows[0];
  assert.equal(full.percentOfBase, 100);
  for (const row of rows.slice(1)) {
    assert.ok(row.trainableParameters > 0 && row.percentOfBase < 100, `${row.method}: ${row.percentOfBase}%`);
    assert.ok(row.storedBytes < full.storedBytes, `${row.method} stores less than full fine-tuning`);
    assert.ok(Number.isFinite(row.metrics.loss) && row.metrics.accuracy >= 0);
  }
});
