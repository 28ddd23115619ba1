// The data both paths of a comparison see: a task folder's train / validation / test files, or one file split
// into train and test with a seed. Every record gets an id (its own `id` field, else split and position), the
// splits are written to RUNDIR/data/*.jsonl (what the trainer reads, and a record of exactly which examples
// were tested), and demonstrations for prompting come from the train split only.

import { mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../../io/atomic-file.js";
import { createRng, shuffled } from "../../prompting/random.js";
import { type DataRecord, findSplits, inferLabels, readRecords } from "../../train/dataset.js";
import { CompareError, type CompareSetup } from "./report.js";

export interface TaskExample {
  id: string;
  text: string;
  label: string;
  /** The record as read (its extra fields: rationale, subquestions, steps). */
  record: DataRecord;
}

export interface TaskSplits {
  train: TaskExample[];
  validation: TaskExample[];
  test: TaskExample[];
  /** Label names in id order, from the train split (as the trainer infers them). */
  labels: string[];
  split: CompareSetup["split"];
  /** The split files written under RUNDIR/data. */
  files: { train: string; validation: string | null; test: string };
}

export interface TaskSplitOptions {
  textField: string;
  labelField: string;
  seed: number;
  /** Share of a single file held out for testing. Default 0.2. */
  testFraction?: number;
}

function examplesOf(records: readonly DataRecord[], split: string, options: TaskSplitOptions, where: string) {
  return records.map((record, index): TaskExample => {
    for (const name of [options.textField, options.labelField]) {
      const value = record[name];
      if (value === undefined || value === null || value === "") {
        throw new CompareError(
          "COMPARE_TASK_FIELD",
          `${where}: record ${index} has no "${name}" (fields: ${Object.keys(record).join(", ")}): choose the fields with --text-field / --label-field`,
        );
      }
    }
    const rawId = record.id;
    const id = rawId === undefined || rawId === null ? `${split}-${index}` : String(rawId);
    return { id, text: String(record[options.textField]), label: String(record[options.labelField]), record };
  });
}

function checkUniqueIds(examples: readonly TaskExample[], where: string): void {
  const seen = new Set<string>();
  for (const example of examples) {
    if (seen.has(example.id))
      throw new CompareError(
        "COMPARE_DUPLICATE_ID",
        `${where}: id "${example.id}" appears twice: ids must be unique across the splits (they key the results)`,
      );
    seen.add(example.id);
  }
}

function writeSplit(path: string, examples: readonly TaskExample[]): void {
  writeFileAtomic(path, examples.map((e) => `${JSON.stringify({ ...e.record, id: e.id })}\n`).join(""));
}

/** Reads and splits the task (a file or a folder), writes RUNDIR/data/*.jsonl, and returns the examples. */
export function loadTaskSplits(task: string, runDir: string, options: TaskSplitOptions): TaskSplits {
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(task);
  } catch {
    throw new CompareError(
      "COMPARE_TASK_MISSING",
      `task ${task} does not exist: pass a data file (.jsonl, .json, .csv, .tsv) or a folder with train and test files`,
    );
  }
  let train: TaskExample[];
  let validation: TaskExample[] = [];
  let test: TaskExample[];
  let split: CompareSetup["split"];
  if (stats.isDirectory()) {
    const files = findSplits(task);
    const testFile = files.test ?? files.validation;
    if (!testFile) {
      throw new CompareError(
        "COMPARE_NO_TEST_SPLIT",
        `${task} has a train file but no test or validation file to evaluate on: add test.jsonl, or pass a single file to split with --seed`,
      );
    }
    train = examplesOf(readRecords(files.train as string), "train", options, files.train as string);
    if (files.test && files.validation)
      validation = examplesOf(readRecords(files.validation), "validation", options, files.validation);
    test = examplesOf(readRecords(testFile), "test", options, testFile);
    split = { kind: "folder", test: files.test ? "test" : "validation" };
  } else {
    const fraction = options.testFraction ?? 0.2;
    if (!(fraction > 0 && fraction < 1))
      throw new CompareError("COMPARE_BAD_OPTION", `testFraction must be in (0, 1), got ${fraction}`);
    const all = examplesOf(readRecords(task), "example", options, task);
    const order = shuffled(
      all.map((_, i) => i),
      createRng(options.seed),
    );
    const testCount = Math.max(1, Math.round(fraction * all.length));
    if (all.length - testCount < 2)
      throw new CompareError(
        "COMPARE_TASK_TOO_SMALL",
        `${task} has ${all.length} examples: too few to hold out ${testCount} for testing and train on the rest`,
      );
    // Test examples keep file order, so the table's per-example outcomes read like the file.
    const testSet = new Set(order.slice(0, testCount));
    test = all.filter((_, i) => testSet.has(i));
    train = order.slice(testCount).map((i) => all[i] as TaskExample);
    split = { kind: "seeded", testFraction: fraction };
  }
  checkUniqueIds([...train, ...validation, ...test], task);
  if (train.length === 0)
    throw new CompareError("COMPARE_TASK_TOO_SMALL", `${task}: the train split is empty`);
  if (test.length === 0) throw new CompareError("COMPARE_TASK_TOO_SMALL", `${task}: the test split is empty`);
  const labels = inferLabels(
    train.map((e) => ({ label: e.label })),
    "label",
  );
  if (labels.length < 2)
    throw new CompareError(
      "COMPARE_TOO_FEW_LABELS",
      `the train split has ${labels.length} distinct label(s) [${labels.join(", ")}]; a comparison needs at least 2: check --label-field`,
    );
  const dataDir = join(runDir, "data");
  mkdirSync(dataDir, { recursive: true });
  const files = {
    train: resolve(dataDir, "train.jsonl"),
    validation: validation.length > 0 ? resolve(dataDir, "validation.jsonl") : null,
    test: resolve(dataDir, "test.jsonl"),
  };
  writeSplit(files.train, train);
  if (files.validation) writeSplit(files.validation, validation);
  writeSplit(files.test, test);
  return { train, validation, test, labels, split, files };
}
