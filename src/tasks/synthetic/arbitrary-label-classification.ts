// Classification tasks whose class is learnable from the input (topic, sentiment, parity, repetition) but
// whose label words are arbitrary: each pretraining sequence draws its own mapping from classes to words
// ("animal" -> "zeb", "food" -> "kip") and shows it only through demonstrations, so a model can predict the
// queries only by reading the mapping off the context (induction-style in-context learning). A share of the
// sequences keep the semantic label names, which gives the model the priors that the flipped-label and
// unrelated-label experiments (Min et al. 2022; Wei et al. 2023) test against. Every task has two input
// domains (e.g. a list of nouns vs a sentence), for in-domain vs out-of-domain demonstrations.

import { createRng, type Rng, shuffled } from "../../prompting/random.js";
import {
  checkInteger,
  classificationSequence,
  deriveSeed,
  pick,
  randomInt,
  SyntheticTaskError,
  words,
} from "./format.js";

export interface ClassificationFamily {
  name: string;
  /** Semantic class names, in a fixed order. */
  labels: readonly string[];
  /** Input generators by domain name: a text whose latent class is `label`. */
  domains: Readonly<Record<string, (rng: Rng, label: string) => string>>;
}

const TOPIC_WORDS: Readonly<Record<string, readonly string[]>> = {
  animal: words(
    "dog cat horse rabbit tiger lion sheep goat mouse eagle owl frog whale shark zebra camel monkey bear wolf fox",
  ),
  food: words(
    "bread cheese apple rice soup cake pizza pasta carrot banana honey butter salad cookie noodle potato tomato pancake sandwich yogurt",
  ),
  colour: words(
    "red blue green yellow purple pink brown black white grey violet crimson scarlet teal maroon beige turquoise indigo amber magenta",
  ),
  tool: words(
    "hammer saw drill wrench shovel screwdriver chisel rake pliers axe ladder spanner trowel clamp crowbar mallet scissors needle hoe sander",
  ),
  place: words(
    "school library market beach forest mountain village harbour airport station museum hospital desert island castle garden church stadium valley bakery",
  ),
};

const TOPIC_SENTENCES: readonly string[] = [
  "Yesterday we talked about the {a} and the {b}.",
  "My sister drew a picture of the {a} next to the {b}.",
  "The old story mentions the {a} and later the {b}.",
  "On the radio they spoke about the {a} and the {b}.",
  "Her notebook has a page on the {a} and one on the {b}.",
];

const POSITIVE_WORDS: readonly string[] = words(
  "wonderful lovely delightful excellent great brilliant pleasant charming superb cheerful gorgeous fantastic marvellous splendid joyful amazing",
);
const NEGATIVE_WORDS: readonly string[] = words(
  "terrible awful horrible dreadful boring nasty miserable dull ugly gloomy disappointing rotten painful annoying poor dismal",
);
const SENTIMENT_NOUNS: readonly string[] = words(
  "day meal film trip song book party holiday concert game show evening hotel story lesson weekend",
);
const SENTIMENT_SENTENCES: readonly string[] = [
  "The {n} was {a} and the {m} was {b}.",
  "We all agreed that the {n} was really {a}.",
  "What a {a} {n}, and the {m} was {b} too.",
  "I thought the {n} was {a}, honestly {b}.",
];

const COUNTED_OBJECTS: readonly string[] = words(
  "chairs books coins stones cups pencils shells marbles boxes candles",
);
const CONTAINERS: readonly string[] = ["room", "box", "hall", "basket", "drawer", "shop", "garden", "bag"];

const LIST_WORDS: readonly string[] = Object.values(TOPIC_WORDS).flat();
const LETTERS: readonly string[] = "abcdefghijklmnopqrstuvwxyz".split("");

function topicNouns(rng: Rng, label: string, count: number): string[] {
  const words = TOPIC_WORDS[label];
  if (!words)
    throw new SyntheticTaskError(`unknown topic "${label}": use ${Object.keys(TOPIC_WORDS).join(", ")}`);
  return shuffled(words, rng).slice(0, count);
}

function sentimentWords(label: string): readonly string[] {
  if (label === "positive") return POSITIVE_WORDS;
  if (label === "negative") return NEGATIVE_WORDS;
  throw new SyntheticTaskError(`unknown sentiment "${label}": use positive or negative`);
}

/** A number with the parity of `label`, 1 to 4 digits. */
function numberWithParity(rng: Rng, label: string): number {
  if (label !== "even" && label !== "odd")
    throw new SyntheticTaskError(`unknown parity "${label}": use even or odd`);
  const digits = randomInt(rng, 1, 4);
  const low = digits === 1 ? 0 : 10 ** (digits - 1);
  const n = randomInt(rng, low, 10 ** digits - 1);
  return n % 2 === (label === "even" ? 0 : 1) ? n : n === 10 ** digits - 1 ? n - 1 : n + 1;
}

