// The data and tokenizer of the lab recipes: which texts each recipe trains on and the tokenizer trained on
// them. Wired to the English corpus, the synthetic mixture and the tokenizer trainers once those exist on
// main; until then `labRecipeData` says so and the caller passes its own texts and tokenizer.

import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { type PretrainRecipe, RecipeError } from "./recipes.js";

export interface LabRecipeData {
  trainTexts: string[];
  validationTexts: string[];
  tokenizer: Tokenizer;
  /** Files to write next to the model (tokenizer.json, ...). */
  tokenizerFiles: Record<string, string | object>;
  /** One paragraph for the model card: sources, sizes, split. */
  description: string;
}

export interface LabRecipeDataOptions {
  seed: number;
  onProgress?: (message: string) => void;
}

/** The built-in data of a recipe; throws RECIPE_DATA_UNAVAILABLE while the corpus modules are missing. */
export function labRecipeData(recipe: PretrainRecipe, _options: LabRecipeDataOptions): LabRecipeData {
  throw new RecipeError(
    "RECIPE_DATA_UNAVAILABLE",
    `the built-in data of recipe ${recipe.name} (English corpus${recipe.objective === "clm" ? " + synthetic texts" : ""}, a ${recipe.tokenizer.kind} tokenizer of ${recipe.tokenizer.vocabSize}) is not wired in this build: pass --tokenizer DIR and --input FILE... to train the recipe on your own data`,
  );
}
