// The one error base class of adaptlm. Every layer throws subclasses of it with a stable `code`, so callers
// can branch on the kind of failure and the CLI can print the message without a stack trace. Messages say
// what was expected, what was found, and what to do.

export class AdaptlmError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
