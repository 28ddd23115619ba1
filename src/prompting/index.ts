// Prompting strategies as composable modules over the LanguageModel interface.
export * from "./answer-extraction.js";
export * from "./ape.js";
export * from "./calibration.js";
export * from "./chain-of-thought.js";
export * from "./classification.js";
export * from "./demonstrations.js";
export * from "./example.js";
export * from "./few-shot.js";
export * from "./least-to-most.js";
export * from "./random.js";
export * from "./rescore.js";
export * from "./rl-prompt.js";
export * from "./self-consistency.js";
export * from "./template.js";
export * from "./template-sweep.js";
export * from "./zero-shot-cot.js";
