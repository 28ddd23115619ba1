// Errors of the tokenizer layer: malformed or unsupported tokenizer files, impossible encode requests.

import { AdaptlmError } from "../errors.js";

/**
 * Codes: TOKENIZER_NOT_FOUND (no tokenizer file in a folder), TOKENIZER_BAD_JSON, TOKENIZER_BAD_FILE
 * (structure or values wrong), TOKENIZER_UNSUPPORTED (a valid file using a feature not implemented here),
 * TOKENIZER_TRUNCATED (binary file ends early), TOKENIZER_BAD_REQUEST (an encode/decode call that cannot be
 * honoured, e.g. padding without a pad token).
 */
export class TokenizerError extends AdaptlmError {}
