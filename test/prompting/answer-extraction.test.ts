import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  answersMatch,
  canonicalNumber,
  extractAfterAnswerPhrase,
  extractAnswer,
  findNumbers,
} from "../../src/prompting/answer-extraction.js";

describe("answer extraction", () => {
  test("numbers: commas and currency stripped, canonical form, first or last", () => {
    assert.deepEqual(findNumbers("He paid $1,250.50 for 3 items, i.e. -2 each. Total 1,000,000."), [
      "1250.5",
      "3",
      "-2",
      "1000000",
    ]);
    assert.equal(extractAnswer("So 3 + 4 = 7. The total is 7.", { type: "number" }), "7");
    assert.equal(extractAnswer(" 18. Because 9 x 2 = 18", { type: "number", position: "first" }), "18");
    assert.equal(extractAnswer("no digits here", { type: "number" }), undefined);
    assert.equal(canonicalNumber("3.50"), "3.5");
    assert.equal(canonicalNumber("-0"), "0");
    assert.equal(canonicalNumber("007"), "7");
  });

  test("choices, yes/no and text", () => {
    assert.equal(extractAnswer(" (C) because B is wrong", { type: "choice", position: "first" }), "C");
    assert.equal(extractAnswer("Between A and B, I pick B.", { type: "choice" }), "B");
    assert.equal(
      extractAnswer("Answer: E", { type: "choice", choiceLetters: ["A", "B", "C", "D"] }),
      undefined,
    );
    assert.equal(extractAnswer(" Yes, it is.", { type: "yes-no", position: "first" }), "yes");
    assert.equal(extractAnswer("It is not known... no.", { type: "yes-no" }), "no");
    assert.equal(extractAnswer(' "Paris".\nMore text', { type: "text" }), "Paris");
    assert.equal(extractAnswer("   ", { type: "text" }), undefined);
  });

  test("after 'The answer is': first candidate there, else last in the text", () => {
    assert.equal(
      extractAfterAnswerPhrase("There are 3 cars and 2 more arrive. 3 + 2 = 5. The answer is 5.", {
        type: "number",
      }),
      "5",
    );
    assert.equal(extractAfterAnswerPhrase("12 then 14, so 16", { type: "number" }), "16");
    assert.equal(extractAfterAnswerPhrase("The answer is 4. Then 9.", { type: "number" }), "4");
  });

  test("answersMatch compares numbers by value and text case-insensitively", () => {
    assert.ok(answersMatch("1000", "1,000", "number"));
    assert.ok(answersMatch("2.5", "2.50", "number"));
    assert.ok(!answersMatch("2", "3", "number"));
    assert.ok(answersMatch("Yes", "yes", "yes-no"));
    assert.ok(!answersMatch(undefined, "yes", "yes-no"));
  });
});