/** 4 to 6 items; "repeated" has exactly one item twice, "distinct" none. */
function listWithRepetition(rng: Rng, label: string, vocabulary: readonly string[]): string[] {
  if (label !== "repeated" && label !== "distinct") {
    throw new SyntheticTaskError(`unknown repetition label "${label}": use repeated or distinct`);
  }
  const length = randomInt(rng, 4, 6);
  const items = shuffled(vocabulary, rng).slice(0, label === "repeated" ? length - 1 : length);
  if (label === "repeated") {
    const copy = pick(rng, items);
    items.splice(randomInt(rng, 0, items.length), 0, copy);
    // the copy may land right next to its original; that is still a repetition
  }
  return items;
}

function joinWithAnd(items: readonly string[]): string {
  return items.length === 1 ? items[0] : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

function fill(pattern: string, values: Readonly<Record<string, string>>): string {
  return pattern.replace(/\{(\w+)\}/g, (_match, name: string) => values[name] ?? "");
}

export const CLASSIFICATION_FAMILIES: readonly ClassificationFamily[] = [
  {
    name: "topic",
    labels: Object.keys(TOPIC_WORDS),
    domains: {
      phrase: (rng, label) => joinWithAnd(topicNouns(rng, label, randomInt(rng, 2, 3))),
      sentence: (rng, label) => {
        const [a, b] = topicNouns(rng, label, 2);
        return fill(pick(rng, TOPIC_SENTENCES), { a, b });
      },
    },
  },
  {
    name: "sentiment",
    labels: ["positive", "negative"],
    domains: {
      phrase: (rng, label) => {
        const [a, b] = shuffled(sentimentWords(label), rng);
        return rng() < 0.5
          ? `a ${a} ${pick(rng, SENTIMENT_NOUNS)}`
          : `${a} and ${b} ${pick(rng, SENTIMENT_NOUNS)}`;
      },
      sentence: (rng, label) => {
        const [a, b] = shuffled(sentimentWords(label), rng);
        const [n, m] = shuffled(SENTIMENT_NOUNS, rng);
        return fill(pick(rng, SENTIMENT_SENTENCES), { a, b, n, m });
      },
    },
  },
  {
    name: "parity",
    labels: ["even", "odd"],
    domains: {
      digits: (rng, label) => String(numberWithParity(rng, label)),
      sentence: (rng, label) =>
        `There are ${numberWithParity(rng, label)} ${pick(rng, COUNTED_OBJECTS)} in the ${pick(rng, CONTAINERS)}.`,
    },
  },
  {
    name: "repetition",
    labels: ["repeated", "distinct"],
    domains: {
      words: (rng, label) => listWithRepetition(rng, label, LIST_WORDS).join(" "),
      letters: (rng, label) => listWithRepetition(rng, label, LETTERS).join(" "),
    },
  },
];

/**
 * Label words: made-up words and common words that occur in no input and are no class name, so their only
 * meaning in a sequence is the one its demonstrations give. Includes foo/bar/baz/qux, the prompting layer's
 * default "unrelated" labels, so that experiment uses words the model has seen as arbitrary labels.
 */
export const ARBITRARY_LABEL_WORDS: readonly string[] = words(
  "foo bar baz qux zeb kip dax wug fep blick lorp toma vork nim gazzer plim seven cloud north paper window music",
);

export function classificationFamily(name: string): ClassificationFamily {
  const family = CLASSIFICATION_FAMILIES.find((candidate) => candidate.name === name);
  if (!family) {
    throw new SyntheticTaskError(
      `unknown classification task "${name}": use ${CLASSIFICATION_FAMILIES.map((f) => f.name).join(", ")}`,
    );
  }
  return family;
}

export interface ArbitraryLabelPretrainingOptions {
  /** Labelled examples per sequence, demonstrations and answered queries together. Default 6 and 16. */
  minExamples?: number;
  maxExamples?: number;
  /** Classes per sequence are drawn from 2 to this (capped by the task's classes). Default 3. */
  maxClasses?: number;
  /** Share of sequences labelled with the semantic class names instead of arbitrary words. Default 0.25. */
  semanticProbability?: number;
  /** Task names to draw from. Default all. */
  tasks?: readonly string[];
  /** Default ARBITRARY_LABEL_WORDS. */
  labelWords?: readonly string[];
}

/**
 * One pretraining sequence: a random task, domain and class subset, a random class -> label-word mapping, and
 * examples in the few-shot prompt format of `adaptlm prompt` (instruction listing the label words, then
 * "Input: ...\nLabel: word" blocks), every block answered.
 */
export function arbitraryLabelPretrainingText(
  rng: Rng,
  options: ArbitraryLabelPretrainingOptions = {},
): string {
  const minExamples = options.minExamples ?? 6;
  const maxExamples = options.maxExamples ?? 16;
  checkInteger("minExamples", minExamples, 2);
  checkInteger("maxExamples", maxExamples, minExamples);
  const maxClasses = options.maxClasses ?? 3;
  checkInteger("maxClasses", maxClasses, 2);
  const semanticProbability = options.semanticProbability ?? 0.25;
  if (!(semanticProbability >= 0 && semanticProbability <= 1)) {
    throw new SyntheticTaskError(`semanticProbability must be in [0, 1], got ${semanticProbability}`);
  }
  const families = (options.tasks ?? CLASSIFICATION_FAMILIES.map((f) => f.name)).map(classificationFamily);
  const pool = options.labelWords ?? ARBITRARY_LABEL_WORDS;

  const family = pick(rng, families);
  const domain = family.domains[pick(rng, Object.keys(family.domains))];
  const classCount = randomInt(rng, 2, Math.min(maxClasses, family.labels.length));
  const classes = shuffled(family.labels, rng).slice(0, classCount);
  if (pool.length < classes.length) {
    throw new SyntheticTaskError(`need ${classes.length} label words, the pool has ${pool.length}`);
  }
  const words = rng() < semanticProbability ? classes : shuffled(pool, rng).slice(0, classes.length);
  const count = randomInt(rng, minExamples, maxExamples);
  const examples = Array.from({ length: count }, () => {
    const index = randomInt(rng, 0, classes.length - 1);
    return { input: domain(rng, classes[index]), label: words[index] };
  });
  // the instruction lists the words in a random order: prompt-run lists them sorted, or (unrelated labels) in
  // the order of the sorted classes, and the model should depend on neither
  return classificationSequence(examples, shuffled(words, rng));
}

/** An evaluation record: the input, its semantic label and the label word of the task's arbitrary mapping. */
export interface ClassificationRecord {
  id: string;
  text: string;
  label: string;
  arbitraryLabel: string;
  task: string;
  domain: string;
}

export interface ClassificationTaskOptions {
  seed: number;
  count: number;
  /** The classes used (a subset of the task's, at least 2). Default: the task's first two. */
  labels?: readonly string[];
  /** Default ARBITRARY_LABEL_WORDS. */
  labelWords?: readonly string[];
}

/**
 * The fixed class -> arbitrary word mapping of a task for a seed; it depends on the task, the seed and the
 * classes but not on the domain, so the in-domain and out-of-domain files of a task share it.
 */
export function arbitraryLabelMapping(
  task: string,
  labels: readonly string[],
  seed: number,
  labelWords: readonly string[] = ARBITRARY_LABEL_WORDS,
): Record<string, string> {
  if (labelWords.length < labels.length) {
    throw new SyntheticTaskError(`need ${labels.length} label words, got ${labelWords.length}`);
  }
  const words = shuffled(labelWords, createRng(deriveSeed(seed, task, "labels", ...labels)));
  return Object.fromEntries(labels.map((label, i) => [label, words[i]]));
}

/**
 * `count` records of one task and domain, labels balanced (each class count/classes times, the first classes
 * one more when it does not divide), in a seeded random order.
 */
export function classificationTaskRecords(
  task: string,
  domain: string,
  options: ClassificationTaskOptions,
): ClassificationRecord[] {
  checkInteger("count", options.count, 1);
  const family = classificationFamily(task);
  const generate = family.domains[domain];
  if (!generate) {
    throw new SyntheticTaskError(
      `task "${task}" has no domain "${domain}": use ${Object.keys(family.domains).join(", ")}`,
    );
  }
  const labels = options.labels ?? family.labels.slice(0, 2);
  if (labels.length < 2)
    throw new SyntheticTaskError(`a classification task needs at least 2 labels, got ${labels.length}`);
  for (const label of labels) {
    if (!family.labels.includes(label)) {
      throw new SyntheticTaskError(`task "${task}" has no class "${label}": use ${family.labels.join(", ")}`);
    }
  }
  const mapping = arbitraryLabelMapping(task, labels, options.seed, options.labelWords);
  const rng = createRng(deriveSeed(options.seed, task, domain));
  const golds = shuffled(
    Array.from({ length: options.count }, (_, i) => labels[i % labels.length]),
    rng,
  );
  return golds.map((label, i) => ({
    id: `${task}-${domain}-${i}`,
    text: generate(rng, label),
    label,
    arbitraryLabel: mapping[label],
    task,
    domain,
  }));
}
