// The merge-learning loop shared by the byte-level BPE and WordPiece trainers. It follows Hugging Face
// tokenizers' BpeTrainer (models/bpe/trainer.rs), which its WordPieceTrainer also runs:
//
// 1. ids: the special tokens first, then the alphabet (every character of the words plus `initialAlphabet`;
//    with `limitAlphabet`, only the most frequent) in code-point order, then — with a continuing-subword
//    prefix — the "##c" forms of characters seen inside words, then merged tokens in the order learned;
// 2. every distinct word becomes a list of symbol ids (a character outside the alphabet is dropped, a
//    non-initial character carries the prefix); each adjacent pair is counted once per occurrence, weighted by
//    the word's count, and remembers which words hold it;
// 3. the pair with the highest count merges next (ties: the smaller (left id, right id), as the trainer's
//    heap orders them); its concatenation joins the vocabulary, only the words that hold it are rewritten,
//    and the pairs around each rewrite are updated (-1 for the pairs broken, +1 for the pairs formed; a pair
//    that gained words goes back on the heap with its new count and those words). A popped count that is no
//    longer current is re-queued with the current one (lazy deletion).
//    This stops at `vocabSize` tokens, when no pair is left, or when the best pair occurs fewer than
//    `minFrequency` times. If the specials and the alphabet alone reach vocabSize, nothing is merged and the
//    vocabulary is larger than asked, as in Hugging Face.
//
// Work per merge is proportional to the words that hold the pair, not to the corpus. The Hugging Face
// trainer walks the distinct words in hash order, so the ids of its "##c" forms vary from run to run; here
// they are in code-point order and the whole result depends only on the word counts.

import { TokenizerError } from "./errors.js";

export interface BpeTrainingOptions {
  /** Target vocabulary size, special tokens and alphabet included. */
  vocabSize: number;
  /** A pair must occur at least this often to be merged (default 0, as the trainer). */
  minFrequency?: number;
  /** Tokens given ids 0.. before anything else. */
  specialTokens?: readonly string[];
  /** Characters that join the alphabet even when the words do not hold them (byte-level BPE: all 256). */
  initialAlphabet?: Iterable<string>;
  /** Keep only this many characters, the most frequent (the initial alphabet counts as most frequent). */
  limitAlphabet?: number;
  /** Prefix of symbols that continue a word ("##" for WordPiece; none for byte-level BPE). */
  continuingSubwordPrefix?: string;
  /** Called as merges are learned (about every 0.5% of the target, and at the end). */
  onProgress?: (progress: { merges: number; target: number }) => void;
}

export interface LearnedBpe {
  /** Tokens by id. */
  vocab: string[];
  /** Merges in the order learned (= rank), each the pair of tokens as they stood in the vocabulary. */
  merges: [string, string][];
}

/** Pair keys are left * KEY_BASE + right: exact in a double, and ordered as the (left, right) tuple. */
const KEY_BASE = 2 ** 26;

interface QueuedPair {
  count: number;
  key: number;
  /** Indices of the words that held the pair when it was queued. */
  words: number[];
}

/** A max-heap by count, ties to the smaller pair key. */
class PairQueue {
  private readonly items: QueuedPair[] = [];

  get size(): number {
    return this.items.length;
  }

  private static before(x: QueuedPair, y: QueuedPair): boolean {
    return x.count > y.count || (x.count === y.count && x.key < y.key);
  }

  push(item: QueuedPair): void {
    const items = this.items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!PairQueue.before(item, items[parent])) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = item;
  }

  pop(): QueuedPair | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && PairQueue.before(items[right], items[left]) ? right : left;
        if (!PairQueue.before(items[child], last)) break;
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

function byCodePoint(a: string, b: string): number {
  return a.codePointAt(0)! - b.codePointAt(0)!;
}

