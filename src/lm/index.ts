// The generalist path's model layer: one LanguageModel interface, its backends and wrappers.
export * from "./api-key.js";
export * from "./language-model.js";
export * from "./openai-compatible.js";
export * from "./replay.js";
export * from "./request-limits.js";
export * from "./response-cache.js";
export * from "./stack.js";
export * from "./usage-meter.js";
