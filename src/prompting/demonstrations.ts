// In-context demonstrations: choose k examples from a pool (random with a seed, class-balanced, fixed ids, or
// most similar to the query by bag-of-words cosine), order them, and perturb them for the experiments of
// Min et al. (2022) and Wei et al. (2023): gold labels, random labels, flipped labels, semantically unrelated
// labels (foo/bar), and inputs drawn from another domain.

import { AdaptlmError } from "../errors.js";
import { exampleText, type LabelledExample, sameExample } from "./example.js";
import { createRng, randomIndex, shuffled } from "./random.js";

export class DemonstrationError extends AdaptlmError {
  constructor(message: string) {
    super("PROMPT_DEMONSTRATIONS", message);
  }
}

export type SelectionStrategy = "random" | "balanced" | "fixed" | "similar";

export interface SelectionOptions {
  k: number;
  strategy: SelectionStrategy;
  /** For "random" and "balanced". Default 0. */
  seed?: number;
  /** The example being answered: never chosen as its own demonstration; required by "similar". */
  query?: LabelledExample;
  /** For "fixed": the ids to use, in order. */
  ids?: readonly string[];
  /** Fields compared by "similar" (default: all of the query's fields). */
  similarityFields?: readonly string[];
}

/** Picks k demonstrations from `pool`. */
export function selectDemonstrations(
  pool: readonly LabelledExample[],
  options: SelectionOptions,
): LabelledExample[] {
  const { k, strategy } = options;
  if (!Number.isInteger(k) || k < 0)
    throw new DemonstrationError(`k must be a non-negative integer, got ${k}`);
  const query = options.query;
  const candidates = query ? pool.filter((example) => !sameExample(example, query)) : [...pool];
  if (strategy === "fixed") {
    const ids = options.ids ?? [];
    if (ids.length < k) throw new DemonstrationError(`fixed selection needs ${k} ids, got ${ids.length}`);
    return ids.slice(0, k).map((id) => {
      const found = pool.find((example) => example.id === id);
      if (!found)
        throw new DemonstrationError(
          `fixed demonstration id "${id}" is not in the pool of ${pool.length} examples`,
        );
      return found;
    });
  }
  if (candidates.length < k) {
    throw new DemonstrationError(
      `asked for ${k} demonstrations but the pool has only ${candidates.length} (query excluded)`,
    );
  }
  const rng = createRng(options.seed ?? 0);
  if (strategy === "random") return shuffled(candidates, rng).slice(0, k);
  if (strategy === "balanced") return selectBalanced(candidates, k, rng);
  if (strategy === "similar") {
    if (!query) throw new DemonstrationError('"similar" selection needs the query example');
    const fields = options.similarityFields ?? Object.keys(query.fields);
    const queryVector = bagOfWords(exampleText(query, fields));
    return candidates
      .map((example, index) => ({
        example,
        index,
        similarity: cosineSimilarity(queryVector, bagOfWords(exampleText(example, fields))),
      }))
      .sort((a, b) => b.similarity - a.similarity || a.index - b.index)
      .slice(0, k)
      .map((entry) => entry.example);
  }
  throw new DemonstrationError(
    `unknown selection strategy "${strategy as string}": use random, balanced, fixed or similar`,
  );
}

/**
 * Class-balanced: the labels (in order of first appearance in the pool) take turns, each giving its next
 * example from a seeded shuffle, until k are chosen; with k not a multiple of the label count the first labels
 * get one more. A label that runs out drops from the rotation.
 */
function selectBalanced(
  candidates: readonly LabelledExample[],
  k: number,
  rng: () => number,
): LabelledExample[] {
  const byLabel = new Map<string, LabelledExample[]>();
  for (const example of candidates) {
    const group = byLabel.get(example.label) ?? [];
    group.push(example);
    byLabel.set(example.label, group);
  }
  const queues = [...byLabel.values()].map((group) => shuffled(group, rng));
  const chosen: LabelledExample[] = [];
  while (chosen.length < k) {
    for (const queue of queues) {
      const next = queue.shift();
      if (next && chosen.length < k) chosen.push(next);
    }
  }
  return chosen;
}

export type DemonstrationOrder = "as-selected" | "reverse" | "random";

/** "reverse" puts the most similar demonstration last, next to the query (Liu et al. 2022). */
export function orderDemonstrations(
  demonstrations: readonly LabelledExample[],
  order: DemonstrationOrder,
  seed = 0,
): LabelledExample[] {
  if (order === "as-selected") return [...demonstrations];
  if (order === "reverse") return [...demonstrations].reverse();
  return shuffled(demonstrations, createRng(seed));
}

