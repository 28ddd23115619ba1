// The UI's typed error: a stable code, an actionable message, and the HTTP status the server answers with
// (404 unknown run, 400 bad request, 503 no model configured, 504 model timeout, ...).

import { AdaptlmError } from "../errors.js";

export class UiError extends AdaptlmError {
  readonly status: number;

  constructor(code: string, message: string, status = 400, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}
