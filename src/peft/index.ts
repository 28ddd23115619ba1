// Parameter-efficient fine-tuning: one file per method behind one interface (method.ts), the PEFT folder
// format (adapter-store.ts) and many adapters on one base (adapter-set.ts).

export { AdapterBiasAdapter, AdapterBiasModule } from "./adapter-bias.js";
export { AdapterSet } from "./adapter-set.js";
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  type AdapterSummary,
  checkpointParameterCount,
  loadAdapter,
  readAdapterConfig,
  readAdapterTensors,
  resolveBaseModelDir,
  saveAdapter,
  summarizeAdapter,
} from "./adapter-store.js";
export { BitFitAdapter } from "./bitfit.js";
export { BottleneckAdapter, HoulsbyAdapter, type HoulsbyOptions } from "./houlsby.js";
export { defaultLoraTargets, LoraAdapter, LoraLinear, type LoraOptions } from "./lora.js";
export {
  Adapter,
  extendAttentionMask,
  forwardWithAdapter,
  normParameterNames,
  PeftError,
  type PeftType,
  type StoredTensor,
} from "./method.js";
export { type PrefixOptions, PrefixTuningAdapter } from "./prefix.js";
export { type PromptInit, PromptTuningAdapter, type PromptTuningOptions } from "./prompt-tuning.js";
