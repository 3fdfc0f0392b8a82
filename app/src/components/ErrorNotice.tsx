import type { ExplainedError } from "../lib/errors.js";

/** An error in words: the sentence, what to do, and the code small (for support and tests). */
export function ErrorNotice({ error, testId }: { error?: ExplainedError; testId?: string }) {
  if (!error) return null;
  return (
    <div className="error" role="alert" data-testid={testId ?? "error"} data-code={error.code}>
      <p className="error-message">{error.message}</p>
      {error.hint ? <p className="error-hint">{error.hint}</p> : null}
      <p className="error-code">code {error.code}</p>
    </div>
  );
}
