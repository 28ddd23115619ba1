// Last-letter concatenation (Wei et al. 2022; Zhou et al. 2023): 'Take the last letters of the words in
// "apple banana cat" and concatenate them.' -> "eat". Worked as a chain of thought (one sentence per word) and
// as least-to-most steps over growing prefixes of the list, the decomposition that lets a model trained on
// short lists (n = 2) solve longer ones (n = 3..6): the lecture's length-generalisation experiment.

import { createRng, type Rng } from "../../prompting/random.js";
import { type AnswerTaskRecord, answerTaskRecord } from "./arithmetic.js";
import {
  type AnswerFormat,
  answerSequence,
  checkInteger,
  deriveSeed,
  drawInSplit,
  type FormatWeights,
  pick,
  randomInt,
  type Split,
  type WorkedProblem,
  weightedChoice,
} from "./format.js";

/** Common English words, lower-case letters only, each listed once. */
export const LAST_LETTER_WORDS: readonly string[] = `
apple banana cherry grape lemon mango melon peach pear plum orange olive onion garlic pepper bread butter
cheese cream honey sugar salt water coffee juice milk table chair window door floor wall roof house garden
river ocean lake mountain valley forest desert island beach field meadow hill stone rock sand cloud storm
rain snow wind thunder sunset morning evening night summer winter spring autumn monday friday january
march august doctor teacher farmer singer painter writer driver baker pilot nurse lawyer student child
mother father sister brother uncle cousin friend neighbour king queen prince knight soldier captain
sailor artist dancer player animal tiger horse rabbit monkey donkey turtle camel zebra eagle parrot
falcon salmon shark whale spider beetle insect dragon lion wolf fox bear deer goat sheep mouse kitten
puppy pencil paper letter book story poem song music guitar piano violin drum trumpet camera picture
mirror candle lamp clock watch phone radio ticket wallet pocket jacket shirt glove scarf boot sock
hat ribbon button blanket pillow basket bottle bucket kettle spoon fork knife plate bowl cup glass
hammer ladder rope chain wheel engine rocket bridge tunnel tower castle temple church school market
office factory library museum station airport harbour village city country planet moon star comet
galaxy light shadow colour purple yellow silver golden black white green brown circle square triangle
number letter word sentence question answer secret promise reason idea dream memory moment minute
hour second week month year today tomorrow history science nature energy power magic wonder silence
voice laughter smile tear heart hand finger shoulder knee elbow ankle mouth nose eye ear hair skin
bone blood brain muscle lung kidney happy quiet gentle brave clever lucky simple honest narrow
shallow hollow yellow fresh sweet bitter smooth rough heavy empty little large small young ancient
modern famous strange silent golden wooden frozen broken hidden open close begin finish travel
wander follow borrow listen whisper shout laugh cry dance sing paint write read cook bake swim climb
jump run walk carry build
`
  .split(/\s+/)
  .filter((word, index, all) => word !== "" && all.indexOf(word) === index);

export function lastLetterQuestion(words: readonly string[]): string {
  return `Take the last letters of the words in "${words.join(" ")}" and concatenate them.`;
}

function lastLetters(words: readonly string[]): string {
  return words.map((word) => word[word.length - 1]).join("");
}

/**
 * A problem over `n` distinct words with its CoT rationale and least-to-most steps; `split` keeps evaluation
 * word lists ("held-out") out of pretraining ("train").
 */
