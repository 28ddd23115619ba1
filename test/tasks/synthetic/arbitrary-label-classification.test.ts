import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CLASSIFICATION_TEMPLATE } from "../../../src/eval/prompt-run.js";
import { buildFewShotPrompt } from "../../../src/prompting/few-shot.js";
import { createRng } from "../../../src/prompting/random.js";
import {
  ARBITRARY_LABEL_WORDS,
  arbitraryLabelPretrainingText,
  CLASSIFICATION_FAMILIES,
  classificationTaskRecords,
} from "../../../src/tasks/synthetic/arbitrary-label-classification.js";
import {
  classificationSequence,
  SYNTHETIC_CLASSIFICATION_TEMPLATE,
  SyntheticTaskError,
} from "../../../src/tasks/synthetic/format.js";
import { inferLabels } from "../../../src/train/dataset.js";

interface ParsedSequence {
  choices: string[];
  blocks: Array<{ input: string; label: string }>;
}

/** Reads a sequence back in the prompt-run format: "Possible labels: a, b." then "Input: x\nLabel: w" blocks. */
function parseSequence(text: string): ParsedSequence {
  const [instruction, ...rest] = text.split("\n\n");
  const header = /^Possible labels: (.+)\.$/.exec(instruction);
  assert.ok(header, `instruction line: ${instruction}`);
  const blocks = rest.map((block) => {
    const match = /^Input: (.+)\nLabel: (\S+)$/.exec(block);
    assert.ok(match, `block: ${JSON.stringify(block)}`);
    return { input: match[1], label: match[2] };
  });
  return { choices: header[1].split(", "), blocks };
}

