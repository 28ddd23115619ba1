// Fixtures of the UI tests: a results folder written with the real ResultsStore (a chain-of-thought run and a
// self-consistency run over the same six arithmetic examples, one of them holding markup that must show as
// text), the examples where the two runs differ, and a scripted model for the playground.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ExampleRecord, ResultsStore } from "../../src/eval/results-store.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";

export const MALICIOUS = `<img src=x onerror="window.__uiXss=1">`;
export const SECRET = "sk-ui-test-0123456789abcdef";

export const COT_RUN = "cot-run";
export const SC_RUN = "sc-run";

interface Row {
  id: string;
  question: string;
  gold: string;
  cot: string;
  sc: string;
  scVotes: Array<[string, number]>;
}

const ROWS: Row[] = [
  { id: "q0", question: "What is 3 + 4?", gold: "7", cot: "7", sc: "7", scVotes: [["7", 5]] },
  {
    id: "q1",
    question: "What is 6 * 2?",
    gold: "12",
    cot: "12",
    sc: "12",
    scVotes: [
      ["12", 4],
      ["10", 1],
    ],
  },
  {
    id: "q2",
    question: "What is 9 - 5?",
    gold: "4",
    cot: "4",
    sc: "5",
    scVotes: [
      ["5", 3],
      ["4", 2],
    ],
  },
  {
    id: "q3",
    question: `Tom has 3 apples ${MALICIOUS} and buys 2. How many?`,
    gold: "5",
    cot: "5",
    sc: "6",
    scVotes: [
      ["6", 3],
      ["5", 2],
    ],
  },
  {
    id: "q4",
    question: "What is 8 / 2?",
    gold: "4",
    cot: "2",
    sc: "4",
    scVotes: [
      ["4", 3],
      ["2", 2],
    ],
  },
  {
    id: "q5",
    question: "What is 10 - 3?",
    gold: "7",
    cot: "8",
    sc: "8",
    scVotes: [
      ["8", 3],
      ["7", 2],
    ],
  },
];

/** Examples where the runs give different answers or verdicts. */
export const DIFFERING_IDS = ["q2", "q3", "q4"];

function promptOf(question: string): string {
  return `Q: What is 1 + 1?\nA: 1 plus 1 is 2. The answer is 2.\n\nQ: ${question}\nA:`;
}

/** A temp results folder holding the two runs; returns its path. */
export function buildResultsFolder(): string {
  const root = mkdtempSync(join(tmpdir(), "adaptlm-ui-test-"));
  const base = { model: "tiny-llama", taskFile: "/data/arith.jsonl", seed: 0 };
  const cot = ResultsStore.open(join(root, COT_RUN), COT_RUN, {
    ...base,
    strategy: "cot",
    options: { k: 1, temperature: 0, apiKey: SECRET },
  });
  const sc = ResultsStore.open(join(root, SC_RUN), SC_RUN, {
    ...base,
    strategy: "self-consistency",
    options: { k: 1, samples: 5, temperature: 0.7 },
  });
  ROWS.forEach((row, index) => {
    const prompt = promptOf(row.question);
    const cotRecord: ExampleRecord = {
      index,
      id: row.id,
      input: row.question,
      prompts: [prompt],
      // the key leaks into an output: the UI must redact it
      outputs: [`Working it out${row.id === "q0" ? ` with ${SECRET}` : ""}. The answer is ${row.cot}.`],
      answers: [row.cot],
      answer: row.cot,
      gold: row.gold,
      correct: row.cot === row.gold,
    };
    cot.append(cotRecord);
    const paths = row.scVotes.flatMap(([answer, count]) => Array.from({ length: count }, () => answer));
    sc.append({
      index,
      id: row.id,
      input: row.question,
      prompts: [prompt],
      outputs: paths.map(
        (answer, i) => `Path ${i + 1}${row.id === "q3" ? ` ${MALICIOUS}` : ""}: the answer is ${answer}.`,
      ),
      answers: paths,
      answer: row.sc,
      votes: row.scVotes.map(([answer, count]) => ({ answer, count, weight: count })),
      gold: row.gold,
      correct: row.sc === row.gold,
    });
  });
  cot.finish(
    { name: "accuracy", value: 4 / 6, correct: 4, total: 6 },
    () => new Date("2026-11-01T10:00:00Z"),
  );
  sc.finish({ name: "accuracy", value: 3 / 6, correct: 3, total: 6 }, () => new Date("2026-11-01T11:00:00Z"));
  return root;
}

/** A model that always reasons to 4 (every sample, every call). */
export function scriptedArithmeticModel(): ScriptedLanguageModel {
  return new ScriptedLanguageModel({
    model: "scripted-arith",
    generate: () => " 2 plus 2 makes 4. The answer is 4.",
  });
}
