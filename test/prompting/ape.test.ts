import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cleanInstruction, formatPairs, searchInstructions } from "../../src/prompting/ape.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";

const demonstrations = [
  { input: "cat", output: "cats" },
  { input: "dog", output: "dogs" },
  { input: "bird", output: "birds" },
];
const dev = [
  { input: "cow", output: "cows" },
  { input: "fox", output: "foxes" },
];

/** A model that induces fixed candidates and "executes" instructions literally. */
function apeModel(): ScriptedLanguageModel {
  const induced = [' "Make the word plural."', " Repeat the word.", " Make the word plural.", " Add s."];
  return new ScriptedLanguageModel({
    generate: (request, sample) => {
      const prompt = request.prompt as string;
      if (prompt.startsWith("I gave a friend")) return induced[sample % induced.length];
      if (prompt.startsWith("Generate a variation"))
        return [" Write the plural form of the word.", " Add s."][sample];
      const instruction = /^Instruction: (.*)\n/.exec(prompt)![1];
      const word = /Input: (.*)\nOutput:$/.exec(prompt)![1];
      if (instruction === "Repeat the word.") return ` ${word}`;
      if (instruction === "Add s.") return ` ${word}s`;
      return word.endsWith("x") ? ` ${word}es` : ` ${word}s`;
    },
    score: (prompt, continuation) => (prompt.includes("plural") && continuation.endsWith("s") ? -1 : -5),
  });
}

describe("APE", () => {
  test("induces with the meta-prompt, scores by execution accuracy, keeps the best", async () => {
    const lm = apeModel();
    const result = await searchInstructions(lm, {
      demonstrations,
      dev,
      subsets: 1,
      pairsPerSubset: 3,
      seed: 4,
    });
    const induction = lm.generateRequests[0];
    assert.match(
      induction.prompt as string,
      /^I gave a friend an instruction and 3 inputs\. The friend read the instruction and wrote an output for every one of the inputs\. Here are the input-output pairs:\n\nInput: \w+\nOutput: \w+\n\nInput: \w+\nOutput: \w+\n\nInput: \w+\nOutput: \w+\n\nThe instruction was$/,
    );
    assert.equal(induction.n, 4);
    assert.deepEqual(induction.stop, ["\n"]);
    assert.deepEqual(
      result.candidates.map((candidate) => [candidate.instruction, candidate.score]),
      [
        ["Make the word plural.", 1],
        ["Add s.", 0.5],
        ["Repeat the word.", 0],
      ],
    );
    assert.equal(result.best.instruction, "Make the word plural.");
    // 1 induction + 3 distinct candidates x 2 dev pairs
    assert.equal(lm.calls.length, 7);
    assert.equal(lm.prompts[1], "Instruction: Make the word plural.\n\nInput: cow\nOutput:");
  });

  test("resampling rounds add variants of the best; likelihood scoring uses score()", async () => {
    const lm = apeModel();
    const result = await searchInstructions(lm, {
      demonstrations,
      dev,
      subsets: 1,
      scoring: "likelihood",
      resampleRounds: 1,
      variantsPerRound: 2,
    });
    const resample = lm.generateRequests.find((request) => (request.prompt as string).startsWith("Generate"));
    assert.equal(
      resample?.prompt,
      "Generate a variation of the following instruction while keeping the semantic meaning.\n\nInput: Make the word plural.\n\nOutput:",
    );
    assert.deepEqual(
      result.candidates.map((candidate) => [candidate.instruction, candidate.score, candidate.round]),
      [
        ["Make the word plural.", -1, 0],
        ["Write the plural form of the word.", -1, 1],
        ["Repeat the word.", -5, 0],
        ["Add s.", -5, 0],
      ],
    );
    const scoreCall = lm.calls.find((call) => call.kind === "score");
    assert.deepEqual(scoreCall, {
      kind: "score",
      prompt: "Instruction: Make the word plural.\n\nInput: cow\nOutput:",
      continuation: " cows",
    });
  });

  test("helpers", () => {
    assert.equal(cleanInstruction(' : "Sort the list."\nmore'), "Sort the list.");
    assert.equal(formatPairs(demonstrations.slice(0, 1)), "Input: cat\nOutput: cats");
  });
});
