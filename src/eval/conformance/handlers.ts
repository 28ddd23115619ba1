// Every kind of golden case adaptlm can check. A new kind is supported by adding its handler here.

import { adapterHandler } from "./adapter-cases.js";
import type { CaseHandler } from "./handler.js";
import { headFullHandler } from "./head-cases.js";
import { baseForwardHandler, causalLmFullHandler, generateHandler } from "./model-cases.js";

export const caseHandlers: readonly CaseHandler[] = [
  baseForwardHandler,
  causalLmFullHandler,
  generateHandler,
  headFullHandler,
  adapterHandler,
];
