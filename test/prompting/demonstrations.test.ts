import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  bagOfWords,
  cosineSimilarity,
  DemonstrationError,
  orderDemonstrations,
  perturbLabels,
  replaceDemonstrationInputs,
  selectDemonstrations,
} from "../../src/prompting/demonstrations.js";
import type { LabelledExample } from "../../src/prompting/example.js";

const pool: LabelledExample[] = [
  { id: "p1", fields: { text: "a great and moving film" }, label: "pos" },
  { id: "p2", fields: { text: "wonderful acting" }, label: "pos" },
  { id: "p3", fields: { text: "great fun" }, label: "pos" },
  { id: "p4", fields: { text: "a joy" }, label: "pos" },
  { id: "n1", fields: { text: "boring and slow" }, label: "neg" },
  { id: "n2", fields: { text: "a terrible film" }, label: "neg" },
  { id: "u1", fields: { text: "it exists" }, label: "neutral" },
];
const ids = (examples: LabelledExample[]): Array<string | undefined> => examples.map((example) => example.id);

describe("demonstration selection", () => {
  test("random is seeded: same seed same demos, another seed other demos; the query is never its own demo", () => {
    const query = pool[0];
    const a = selectDemonstrations(pool, { k: 4, strategy: "random", seed: 1, query });
    const b = selectDemonstrations(pool, { k: 4, strategy: "random", seed: 1, query });
    assert.deepEqual(ids(a), ids(b));
    assert.equal(new Set(ids(a)).size, 4);
    assert.ok(!ids(a).includes("p1"));
    const others = [2, 3, 4, 5].map((seed) =>
      ids(selectDemonstrations(pool, { k: 4, strategy: "random", seed, query })).join(),
    );
    assert.ok(others.some((other) => other !== ids(a).join()));
  });

  test("balanced: labels take turns, first labels get the remainder", () => {
    const chosen = selectDemonstrations(pool, { k: 5, strategy: "balanced", seed: 3 });
    assert.deepEqual(
      chosen.map((example) => example.label),
      ["pos", "neg", "neutral", "pos", "neg"],
    );
    // neutral runs out after one: the rotation goes on without it
    const more = selectDemonstrations(pool, { k: 6, strategy: "balanced", seed: 3 });
    assert.deepEqual(
      more.map((example) => example.label),
      ["pos", "neg", "neutral", "pos", "neg", "pos"],
    );
  });

  test("fixed takes the ids in order; unknown ids are reported", () => {
    assert.deepEqual(ids(selectDemonstrations(pool, { k: 2, strategy: "fixed", ids: ["n2", "p3"] })), [
      "n2",
      "p3",
    ]);
    assert.throws(
      () => selectDemonstrations(pool, { k: 1, strategy: "fixed", ids: ["zz"] }),
      /"zz" is not in the pool/,
    );
    assert.throws(() => selectDemonstrations(pool, { k: 9, strategy: "random" }), DemonstrationError);
  });

  test("similar ranks by bag-of-words cosine, most similar first", () => {
    const query: LabelledExample = { fields: { text: "a great film" }, label: "pos" };
    const chosen = selectDemonstrations(pool, { k: 3, strategy: "similar", query });
    // cos("a great film", "a great and moving film") = 3/sqrt(3*5); "a terrible film" = 2/3; "great fun" = 1/sqrt(6)
    assert.deepEqual(ids(chosen), ["p1", "n2", "p3"]);
    assert.equal(cosineSimilarity(bagOfWords("A great film"), bagOfWords("a terrible film")), 2 / 3);
    assert.equal(cosineSimilarity(bagOfWords(""), bagOfWords("x")), 0);
  });

  test("ordering: as selected, reversed (most similar next to the query), seeded shuffle", () => {
    const demos = pool.slice(0, 4);
    assert.deepEqual(ids(orderDemonstrations(demos, "reverse")), ["p4", "p3", "p2", "p1"]);
    assert.deepEqual(
      ids(orderDemonstrations(demos, "random", 9)),
      ids(orderDemonstrations(demos, "random", 9)),
    );
    assert.deepEqual([...ids(orderDemonstrations(demos, "random", 9))].sort(), ["p1", "p2", "p3", "p4"]);
  });
});

describe("label perturbation", () => {
  const labels = ["pos", "neg", "neutral"];
  const demos = [pool[0], pool[4], pool[6]];

  test("gold keeps, flipped always changes (cyclic), random draws from the label set", () => {
    assert.deepEqual(perturbLabels(demos, "gold", { labels }).demonstrations, demos);
    assert.deepEqual(
      perturbLabels(demos, "flipped", { labels }).demonstrations.map((demo) => demo.label),
      ["neg", "neutral", "pos"],
    );
    assert.deepEqual(
      perturbLabels([pool[0], pool[4]], "flipped", { labels: ["pos", "neg"] }).demonstrations.map(
        (demo) => demo.label,
      ),
      ["neg", "pos"],
    );
    const random = perturbLabels(Array(40).fill(pool[0]), "random", { labels, seed: 5 }).demonstrations;
    assert.ok(random.every((demo) => labels.includes(demo.label)));
    assert.equal(new Set(random.map((demo) => demo.label)).size, 3);
    assert.deepEqual(
      random,
      perturbLabels(Array(40).fill(pool[0]), "random", { labels, seed: 5 }).demonstrations,
    );
    // inputs untouched
    assert.deepEqual(random[0].fields, pool[0].fields);
  });

  test("unrelated keeps labels and returns a foo/bar verbaliser", () => {
    const result = perturbLabels(demos, "unrelated", { labels });
    assert.deepEqual(result.demonstrations, demos);
    assert.deepEqual(result.verbalizer, { pos: "foo", neg: "bar", neutral: "baz" });
    assert.throws(
      () => perturbLabels([{ fields: {}, label: "x" }], "flipped", { labels }),
      /"x" is not in the label set/,
    );
  });

  test("out-of-domain inputs replace the input field, labels kept, seeded", () => {
    const texts = ["the stock market fell", "rain is expected", "the match ended 2-1"];
    const replaced = replaceDemonstrationInputs(demos, texts, { field: "text", seed: 2 });
    assert.deepEqual(
      replaced.map((demo) => demo.label),
      ["pos", "neg", "neutral"],
    );
    assert.deepEqual([...replaced.map((demo) => demo.fields.text)].sort(), [...texts].sort());
    assert.deepEqual(replaced, replaceDemonstrationInputs(demos, texts, { field: "text", seed: 2 }));
    assert.throws(() => replaceDemonstrationInputs(demos, texts.slice(0, 2), { field: "text" }), /need 3/);
  });
});