export function lastLetterProblem(
  rng: Rng,
  n: number,
  vocabulary: readonly string[] = LAST_LETTER_WORDS,
  split: Split = "any",
): WorkedProblem {
  checkInteger("n", n, 1, vocabulary.length);
  const words = drawInSplit(
    split,
    () => {
      const drawn: string[] = [];
      while (drawn.length < n) {
        const word = pick(rng, vocabulary);
        if (!drawn.includes(word)) drawn.push(word);
      }
      return { keys: drawn.map((_, i) => drawn.slice(0, i + 1).join(" ")), value: drawn };
    },
    "last-letter word list",
  );
  const answer = lastLetters(words);
  const sentences = words.map((word) => `The last letter of "${word}" is "${word[word.length - 1]}".`);
  const rationale = `${sentences.join(" ")} Concatenating them is "${answer}".`;

  // Zhou et al.'s decomposition: prefixes of the list, each solved from the previous one
  const steps = words.map((word, i) => {
    const prefix = words.slice(0, i + 1);
    const letter = word[word.length - 1];
    const text =
      i === 0
        ? `The last letter of "${word}" is "${letter}".`
        : `"${words.slice(0, i).join(" ")}" gives "${lastLetters(words.slice(0, i))}". ` +
          `The last letter of "${word}" is "${letter}". ` +
          `Concatenating "${lastLetters(words.slice(0, i))}" and "${letter}" gives "${lastLetters(prefix)}".`;
    return { question: lastLetterQuestion(prefix), answer: `${text} The answer is ${lastLetters(prefix)}.` };
  });
  return {
    question: lastLetterQuestion(words),
    rationale,
    answer,
    subquestions: steps.slice(0, -1).map((step) => step.question),
    steps,
  };
}

export interface LastLetterTaskOptions {
  seed: number;
  count: number;
  /** Words per question. Default 2. */
  n?: number;
  /** Default "held-out". */
  split?: Split;
}

export function lastLetterTaskRecords(options: LastLetterTaskOptions): AnswerTaskRecord[] {
  checkInteger("count", options.count, 1);
  const n = options.n ?? 2;
  const rng = createRng(deriveSeed(options.seed, "last-letter", n));
  return Array.from({ length: options.count }, (_, i) =>
    answerTaskRecord(
      `last-letter-n${n}-${i}`,
      lastLetterProblem(rng, n, LAST_LETTER_WORDS, options.split ?? "held-out"),
    ),
  );
}

export interface LastLetterPretrainingOptions {
  /** Problems per sequence. Default 2 and 6. */
  minProblems?: number;
  maxProblems?: number;
  /** Words per problem, drawn per sequence. Default 1 and 3: longer lists are left for evaluation. */
  minWords?: number;
  maxWords?: number;
  /** Default: direct 0.3, cot 0.35, zero-shot-cot 0.1, decomposition 0.1, solving 0.15. */
  formats?: FormatWeights;
  /** Default "train", so evaluation word lists stay unseen. */
  split?: Split;
}

export const DEFAULT_LAST_LETTER_FORMATS: FormatWeights = {
  direct: 0.3,
  cot: 0.35,
  "zero-shot-cot": 0.1,
  decomposition: 0.1,
  solving: 0.15,
};

/** One pretraining sequence of last-letter problems with the same word count, in one format. */
export function lastLetterPretrainingText(rng: Rng, options: LastLetterPretrainingOptions = {}): string {
  const minProblems = options.minProblems ?? 2;
  const maxProblems = options.maxProblems ?? 6;
  const minWords = options.minWords ?? 1;
  const maxWords = options.maxWords ?? 3;
  checkInteger("minProblems", minProblems, 1);
  checkInteger("maxProblems", maxProblems, minProblems);
  checkInteger("minWords", minWords, 1);
  checkInteger("maxWords", maxWords, minWords, LAST_LETTER_WORDS.length);
  const format: AnswerFormat = weightedChoice(rng, options.formats ?? DEFAULT_LAST_LETTER_FORMATS);
  // a one-word list has no sub-questions, so decomposition sequences start at two words
  const fewestWords = format === "decomposition" ? Math.max(2, minWords) : minWords;
  const n = randomInt(rng, fewestWords, Math.max(maxWords, fewestWords));
  const count = randomInt(rng, minProblems, maxProblems);
  const problems = Array.from({ length: count }, () =>
    lastLetterProblem(rng, n, LAST_LETTER_WORDS, options.split ?? "train"),
  );
  return answerSequence(problems, format, "text");
}
