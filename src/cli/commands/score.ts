// `adaptlm score <model> --prompt ... --continuation ...`: log-likelihood of continuations after a prompt.

import { parseArgs } from "node:util";
import { scoreText } from "../../models/text-generation.js";
import type { CliCommand } from "../command.js";
import { CliUsageError, loadModelForCommand, modelArgument } from "./pull.js";

export const scoreHelp = `adaptlm score <model> --prompt TEXT --continuation TEXT [--continuation TEXT ...] [--json]

Prints log P(continuation | prompt) for each continuation (the sum of its tokens'
log-probabilities, all continuations in one forward pass), its token count, the per-token
average, and whether greedy decoding would produce it. The basis of multiple-choice scoring.

Options:
  --prompt TEXT         the context ("" = start of text)
  --continuation TEXT   a continuation to score (repeatable; include its leading space)
  --json                one JSON object per continuation, with the tokens and their logprobs
  --tokenizer PATH      tokenizer for a llama2.c .bin
  --revision REV        hub revision for a hub id
`;

export async function runScoreCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      prompt: { type: "string" },
      continuation: { type: "string", multiple: true },
      json: { type: "boolean" },
      tokenizer: { type: "string" },
      revision: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  const model = modelArgument(positionals, "score");
  if (values.prompt === undefined) throw new CliUsageError("score needs --prompt TEXT");
  const continuations = values.continuation ?? [];
  if (continuations.length === 0) throw new CliUsageError("score needs at least one --continuation TEXT");
  const loaded = await loadModelForCommand(model, values);
  const scores = scoreText(loaded, values.prompt, continuations);
  scores.forEach((score, i) => {
    if (values.json) {
      console.log(
        JSON.stringify({
          continuation: continuations[i],
          logprob: score.logprob,
          tokens: score.tokens,
          tokenIds: score.tokenIds,
          tokenLogprobs: score.tokenLogprobs,
          isGreedy: score.isGreedy,
        }),
      );
      return;
    }
    const mean = score.tokenIds.length > 0 ? score.logprob / score.tokenIds.length : 0;
    console.log(
      `logprob ${score.logprob.toFixed(4)}  tokens ${score.tokenIds.length}  mean ${mean.toFixed(4)}  greedy ${score.isGreedy ? "yes" : "no"}  ${JSON.stringify(continuations[i])}`,
    );
  });
}

export const command: CliCommand = {
  summary: "log-likelihood of continuations after a prompt",
  help: scoreHelp,
  run: runScoreCommand,
};