/** Learns BPE merges over `wordCounts` (each distinct pre-tokenized word and how often it occurs). */
export function learnBpeMerges(
  wordCounts: ReadonlyMap<string, number>,
  options: BpeTrainingOptions,
): LearnedBpe {
  const { vocabSize, minFrequency = 0, continuingSubwordPrefix: prefix } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize >= KEY_BASE) {
    throw new TokenizerError(
      "TOKENIZER_BAD_REQUEST",
      `vocabSize must be an integer from 1 to ${KEY_BASE - 1}, got ${vocabSize}`,
    );
  }
  const tokens: string[] = [];
  const ids = new Map<string, number>();
  const idOf = (token: string): number => {
    let id = ids.get(token);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(token);
      ids.set(token, id);
    }
    return id;
  };
  for (const special of options.specialTokens ?? []) idOf(special);

  // The alphabet, by code point; with a limit, the rarest characters go first (ties: the later code point).
  const charCounts = new Map<string, number>();
  for (const [word, count] of wordCounts) {
    for (const ch of word) charCounts.set(ch, (charCounts.get(ch) ?? 0) + count);
  }
  for (const ch of options.initialAlphabet ?? []) charCounts.set(ch, Number.POSITIVE_INFINITY);
  let alphabet = [...charCounts.keys()];
  const limit = options.limitAlphabet;
  if (limit !== undefined && alphabet.length > limit) {
    alphabet.sort((a, b) => charCounts.get(b)! - charCounts.get(a)! || byCodePoint(a, b));
    alphabet = alphabet.slice(0, limit);
  }
  alphabet.sort(byCodePoint);
  for (const ch of alphabet) idOf(ch);
  const inAlphabet = new Set(alphabet);

  // Words as symbol ids; the "##c" forms get their ids in code-point order first.
  const sortedWords = [...wordCounts.keys()].sort();
  if (prefix !== undefined) {
    const continuing = new Set<string>();
    for (const word of sortedWords) {
      let first = true;
      for (const ch of word) {
        if (!first && inAlphabet.has(ch)) continuing.add(ch);
        first = false;
      }
    }
    for (const ch of [...continuing].sort(byCodePoint)) idOf(prefix + ch);
  }
  const words: number[][] = [];
  const counts: number[] = [];
  for (const word of sortedWords) {
    const symbols: number[] = [];
    let first = true;
    for (const ch of word) {
      if (inAlphabet.has(ch)) symbols.push(ids.get(!first && prefix !== undefined ? prefix + ch : ch)!);
      first = false;
    }
    // A word of one symbol holds no pair and never changes.
    if (symbols.length < 2) continue;
    words.push(symbols);
    counts.push(wordCounts.get(word)!);
  }

  // Pair counts and, for pairs that gained occurrences since the last push, the words that hold them.
  const pairCounts = new Map<number, number>();
  let gained = new Map<number, number[]>();
  const change = (key: number, delta: number, word: number): void => {
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + delta);
    if (delta <= 0) return;
    const holders = gained.get(key);
    if (holders === undefined) gained.set(key, [word]);
    // Words are processed one at a time, so a repeat is always the last entry.
    else if (holders[holders.length - 1] !== word) holders.push(word);
  };
  for (let w = 0; w < words.length; w++) {
    const symbols = words[w];
    for (let i = 0; i + 1 < symbols.length; i++) change(symbols[i] * KEY_BASE + symbols[i + 1], counts[w], w);
  }
  const queue = new PairQueue();
  const queueGained = (): void => {
    for (const [key, holders] of gained) {
      const count = pairCounts.get(key)!;
      if (count > 0) queue.push({ count, key, words: holders });
    }
    gained = new Map();
  };
  queueGained();

  const merges: [string, string][] = [];
  const target = Math.max(0, vocabSize - tokens.length);
  const every = Math.max(1, Math.floor(target / 200));
  while (tokens.length < vocabSize) {
    const top = queue.pop();
    if (top === undefined) break;
    const current = pairCounts.get(top.key)!;
    if (top.count !== current) {
      top.count = current;
      queue.push(top);
      continue;
    }
    if (top.count < 1 || top.count < minFrequency) break;
    const left = Math.floor(top.key / KEY_BASE);
    const right = top.key - left * KEY_BASE;
    const rightText = tokens[right];
    const joined =
      tokens[left] +
      (prefix !== undefined && prefix !== "" && rightText.startsWith(prefix)
        ? rightText.slice(prefix.length)
        : rightText);
    const merged = idOf(joined);
    merges.push([tokens[left], rightText]);

    // Rewrite each word that held the pair, left to right, as the trainer's Word::merge does: the symbol
    // before a merge may itself be the result of a merge just made in the same word.
    for (const w of top.words) {
      const symbols = words[w];
      const n = symbols.length;
      let at = -1;
      for (let i = 0; i + 1 < n; i++) {
        if (symbols[i] === left && symbols[i + 1] === right) {
          at = i;
          break;
        }
      }
      if (at < 0) continue;
      const count = counts[w];
      const rewritten = symbols.slice(0, at);
      for (let i = at; i < n; ) {
        if (symbols[i] === left && i + 1 < n && symbols[i + 1] === right) {
          if (rewritten.length > 0) {
            const before = rewritten[rewritten.length - 1];
            change(before * KEY_BASE + left, -count, w);
            change(before * KEY_BASE + merged, count, w);
          }
          if (i + 2 < n) {
            const after = symbols[i + 2];
            change(right * KEY_BASE + after, -count, w);
            change(merged * KEY_BASE + after, count, w);
          }
          rewritten.push(merged);
          i += 2;
        } else {
          rewritten.push(symbols[i]);
          i += 1;
        }
      }
      words[w] = rewritten;
    }
    queueGained();
    if (options.onProgress !== undefined && merges.length % every === 0) {
      options.onProgress({ merges: merges.length, target });
    }
  }
  options.onProgress?.({ merges: merges.length, target });
  return { vocab: tokens, merges };
}
