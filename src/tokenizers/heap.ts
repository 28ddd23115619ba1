// A binary min-heap ordered by (priority, position): the work queue of BPE merges. Lower priority merges
// first (a merge rank, or minus a SentencePiece score); ties go to the leftmost pair, as in Hugging Face
// tokenizers' BPE, llama.cpp's llm_tokenizer_spm/bpe and llama2.c's left-to-right scan.

/**
 * The candidates live in parallel typed arrays (no object per candidate, no allocation per swap): this loop
 * runs once per character of a SentencePiece input.
 */
export class MergeQueue {
  private priority = new Float64Array(64);
  private left = new Int32Array(64);
  private right = new Int32Array(64);
  /** Combined length of the two symbols when the candidate was made; a later mismatch means it is stale. */
  private size = new Int32Array(64);
  length = 0;

  private less(a: number, b: number): boolean {
    return (
      this.priority[a] < this.priority[b] ||
      (this.priority[a] === this.priority[b] && this.left[a] < this.left[b])
    );
  }

  private move(from: number, to: number): void {
    this.priority[to] = this.priority[from];
    this.left[to] = this.left[from];
    this.right[to] = this.right[from];
    this.size[to] = this.size[from];
  }

  private grow(): void {
    const capacity = this.priority.length * 2;
    const grown = <T extends Float64Array | Int32Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.priority = grown(this.priority, (n) => new Float64Array(n));
    this.left = grown(this.left, (n) => new Int32Array(n));
    this.right = grown(this.right, (n) => new Int32Array(n));
    this.size = grown(this.size, (n) => new Int32Array(n));
  }

  push(priority: number, left: number, right: number, size: number): void {
    // One spare slot past the end holds the item being sifted.
    if (this.length + 1 >= this.priority.length) this.grow();
    const spare = this.priority.length - 1;
    this.priority[spare] = priority;
    this.left[spare] = left;
    this.right[spare] = right;
    this.size[spare] = size;
    let i = this.length++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(spare, parent)) break;
      this.move(parent, i);
      i = parent;
    }
    this.move(spare, i);
  }

  /** Removes the best candidate into `out` ([left, right, size]); false when empty. */
  pop(out: Int32Array): boolean {
    if (this.length === 0) return false;
    out[0] = this.left[0];
    out[1] = this.right[0];
    out[2] = this.size[0];
    const last = --this.length;
    if (last > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const r = l + 1;
        const child = r < last && this.less(r, l) ? r : l;
        if (!this.less(child, last)) break;
        this.move(child, i);
        i = child;
      }
      this.move(last, i);
    }
    return true;
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
  const size = Int32Array.from(initial, (s) => s.length);
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
    if (priority !== undefined) queue.push(priority, left, right, size[left] + size[right]);
  };
  for (let i = 0; i + 1 < n; i++) consider(i, i + 1);
  const candidate = new Int32Array(3);
  while (queue.pop(candidate)) {
    const left = candidate[0];
    const right = candidate[1];
    // Stale if either side was merged away or grew since the candidate was made.
    if (size[left] === 0 || size[right] === 0 || size[left] + size[right] !== candidate[2]) continue;
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
