import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { inferAnswerType, loadPromptTask } from "../../../src/eval/prompt-run.js";
import { SyntheticTaskError } from "../../../src/tasks/synthetic/format.js";
import {
  syntheticEvaluationTasks,
  syntheticPretrainingTexts,
  writeSyntheticTaskFiles,
} from "../../../src/tasks/synthetic/mixture.js";

function familyOf(text: string): string {
  if (text.startsWith("Possible labels: ")) return "classification";
  return text.includes("Take the last letters") ? "lastLetter" : "arithmetic";
}

describe("synthetic mixture", () => {
  test("same seed, same texts; another seed, other texts; a longer run extends a shorter one", () => {
    const a = syntheticPretrainingTexts({ seed: 1, count: 30 });
    assert.equal(a.length, 30);
    assert.deepEqual(syntheticPretrainingTexts({ seed: 1, count: 30 }), a);
    assert.notDeepEqual(syntheticPretrainingTexts({ seed: 2, count: 30 }), a);
    assert.deepEqual(syntheticPretrainingTexts({ seed: 1, count: 10 }), a.slice(0, 10));
  });

  test("families follow the weights", () => {
    const counts = new Map<string, number>();
    for (const text of syntheticPretrainingTexts({ seed: 3, count: 400 })) {
      counts.set(familyOf(text), (counts.get(familyOf(text)) ?? 0) + 1);
    }
    // defaults 0.4 / 0.35 / 0.25 of 400: 160 / 140 / 100, each within about 3 standard deviations
    assert.ok(Math.abs((counts.get("classification") ?? 0) - 160) < 30, JSON.stringify([...counts]));
    assert.ok(Math.abs((counts.get("arithmetic") ?? 0) - 140) < 30, JSON.stringify([...counts]));
    assert.ok(Math.abs((counts.get("lastLetter") ?? 0) - 100) < 27, JSON.stringify([...counts]));
    const onlyLetters = syntheticPretrainingTexts({ seed: 3, count: 20, weights: { lastLetter: 1 } });
    assert.ok(onlyLetters.every((text) => familyOf(text) === "lastLetter"));
    assert.throws(() => syntheticPretrainingTexts({ seed: 0, count: 2, weights: {} }), SyntheticTaskError);
    assert.throws(
      () => syntheticPretrainingTexts({ seed: 0, count: 2, weights: { arithmetic: -1 } }),
      /finite non-negative/,
    );
  });

  test("task files load with loadPromptTask, with the fields each strategy uses", () => {
    const dir = mkdtempSync(join(tmpdir(), "adaptlm-synthetic-"));
    try {
      const options = {
        seed: 4,
        count: 12,
        arithmeticDigits: [2],
        arithmeticSteps: [1, 2],
        lastLetterWords: [2, 4],
      };
      const paths = writeSyntheticTaskFiles(dir, options);
      const index = JSON.parse(readFileSync(join(dir, "tasks.json"), "utf8")) as {
        tasks: Array<{ file: string; kind: string; count: number; otherDomains?: string[] }>;
      };
      assert.equal(paths.length, index.tasks.length + 1);
      assert.deepEqual(
        index.tasks.map((t) => t.file),
        [
          "topic-phrase.jsonl",
          "topic-sentence.jsonl",
          "sentiment-phrase.jsonl",
          "sentiment-sentence.jsonl",
          "parity-digits.jsonl",
          "parity-sentence.jsonl",
          "repetition-words.jsonl",
          "repetition-letters.jsonl",
          "arithmetic-d2-s1.jsonl",
          "arithmetic-d2-s2.jsonl",
          "last-letter-n2.jsonl",
          "last-letter-n4.jsonl",
        ],
      );
      for (const task of index.tasks) {
        const path = join(dir, task.file);
        const examples = loadPromptTask(path);
        assert.equal(examples.length, 12);
        if (task.kind === "classification") {
          assert.equal(new Set(examples.map((e) => e.gold)).size, 2);
          const arbitrary = loadPromptTask(path, { labelField: "arbitraryLabel" });
          assert.equal(new Set(arbitrary.map((e) => e.gold)).size, 2);
          assert.deepEqual(
            task.otherDomains?.map((file) => loadPromptTask(join(dir, file)).length),
            [12],
          );
        } else {
          assert.ok(examples.every((e) => e.rationale && e.rationale.length > 0));
          assert.equal(
            inferAnswerType(examples.map((e) => e.gold)),
            task.file.startsWith("arithmetic") ? "number" : "text",
          );
          const decomposed = !task.file.endsWith("-s1.jsonl");
          assert.equal(
            examples.every((e) => (e.steps?.length ?? 0) > 0 && (e.subquestions?.length ?? 0) > 0),
            decomposed,
          );
        }
      }
      // the files hold exactly the pure records
      const records = syntheticEvaluationTasks(options)[0].records;
      const lines = readFileSync(join(dir, "topic-phrase.jsonl"), "utf8").trimEnd().split("\n");
      assert.deepEqual(
        lines.map((line) => JSON.parse(line)),
        records,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("evaluation tasks are deterministic per seed", () => {
    const small = { count: 5, arithmeticDigits: [1], arithmeticSteps: [2], lastLetterWords: [3] };
    assert.deepEqual(
      syntheticEvaluationTasks({ seed: 1, ...small }),
      syntheticEvaluationTasks({ seed: 1, ...small }),
    );
    assert.notDeepEqual(
      syntheticEvaluationTasks({ seed: 1, ...small }),
      syntheticEvaluationTasks({ seed: 2, ...small }),
    );
  });
});
