// Seeded randomness for demonstration selection, label perturbation and candidate sampling: the engine's
// one generator (src/tensor/random.ts, mulberry32), seen here as a plain function so strategies stay
// independent of tensors. The same seed gives the same choices on every platform.

import { Rng as EngineRng } from "../tensor/random.js";

export type Rng = () => number;

/** A generator of uniform numbers in [0, 1) from an integer seed. */
export function createRng(seed: number): Rng {
  const generator = new EngineRng(seed);
  return () => generator.next();
}

/** An integer in [0, n). */
export function randomIndex(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng() * n));
}

/** A shuffled copy (Fisher-Yates). */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomIndex(rng, i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
