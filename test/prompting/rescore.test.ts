import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RescoreError, rescoreOutputs } from "../../src/prompting/rescore.js";

describe("re-scoring recorded outputs", () => {
  test("single outputs: extraction after the answer phrase, numbers compared by value", () => {
    const result = rescoreOutputs(
      [
        { id: 1, output: "3 + 4 = 7. The answer is 7." },
        { id: 2, output: "We get $1,000 in total." },
        { id: 3, output: "The answer is 12." },
        { id: 9, output: "stray" },
      ],
      [
        { id: 1, answer: "7" },
        { id: 2, answer: 1000 },
        { id: 3, answer: "13" },
        { id: 4, answer: "5" },
      ],
      { answerType: "number" },
    );
    assert.equal(result.correct, 2);
    assert.equal(result.total, 4);
    assert.equal(result.accuracy, 0.5);
    assert.deepEqual(result.missing, ["4"]);
    assert.deepEqual(result.unmatched, ["9"]);
    assert.deepEqual(
      result.examples.map((example) => [example.id, example.predicted, example.correct]),
      [
        ["1", "7", true],
        ["2", "1000", true],
        ["3", "12", false],
        ["4", undefined, false],
      ],
    );
  });

  test("several samples: majority vs weighted vote (token logprobs or mean logprob per sample)", () => {
    const outputs = [
      {
        id: "q",
        outputs: ["The answer is 5.", "The answer is 6.", "The answer is 6."],
        logprobs: [[-0.1, -0.1], -3, [-3, -3]],
      },
    ];
    const gold = [{ id: "q", answer: "5" }];
    assert.equal(rescoreOutputs(outputs, gold, { answerType: "number" }).accuracy, 0);
    const weighted = rescoreOutputs(outputs, gold, { answerType: "number", vote: "weighted" });
    assert.equal(weighted.accuracy, 1);
    assert.deepEqual(
      weighted.examples[0].votes.map((vote) => [vote.answer, vote.count]),
      [
        ["6", 2],
        ["5", 1],
      ],
    );
    assert.throws(
      () => rescoreOutputs([{ id: "q", outputs: ["a"] }], gold, { answerType: "number", vote: "weighted" }),
      RescoreError,
    );
  });

  test("first-candidate extraction for triggered answers; duplicate ids are an error", () => {
    const result = rescoreOutputs([{ id: "a", output: " (B), not (C)" }], [{ id: "a", answer: "B" }], {
      answerType: "choice",
      extraction: "first",
    });
    assert.equal(result.accuracy, 1);
    assert.throws(
      () =>
        rescoreOutputs(
          [
            { id: 1, output: "x" },
            { id: "1", output: "y" },
          ],
          [],
          { answerType: "text" },
        ),
      /appears twice/,
    );
  });
});