export type LabelPerturbation = "gold" | "random" | "flipped" | "unrelated";

export const DEFAULT_UNRELATED_LABELS: readonly string[] = [
  "foo",
  "bar",
  "baz",
  "qux",
  "quux",
  "corge",
  "grault",
  "garply",
];

export interface PerturbationOptions {
  /** The label set, in a fixed order. */
  labels: readonly string[];
  seed?: number;
  /** Words for "unrelated", one per label in order. Default foo, bar, baz, ... */
  unrelatedLabels?: readonly string[];
}

export interface PerturbedDemonstrations {
  demonstrations: LabelledExample[];
  /**
   * For "unrelated": label -> unrelated word. Use it as the verbaliser of the whole prompt (demonstrations and
   * the answer candidates), so the model must map inputs to foo/bar from the demonstrations alone.
   */
  verbalizer?: Record<string, string>;
}

/**
 * gold: unchanged. random: each label drawn uniformly from the label set (seeded; may equal the gold one, as in
 * Min et al. 2022). flipped: every label replaced by a wrong one (binary: the other; more classes: the next in
 * `labels`, cyclically). unrelated: labels kept, verbalised as unrelated words (Wei et al. 2023).
 */
export function perturbLabels(
  demonstrations: readonly LabelledExample[],
  mode: LabelPerturbation,
  options: PerturbationOptions,
): PerturbedDemonstrations {
  const { labels } = options;
  if (labels.length < 2)
    throw new DemonstrationError(`label perturbation needs at least 2 labels, got ${labels.length}`);
  const indexOf = (label: string): number => {
    const index = labels.indexOf(label);
    if (index < 0)
      throw new DemonstrationError(
        `demonstration label "${label}" is not in the label set [${labels.join(", ")}]`,
      );
    return index;
  };
  if (mode === "gold") return { demonstrations: [...demonstrations] };
  if (mode === "random") {
    const rng = createRng(options.seed ?? 0);
    return {
      demonstrations: demonstrations.map((demo) => ({
        ...demo,
        label: labels[randomIndex(rng, labels.length)],
      })),
    };
  }
  if (mode === "flipped") {
    return {
      demonstrations: demonstrations.map((demo) => ({
        ...demo,
        label: labels[(indexOf(demo.label) + 1) % labels.length],
      })),
    };
  }
  if (mode === "unrelated") {
    const words = options.unrelatedLabels ?? DEFAULT_UNRELATED_LABELS;
    if (words.length < labels.length) {
      throw new DemonstrationError(`need ${labels.length} unrelated label words, got ${words.length}`);
    }
    for (const demo of demonstrations) indexOf(demo.label);
    const verbalizer: Record<string, string> = {};
    labels.forEach((label, index) => {
      verbalizer[label] = words[index];
    });
    return { demonstrations: [...demonstrations], verbalizer };
  }
  throw new DemonstrationError(
    `unknown label perturbation "${mode as string}": use gold, random, flipped or unrelated`,
  );
}

/**
 * Out-of-domain inputs (Min et al. 2022): each demonstration's `field` is replaced by a text drawn (seeded,
 * without replacement) from `texts` of another domain; labels are kept (combine with "random" labels for the
 * paper's setting).
 */
export function replaceDemonstrationInputs(
  demonstrations: readonly LabelledExample[],
  texts: readonly string[],
  options: { field: string; seed?: number },
): LabelledExample[] {
  if (texts.length < demonstrations.length) {
    throw new DemonstrationError(`need ${demonstrations.length} out-of-domain texts, got ${texts.length}`);
  }
  const drawn = shuffled(texts, createRng(options.seed ?? 0));
  return demonstrations.map((demo, index) => ({
    ...demo,
    fields: { ...demo.fields, [options.field]: drawn[index] },
  }));
}

/** Lower-cased word counts. */
export function bagOfWords(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])
    counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

/** Cosine of two count vectors; 0 when either is empty. */
export function cosineSimilarity(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (const [word, count] of a) {
    normA += count * count;
    const other = b.get(word);
    if (other !== undefined) dot += count * other;
  }
  for (const count of b.values()) normB += count * count;
  if (normA === 0 || normB === 0) return 0;
  return dot / Math.sqrt(normA * normB);
}
