// Comparisons with the golden tolerances (../shared/golden/README.md), recorded as checks rather than
// thrown, so a runner can report every quantity of a case.

export interface Check {
  /** What was compared, e.g. "logits" or "grad.bert.pooler.dense.weight". */
  quantity: string;
  maxError: number;
  tolerance: number;
  pass: boolean;
  detail?: string;
}

/** max |actual - expected| <= tolerance. */
export function compareAbs(
  quantity: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
): Check {
  if (actual.length !== expected.length) {
    return {
      quantity,
      maxError: Number.POSITIVE_INFINITY,
      tolerance,
      pass: false,
      detail: `${actual.length} elements, expected ${expected.length}`,
    };
  }
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= worst)) worst = error; // NaN makes worst NaN and fails below
  }
  return { quantity, maxError: worst, tolerance, pass: worst <= tolerance };
}

/** Gradient rule: max error <= rtol * max|expected| + atol. */
export function compareGrad(
  quantity: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
): Check {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  return compareAbs(quantity, actual, expected, rtol * scale + atol);
}

/**
 * Parameters after one step: strict where the reference gradient is not tiny, loose (about one learning
 * rate) on the "fragile" elements whose AdamW update is ill-conditioned.
 */
export function compareStep(
  quantity: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  grad: ArrayLike<number>,
  tolerances: { step1_atol: number; fragile_grad_threshold: number; fragile_step1_atol: number },
): Check {
  let worstStrict = 0;
  let worstFragile = 0;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (Math.abs(grad[i]) < tolerances.fragile_grad_threshold) worstFragile = Math.max(worstFragile, error);
    else if (!(error <= worstStrict)) worstStrict = error;
  }
  const pass = worstStrict <= tolerances.step1_atol && worstFragile <= tolerances.fragile_step1_atol;
  return {
    quantity,
    maxError: worstStrict,
    tolerance: tolerances.step1_atol,
    pass,
    detail: `fragile max ${worstFragile}`,
  };
}

/** Exact equality of integer sequences (generated tokens). */
export function compareExact(
  quantity: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
): Check {
  let mismatches = actual.length === expected.length ? 0 : 1;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++)
    if (actual[i] !== expected[i]) mismatches++;
  return { quantity, maxError: mismatches, tolerance: 0, pass: mismatches === 0 };
}