describe("arbitrary-label classification", () => {
  test("the template is the one `adaptlm prompt` classifies with", () => {
    assert.deepEqual(SYNTHETIC_CLASSIFICATION_TEMPLATE, CLASSIFICATION_TEMPLATE);
  });

  test("a pretraining sequence is the few-shot strategy's prompt plus the last answer", () => {
    const examples = [
      { input: "dog and owl", label: "zeb" },
      { input: "bread, rice and soup", label: "kip" },
      { input: "fox and whale", label: "zeb" },
    ];
    const sequence = classificationSequence(examples, ["kip", "zeb"]);
    assert.equal(
      sequence,
      "Possible labels: kip, zeb.\n\nInput: dog and owl\nLabel: zeb\n\nInput: bread, rice and soup\nLabel: kip" +
        "\n\nInput: fox and whale\nLabel: zeb",
    );
    // the real few-shot strategy, fed the same demonstrations in order, ends where the last answer begins
    const pool = examples.map((example, i) => ({
      id: String(i),
      fields: { input: example.input },
      label: example.label,
    }));
    const fewShot = buildFewShotPrompt(CLASSIFICATION_TEMPLATE, pool, pool[2], {
      labels: ["kip", "zeb"],
      k: 2,
      selection: "fixed",
      ids: ["0", "1"],
    });
    const zeb = fewShot.candidates.find((candidate) => candidate.label === "zeb");
    assert.equal(fewShot.prompt + zeb?.continuation, sequence);
  });

  test("evaluation records render, with unrelated labels, as a pretraining-format sequence", () => {
    const records = classificationTaskRecords("sentiment", "sentence", { seed: 3, count: 12 });
    const labels = inferLabels(
      records.map((r) => ({ label: r.label })),
      "label",
    );
    assert.deepEqual(labels, ["negative", "positive"]);
    const pool = records.map((r) => ({ id: r.id, fields: { input: r.text }, label: r.label }));
    const fewShot = buildFewShotPrompt(CLASSIFICATION_TEMPLATE, pool, pool[0], {
      labels,
      k: 4,
      seed: 1,
      labelPerturbation: "unrelated",
    });
    const verbalizer = fewShot.verbalizer as Record<string, string>;
    const gold = fewShot.candidates.find((candidate) => candidate.label === pool[0].label);
    const expected = classificationSequence(
      [...fewShot.demonstrations, pool[0]].map((demo) => ({
        input: demo.fields.input,
        label: verbalizer[demo.label],
      })),
      labels.map((label) => verbalizer[label]),
    );
    assert.equal(fewShot.prompt + gold?.continuation, expected);
  });

  test("within a sequence each class has one label word, and the words are the listed choices", () => {
    const rng = createRng(11);
    let arbitrary = 0;
    for (let i = 0; i < 60; i++) {
      const parsed = parseSequence(
        arbitraryLabelPretrainingText(rng, { tasks: ["parity"], semanticProbability: 0.2 }),
      );
      assert.equal(parsed.choices.length, 2);
      const wordOf = new Map<string, string>();
      for (const block of parsed.blocks) {
        const number = Number(/\d+/.exec(block.input)?.[0]);
        const parity = number % 2 === 0 ? "even" : "odd";
        assert.ok(parsed.choices.includes(block.label));
        const known = wordOf.get(parity);
        if (known !== undefined) assert.equal(block.label, known, `${parity} has two words in one sequence`);
        wordOf.set(parity, block.label);
      }
      if (wordOf.size === 2) assert.notEqual(wordOf.get("even"), wordOf.get("odd"));
      assert.ok(parsed.blocks.length >= 6 && parsed.blocks.length <= 16);
      if (parsed.choices.every((word) => ARBITRARY_LABEL_WORDS.includes(word))) arbitrary++;
    }
    // 20% semantic: about 48 of 60 arbitrary
    assert.ok(arbitrary >= 38 && arbitrary <= 58, `arbitrary sequences: ${arbitrary}`);
  });

  test("pretraining labels are balanced across many sequences", () => {
    const rng = createRng(5);
    const counts = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      for (const block of parseSequence(arbitraryLabelPretrainingText(rng, { tasks: ["parity"] })).blocks) {
        const parity = Number(/\d+/.exec(block.input)?.[0]) % 2 === 0 ? "even" : "odd";
        counts.set(parity, (counts.get(parity) ?? 0) + 1);
      }
    }
    const even = counts.get("even") ?? 0;
    const odd = counts.get("odd") ?? 0;
    assert.ok(Math.abs(even / (even + odd) - 0.5) < 0.05, `even ${even}, odd ${odd}`);
  });

  test("evaluation records: balanced, latent class recoverable, one arbitrary word per class", () => {
    for (const family of CLASSIFICATION_FAMILIES) {
      for (const domain of Object.keys(family.domains)) {
        const records = classificationTaskRecords(family.name, domain, { seed: 7, count: 50 });
        const labels = family.labels.slice(0, 2);
        assert.deepEqual(
          labels.map((label) => records.filter((r) => r.label === label).length),
          [25, 25],
          `${family.name}/${domain}`,
        );
        const words = new Map<string, Set<string>>();
        for (const record of records) {
          words.set(record.label, (words.get(record.label) ?? new Set()).add(record.arbitraryLabel));
          assert.ok(ARBITRARY_LABEL_WORDS.includes(record.arbitraryLabel));
          assert.equal(new Set(records.map((r) => r.id)).size, records.length);
        }
        assert.deepEqual(
          [...words.values()].map((set) => set.size),
          [1, 1],
        );
        assert.notEqual([...(words.get(labels[0]) ?? [])][0], [...(words.get(labels[1]) ?? [])][0]);
      }
    }
    for (const record of classificationTaskRecords("parity", "sentence", { seed: 2, count: 40 })) {
      const n = Number(/\d+/.exec(record.text)?.[0]);
      assert.equal(n % 2 === 0 ? "even" : "odd", record.label);
    }
    for (const record of classificationTaskRecords("repetition", "letters", { seed: 2, count: 40 })) {
      const items = record.text.split(" ");
      assert.equal(new Set(items).size < items.length ? "repeated" : "distinct", record.label);
    }
  });

  test("the arbitrary mapping is shared by a task's domains; label words never occur as class names", () => {
    const phrase = classificationTaskRecords("topic", "phrase", { seed: 9, count: 10 });
    const sentence = classificationTaskRecords("topic", "sentence", { seed: 9, count: 10 });
    const mapping = (records: typeof phrase) =>
      Object.fromEntries(records.map((r) => [r.label, r.arbitraryLabel]));
    assert.deepEqual(mapping(phrase), mapping(sentence));
    const classNames = CLASSIFICATION_FAMILIES.flatMap((family) => family.labels);
    assert.ok(ARBITRARY_LABEL_WORDS.every((word) => !classNames.includes(word)));
  });

  test("deterministic per seed", () => {
    const a = classificationTaskRecords("topic", "phrase", {
      seed: 1,
      count: 20,
      labels: ["tool", "place", "colour"],
    });
    const b = classificationTaskRecords("topic", "phrase", {
      seed: 1,
      count: 20,
      labels: ["tool", "place", "colour"],
    });
    const c = classificationTaskRecords("topic", "phrase", {
      seed: 2,
      count: 20,
      labels: ["tool", "place", "colour"],
    });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.equal(arbitraryLabelPretrainingText(createRng(4)), arbitraryLabelPretrainingText(createRng(4)));
    assert.notEqual(arbitraryLabelPretrainingText(createRng(4)), arbitraryLabelPretrainingText(createRng(5)));
  });

  test("bad options are typed errors that name the choices", () => {
    assert.throws(
      () => classificationTaskRecords("weather", "phrase", { seed: 0, count: 4 }),
      (error: unknown) => {
        assert.ok(error instanceof SyntheticTaskError);
        assert.match(error.message, /use topic, sentiment, parity, repetition/);
        return true;
      },
    );
    assert.throws(
      () => classificationTaskRecords("topic", "poem", { seed: 0, count: 4 }),
      /use phrase, sentence/,
    );
    assert.throws(
      () => classificationTaskRecords("topic", "phrase", { seed: 0, count: 4, labels: ["animal", "even"] }),
      /no class "even"/,
    );
    assert.throws(() => arbitraryLabelPretrainingText(createRng(0), { minExamples: 1 }), SyntheticTaskError);
  });
});
