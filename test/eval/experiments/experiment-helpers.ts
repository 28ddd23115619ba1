// Scripted models whose in-context behaviour the experiment tests control, and a recount of an experiment's
// numbers from the examples its cells recorded (the table must equal what the results stores say).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ExperimentResultFile } from "../../../src/eval/experiments/experiment.js";
import type { ExampleRecord } from "../../../src/eval/results-store.js";
import { ScriptedLanguageModel } from "../../lm/scripted-language-model.js";

/** The labels shown in the demonstration blocks of a classification prompt ("Label: x"), in order. */
export function shownLabels(prompt: string): string[] {
  return [...prompt.matchAll(/\nLabel: (\S+)/g)].map((match) => match[1] as string);
}

/**
 * Scores each label by how often the demonstrations show it: it copies the majority label of the
 * demonstrations (ties and no demonstrations: the first candidate), whatever the input.
 */
export function majorityLabelModel(): ScriptedLanguageModel {
  return new ScriptedLanguageModel({
    score: (prompt, continuation) => {
      const label = continuation.trim();
      return shownLabels(prompt).filter((shown) => shown === label).length;
    },
  });
}

/** Knows every input's answer: scores the gold label highest (reads the query input off the prompt). */
export function oracleModel(goldOf: (input: string) => string | undefined): ScriptedLanguageModel {
  return new ScriptedLanguageModel({
    score: (prompt, continuation) => {
      const query = prompt.slice(
        prompt.lastIndexOf("Input: ") + "Input: ".length,
        prompt.lastIndexOf("\nLabel:"),
      );
      return goldOf(query) === continuation.trim() ? 0 : -5;
    },
  });
}

export function cellRecords(dir: string, runDir: string): ExampleRecord[] {
  return readFileSync(join(dir, runDir, "examples.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as ExampleRecord);
}

/**
 * Every table row recounted from the recorded examples of the cells whose coordinates match the row's; the
 * experiment measures one number per cell here (classification experiments).
 */
export function recountRows(
  dir: string,
  result: ExperimentResultFile,
): Array<{ correct: number; total: number }> {
  return result.rows.map((row) => {
    const cells = result.cells.filter((cell) =>
      Object.entries(row.coordinates).every(([key, value]) => cell.coordinates[key] === value),
    );
    const records = cells
      .flatMap((cell) => cellRecords(dir, cell.runDir))
      .filter((record) => !(record as { tooLong?: boolean }).tooLong);
    return { correct: records.filter((r) => r.correct).length, total: records.length };
  });
}

/** The last "Q: ..." question of a prompt (up to its line end). */
export function lastQuestion(prompt: string): string {
  const at = prompt.lastIndexOf("Q: ");
  return prompt.slice(at + 3).split("\n")[0] as string;
}
