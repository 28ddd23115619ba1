// Every kind of golden case adaptlm can check. A new kind is supported by adding its handler here.

import type { CaseHandler } from "./handler.js";
import { baseForwardHandler, causalLmFullHandler, generateHandler } from "./model-cases.js";

export const caseHandlers: readonly CaseHandler[] = [
  baseForwardHandler,
  causalLmFullHandler,
  generateHandler,
];
