// A binary min-heap ordered by (priority, position): the work queue of BPE merges. Lower priority merges
// first (a merge rank, or minus a SentencePiece score); ties go to the leftmost pair, as in Hugging Face
// tokenizers' BPE, llama.cpp's llm_tokenizer_spm/bpe and llama2.c's left-to-right scan.

export interface MergeCandidate {
  priority: number;
  left: number;
  right: number;
  /** Combined length of the two symbols when the candidate was made; a later mismatch means it is stale. */
  size: number;
}

export class MergeQueue {
  private readonly items: MergeCandidate[] = [];

  get length(): number {
    return this.items.length;
  }

  private less(a: MergeCandidate, b: MergeCandidate): boolean {
    return a.priority < b.priority || (a.priority === b.priority && a.left < b.left);
  }

  push(item: MergeCandidate): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): MergeCandidate | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.less(items[l], items[best])) best = l;
        if (r < items.length && this.less(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}

/** One symbol after merging: its text and the range of initial symbols [first, last] it covers. */
export interface MergedSymbol {
  text: string;
  first: number;
  last: number;
}

/**
 * Repeatedly merges the adjacent pair with the lowest priority until no pair has one. `priorityOf` returns
 * undefined for pairs that may not merge. A doubly linked list plus the heap keeps this O(n log n) for a
 * long input (SentencePiece tokenizes a whole sentence as one word).
 */
export function mergeSymbols(
  initial: readonly string[],
  priorityOf: (left: string, right: string) => number | undefined,
): MergedSymbol[] {
  const n = initial.length;
  const text = initial.slice();
  const size = initial.map((s) => s.length);
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  const last = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
    last[i] = i;
  }
  const queue = new MergeQueue();
  const consider = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const priority = priorityOf(text[left], text[right]);
    if (priority === undefined) return;
    queue.push({ priority, left, right, size: size[left] + size[right] });
  };
  for (let i = 0; i + 1 < n; i++) consider(i, i + 1);
  for (let candidate = queue.pop(); candidate !== undefined; candidate = queue.pop()) {
    const { left, right } = candidate;
    // Stale if either side was merged away or grew since the candidate was made.
    if (size[left] === 0 || size[right] === 0 || size[left] + size[right] !== candidate.size) continue;
    if (next[left] !== right) continue;
    text[left] = text[left] + text[right];
    size[left] += size[right];
    size[right] = 0;
    last[left] = last[right];
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    consider(prev[left], left);
    consider(left, next[left]);
  }
  const out: MergedSymbol[] = [];
  for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i]) out.push({ text: text[i], first: i, last: last[i] });
  return out;
}
