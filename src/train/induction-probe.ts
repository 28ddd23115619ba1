// The repeated-sequence probe of a causal LM (the "induction head" test of Olsson et al. 2022): random token
// sequences, each followed by itself. A model that has learned to continue a sequence it has already seen in
// the context (look back at the earlier occurrence of the current token, copy what followed) predicts the
// second copy far better than the first, which no model can predict. Learning arbitrary labels from few-shot
// demonstrations needs this copying, so pretrain logs both losses at every evaluation of a decoder: the gap
// opening is the moment in-context learning becomes possible.

import * as T from "../tensor/index.js";

export interface RepeatedSequenceLoss {
  /** Mean next-token loss (nats) over the first copy (its first token excluded: nothing precedes it). */
  firstCopy: number;
  /** The same over the second copy (its first token excluded: it follows the end of the first copy). */
  secondCopy: number;
}

export interface RepeatedSequenceOptions {
  vocabSize: number;
  /** Tokens per copy (default 24). */
  length?: number;
  /** Sequences in the batch (default 8). */
  sequences?: number;
  /** Tokens are drawn from [firstId, vocabSize) (default vocabSize / 4: clear of special and byte tokens). */
  firstId?: number;
  /** Prepended to every sequence when given (e.g. BOS). */
  prefixId?: number;
  seed?: number;
}

/** [sequences, (prefix) + 2 * length] token ids: a random copy followed by itself, per row. */
export function repeatedSequences(options: RepeatedSequenceOptions): {
  ids: Int32Array;
  rows: number;
  width: number;
} {
  const length = options.length ?? 24;
  const rows = options.sequences ?? 8;
  const firstId = options.firstId ?? Math.floor(options.vocabSize / 4);
  if (length < 2 || firstId >= options.vocabSize) {
    throw new RangeError(
      `repeated-sequence probe: need length >= 2 and firstId < vocabSize (${length}, ${firstId})`,
    );
  }
  const prefix = options.prefixId === undefined ? 0 : 1;
  const width = prefix + 2 * length;
  const ids = new Int32Array(rows * width);
  const rng = new T.Rng(options.seed ?? 0);
  for (let r = 0; r < rows; r++) {
    const row = ids.subarray(r * width, (r + 1) * width);
    if (options.prefixId !== undefined) row[0] = options.prefixId;
    for (let i = 0; i < length; i++) {
      const id = firstId + rng.int(options.vocabSize - firstId);
      row[prefix + i] = id;
      row[prefix + length + i] = id;
    }
  }
  return { ids, rows, width };
}

/** The model's mean next-token loss on the first and on the second copy of repeated random sequences. */
export function repeatedSequenceLoss(
  model: { forward(inputs: { inputIds: T.Tensor }): T.Tensor },
  options: RepeatedSequenceOptions,
): RepeatedSequenceLoss {
  const length = options.length ?? 24;
  const prefix = options.prefixId === undefined ? 0 : 1;
  const { ids, rows, width } = repeatedSequences(options);
  const vocab = options.vocabSize;
  let first = 0;
  let second = 0;
  T.scope(() =>
    T.noGrad(() => {
      // log-softmax in float64 here rather than T.crossEntropy (float32): the loss of a sure copy is ~1e-17
      const logits = model.forward({ inputIds: T.tensor(ids, [rows, width], "int32") }).data; // [rows, width, vocab]
      for (let r = 0; r < rows; r++) {
        // position t predicts token t + 1: the first copy's tokens 2..length are predicted at t = prefix ..
        // prefix + length - 2, the second copy's at t = prefix + length .. prefix + 2 * length - 2
        for (let t = prefix; t < width - 1; t++) {
          if (t === prefix + length - 1) continue; // predicts the second copy's first token
          const at = (r * width + t) * vocab;
          let max = -Infinity;
          for (let v = 0; v < vocab; v++) if (logits[at + v] > max) max = logits[at + v];
          let sum = 0;
          for (let v = 0; v < vocab; v++) sum += Math.exp(logits[at + v] - max);
          const nll = max + Math.log(sum) - logits[at + ids[r * width + t + 1]];
          if (t < prefix + length - 1) first += nll;
          else second += nll;
        }
      }
    }),
  );
  const scored = rows * (length - 1);
  return { firstCopy: first / scored, secondCopy: second / scored };
}
