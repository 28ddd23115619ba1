// Entity-level precision, recall and F1 for BIO (IOB2) tag sequences, as seqeval computes them in its
// default (non-strict) mode: an entity is a maximal run that starts with B-X, or with I-X after a tag that is
// not of type X (seqeval accepts such a run as an entity), and continues with I-X; O, a new B-, or an I- of
// another type ends it. A predicted entity counts as correct only if type, start and end all match.

export interface Entity {
  type: string;
  /** First token index (inclusive). */
  start: number;
  /** Last token index (inclusive). */
  end: number;
}

/** The entities of one BIO tag sequence. Tags other than B-X / I-X (e.g. "O") are outside. */
export function bioEntities(tags: readonly string[]): Entity[] {
  const entities: Entity[] = [];
  let current: Entity | null = null;
  const close = () => {
    if (current) entities.push(current);
    current = null;
  };
  tags.forEach((tag, i) => {
    const prefix = tag.slice(0, 2);
    const type = tag.length > 2 ? tag.slice(2) : "";
    if (prefix === "B-") {
      close();
      current = { type, start: i, end: i };
    } else if (prefix === "I-") {
      if (current && current.type === type) current.end = i;
      else {
        close();
        current = { type, start: i, end: i };
      }
    } else close();
  });
  close();
  return entities;
}

export interface EntityScores {
  precision: number;
  recall: number;
  f1: number;
  /** Correct, predicted and gold entity counts (micro-averaged over all sentences and types). */
  correct: number;
  predicted: number;
  gold: number;
  /** Per entity type. */
  byType: Record<string, { precision: number; recall: number; f1: number; gold: number }>;
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

function f1Of(p: number, r: number): number {
  return p + r === 0 ? 0 : (2 * p * r) / (p + r);
}

/** Micro-averaged entity scores of predicted against gold tag sequences (one pair per sentence). */
export function entityF1(
  gold: readonly (readonly string[])[],
  predicted: readonly (readonly string[])[],
): EntityScores {
  if (gold.length !== predicted.length)
    throw new RangeError(`entityF1: ${gold.length} gold sentences but ${predicted.length} predicted`);
  const types = new Map<string, { correct: number; predicted: number; gold: number }>();
  const count = (type: string) => {
    let c = types.get(type);
    if (!c) {
      c = { correct: 0, predicted: 0, gold: 0 };
      types.set(type, c);
    }
    return c;
  };
  gold.forEach((goldTags, i) => {
    const key = (e: Entity) => `${e.type}\u0000${e.start}\u0000${e.end}`;
    const goldEntities = bioEntities(goldTags);
    const predictedEntities = bioEntities(predicted[i]);
    const goldKeys = new Set(goldEntities.map(key));
    for (const e of goldEntities) count(e.type).gold++;
    for (const e of predictedEntities) {
      count(e.type).predicted++;
      if (goldKeys.has(key(e))) count(e.type).correct++;
    }
  });
  let correct = 0;
  let predictedCount = 0;
  let goldCount = 0;
  const byType: EntityScores["byType"] = {};
  for (const [type, c] of [...types].sort(([a], [b]) => (a < b ? -1 : 1))) {
    correct += c.correct;
    predictedCount += c.predicted;
    goldCount += c.gold;
    const p = ratio(c.correct, c.predicted);
    const r = ratio(c.correct, c.gold);
    byType[type] = { precision: p, recall: r, f1: f1Of(p, r), gold: c.gold };
  }
  const precision = ratio(correct, predictedCount);
  const recall = ratio(correct, goldCount);
  return {
    precision,
    recall,
    f1: f1Of(precision, recall),
    correct,
    predicted: predictedCount,
    gold: goldCount,
    byType,
  };
}

/**
 * Word-level tags from per-token label ids: drops positions whose gold label is -100 (specials, padding,
 * non-first sub-words), as the usual evaluation of a token-classification model does.
 */
export function alignedTags(
  predictedIds: readonly number[],
  goldIds: readonly number[],
  labelNames: readonly string[],
): { gold: string[]; predicted: string[] } {
  const gold: string[] = [];
  const predicted: string[] = [];
  goldIds.forEach((g, i) => {
    if (g === -100) return;
    gold.push(labelNames[g]);
    predicted.push(labelNames[predictedIds[i]]);
  });
  return { gold, predicted };
}
