// Learning-rate schedules as pure functions of the step (transformers' get_linear_schedule_with_warmup and
// get_cosine_schedule_with_warmup): a multiplier of the base learning rate.

export type ScheduleName = "constant" | "linear" | "cosine";

export interface ScheduleOptions {
  warmupSteps: number;
  totalSteps: number;
  /** Cosine only: number of half-waves (0.5 = decay to 0 once). */
  cycles?: number;
}

/** Multiplier of the base learning rate at `step` (0-based, the step about to be taken). */
export function learningRateFactor(name: ScheduleName, step: number, options: ScheduleOptions): number {
  const { warmupSteps, totalSteps } = options;
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  if (name === "constant") return 1;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (name === "linear") return Math.max(0, 1 - progress);
  const cycles = options.cycles ?? 0.5;
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 2 * cycles * progress)));
}
