// The generated task files through `adaptlm prompt`'s runner with a scripted model that answers every query
// exactly as the pretraining sequences do: each recorded prompt plus that answer must be a sequence in the
// pretraining format, and the answers must be graded correct. This is the contract between the generators
// and the evaluation: what a lab model learned to continue is what it is asked at evaluation time.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  defaultRunId,
  loadPromptTask,
  type PromptRunOptions,
  type PromptTaskExample,
  promptRunSetupOptions,
  runPromptEvaluation,
  type TaskFields,
} from "../../../src/eval/prompt-run.js";
import { ResultsStore, type RunSetup } from "../../../src/eval/results-store.js";
import { classificationSequence, cotSequence } from "../../../src/tasks/synthetic/format.js";
import { writeSyntheticTaskFiles } from "../../../src/tasks/synthetic/mixture.js";
import { makeTempDir } from "../../io/temp-dir.js";
import { ScriptedLanguageModel } from "../../lm/scripted-language-model.js";

const root = makeTempDir("synthetic-prompt-run");
writeSyntheticTaskFiles(join(root, "tasks"), {
  seed: 5,
  count: 8,
  arithmeticDigits: [2],
  arithmeticSteps: [2],
  lastLetterWords: [3],
});
let runs = 0;

function openStore(file: string, options: PromptRunOptions, fields: TaskFields): ResultsStore {
  const setup: RunSetup = {
    model: "scripted",
    taskFile: file,
    strategy: options.strategy,
    options: promptRunSetupOptions(options, fields),
    seed: options.seed ?? 0,
  };
  return ResultsStore.open(join(root, `run-${runs++}`), defaultRunId(setup), setup);
}

async function run(
  file: string,
  options: PromptRunOptions,
  fields: TaskFields,
  answer: (prompt: string, task: PromptTaskExample[]) => string,
): Promise<{ accuracy: number; prompts: string[]; outputs: string[]; task: PromptTaskExample[] }> {
  const task = loadPromptTask(join(root, "tasks", file), fields);
  const lm = new ScriptedLanguageModel({ generate: (request) => answer(String(request.prompt), task) });
  const result = await runPromptEvaluation(lm, task, openStore(file, options, fields), options);
  return {
    accuracy: result.metric.value,
    prompts: lm.prompts,
    outputs: lm.prompts.map((prompt) => answer(prompt, task)),
    task,
  };
}

function lastMatch(text: string, pattern: RegExp): string {
  const matches = [...text.matchAll(pattern)];
  assert.ok(matches.length > 0, `no ${pattern} in ${text}`);
  return matches[matches.length - 1][1];
}

describe("synthetic task files through the prompt runner", () => {
  for (const labelField of ["label", "arbitraryLabel"]) {
    test(`few-shot (${labelField}): prompt + answer is a pretraining classification sequence`, async () => {
      const fields = { labelField };
      const options: PromptRunOptions = { strategy: "few-shot", k: 4, method: "generation", seed: 1 };
      const answerQuery = (prompt: string, task: PromptTaskExample[]): string => {
        const input = lastMatch(prompt, /Input: (.*)\nLabel:$/gm);
        return ` ${task.find((example) => example.input === input)?.gold}`;
      };
      const result = await run("sentiment-sentence.jsonl", options, fields, answerQuery);
      assert.equal(result.accuracy, 1);
      assert.equal(result.prompts.length, 8);
      result.prompts.forEach((prompt, i) => {
        const sequence = prompt + result.outputs[i];
        const choices = lastMatch(sequence, /^Possible labels: (.*)\.$/gm).split(", ");
        const blocks = [...sequence.matchAll(/Input: (.*)\nLabel: (\S+)/g)].map((m) => ({
          input: m[1],
          label: m[2],
        }));
        assert.equal(blocks.length, 5);
        assert.equal(classificationSequence(blocks, choices), sequence);
      });
    });
  }

  test("cot on arithmetic: prompt + worked answer is a pretraining CoT sequence, graded correct", async () => {
    const answerQuery = (prompt: string, task: PromptTaskExample[]): string => {
      const question = lastMatch(prompt, /Q: (.*)\nA:$/gm);
      const example = task.find((candidate) => candidate.input === question);
      return ` ${example?.rationale} The answer is ${example?.gold}.`;
    };
    const result = await run("arithmetic-d2-s2.jsonl", { strategy: "cot", k: 3 }, {}, answerQuery);
    assert.equal(result.accuracy, 1);
    result.prompts.forEach((prompt, i) => {
      const questions = [...prompt.matchAll(/Q: (.*)\nA:/g)].map((m) => m[1]);
      const problems = questions.map((question) => {
        const example = result.task.find((candidate) => candidate.input === question);
        assert.ok(example);
        return { question, rationale: example.rationale ?? "", answer: example.gold };
      });
      assert.equal(problems.length, 4);
      assert.equal(prompt + result.outputs[i], cotSequence(problems));
    });
  });

  test("least-to-most on last letters: steps answered as recorded give the gold answer", async () => {
    const answerQuery = (prompt: string, task: PromptTaskExample[]): string => {
      if (prompt.endsWith("Sub-questions:\n")) {
        const question = lastMatch(prompt, /^Q: (.*)\nSub-questions:$/gm);
        const example = task.find((candidate) => candidate.input === question);
        return (example?.subquestions ?? []).map((sub, i) => `${i + 1}. ${sub}`).join("\n");
      }
      const question = lastMatch(prompt, /^Q: (.*)\nA:$/gm);
      const step = task
        .flatMap((example) => example.steps ?? [])
        .find((candidate) => candidate.question === question);
      return ` ${step?.answer}`;
    };
    const result = await run("last-letter-n3.jsonl", { strategy: "least-to-most", k: 2 }, {}, answerQuery);
    assert.equal(result.accuracy, 1);
    // per example: one decomposition prompt and one prompt per step (2 prefixes + the question)
    assert.equal(result.prompts.length, 8 * 4);
  });
});
