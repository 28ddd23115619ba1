// Parquet data files: a fixture written by pyarrow 25 (two row groups, snappy pages, an INT64 label column
// and a string column with nulls) read through readRecordsAsync into plain records, found as a split of a
// folder, and a typed error from the synchronous reader and for a file that is not Parquet.

import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  DatasetError,
  findSplits,
  inferLabels,
  readRecords,
  readRecordsAsync,
} from "../../src/train/dataset.js";
import { makeTempDir } from "../io/temp-dir.js";

// Compiled tests run from dist/test/train; the fixture stays in the source tree.
const fixture = fileURLToPath(new URL("../../../test/train/fixtures/sentiment.parquet", import.meta.url));

describe("Parquet records", () => {
  test("rows of every row group, INT64 as numbers, nulls kept", async () => {
    const records = await readRecordsAsync(fixture);
    assert.equal(records.length, 6);
    assert.deepEqual(records[0], { sentence: "the movie was great", label: 1, source: "a" });
    assert.deepEqual(records[5], { sentence: "my day is awful", label: 0, source: "d" });
    assert.equal(records[1].source, null);
    assert.deepEqual(
      records.map((r) => r.label),
      [1, 0, 1, 0, 1, 0],
    );
    assert.deepEqual(inferLabels(records, "label"), ["0", "1"]);
  });

  test("a train.parquet is a split of a folder; other formats read as before", async () => {
    const dir = makeTempDir("parquet");
    copyFileSync(fixture, join(dir, "train.parquet"));
    writeFileSync(join(dir, "test.jsonl"), '{"sentence":"fine","label":1}\n');
    const splits = findSplits(dir);
    assert.equal(splits.train, join(dir, "train.parquet"));
    assert.equal((await readRecordsAsync(splits.train as string)).length, 6);
    assert.deepEqual(await readRecordsAsync(splits.test as string), [{ sentence: "fine", label: 1 }]);
  });

  test("typed errors", async () => {
    assert.throws(
      () => readRecords(fixture),
      (e: unknown) => e instanceof DatasetError && e.code === "DATA_PARQUET_NEEDS_ASYNC",
    );
    const bogus = join(makeTempDir("parquet-bad"), "bad.parquet");
    writeFileSync(bogus, "not parquet at all");
    await assert.rejects(
      readRecordsAsync(bogus),
      (e: unknown) => e instanceof DatasetError && e.code === "DATA_BAD_PARQUET",
    );
    await assert.rejects(readRecordsAsync("/nonexistent.parquet"), /does not exist/);
  });
});
