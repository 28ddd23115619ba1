// Every lecture experiment by name, in the order `adaptlm experiment list` shows them. Adding an experiment
// is adding its file and one line here.

import { adapters } from "./adapters.js";
import { cot } from "./cot.js";
import { demoDomain } from "./demo-domain.js";
import { demoLabels } from "./demo-labels.js";
import { type ExperimentDefinition, ExperimentError } from "./experiment.js";
import { flippedLabels } from "./flipped-labels.js";
import { iclNumeric } from "./icl-numeric.js";
import { leastToMostExperiment } from "./least-to-most.js";
import { promptSearch } from "./prompt-search.js";
import { selfConsistencyExperiment } from "./self-consistency.js";

export const EXPERIMENTS: readonly ExperimentDefinition[] = [
  demoLabels,
  flippedLabels,
  demoDomain,
  cot,
  selfConsistencyExperiment,
  leastToMostExperiment,
  iclNumeric,
  adapters,
  promptSearch,
];

export function findExperiment(name: string): ExperimentDefinition {
  const experiment = EXPERIMENTS.find((candidate) => candidate.name === name);
  if (!experiment) {
    throw new ExperimentError(
      "EXPERIMENT_UNKNOWN",
      `unknown experiment "${name}": use one of ${EXPERIMENTS.map((e) => e.name).join(", ")} (adaptlm experiment list)`,
    );
  }
  return experiment;
}
