// `adaptlm fill-mask <model> "text with [MASK]"`: the masked LM's top-k fillers with probabilities.

import { parseArgs } from "node:util";
import { fillMask } from "../../models/fill-mask.js";
import type { CliCommand } from "../command.js";
import { CliUsageError, loadModelForCommand, numberOption } from "./pull.js";

export const fillMaskHelp = `adaptlm fill-mask <model> "text with [MASK]" [--top-k K] [--json]

Fills in the blank with a masked language model (BERT, RoBERTa, DistilBERT with their MLM
head): for each [MASK] (or the tokenizer's own mask token, e.g. <mask>) prints the K most
probable tokens, their probability and the completed text, most probable first.

Options:
  --top-k K          candidates per mask (default 5)
  --json             one JSON object per mask: {position, candidates: [{token, tokenText,
                     probability, sequence}]}
  --tokenizer PATH   tokenizer file or folder, if the model folder has none
  --revision REV     hub revision for a hub id
`;

export async function runFillMaskCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      "top-k": { type: "string" },
      json: { type: "boolean" },
      tokenizer: { type: "string" },
      revision: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 2) {
    throw new CliUsageError(
      `fill-mask takes <model> and "text with [MASK]", got ${positionals.length} argument(s)`,
    );
  }
  const [model, text] = positionals;
  const topK = numberOption(values, "top-k", { integer: true, min: 1, max: 1000 }) ?? 5;
  const loaded = await loadModelForCommand(model, values, { kind: "masked-lm" });
  const predictions = fillMask(loaded, text, topK);
  predictions.forEach((prediction, m) => {
    if (values.json) {
      console.log(JSON.stringify(prediction));
      return;
    }
    console.log(`mask ${m + 1} of ${predictions.length} (token ${prediction.position}):`);
    prediction.candidates.forEach((c, rank) => {
      console.log(
        `  ${String(rank + 1).padStart(2)}. ${c.tokenText.padEnd(14)} ${c.probability.toFixed(4)}  ${c.sequence}`,
      );
    });
  });
}

export const command: CliCommand = {
  summary: "top-k fillers for [MASK] with a masked LM",
  help: fillMaskHelp,
  run: runFillMaskCommand,
};
