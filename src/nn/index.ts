export { constantInit, normalInit, uniformInit } from "./init.js";
export {
  type ActivationName,
  activation,
  Dropout,
  Embedding,
  type InitOptions,
  LayerNorm,
  Linear,
  RMSNorm,
} from "./layers.js";
export { Module, StateDictError } from "./module.js";
export { ModuleGroup, ModuleList } from "./module-list.js";
