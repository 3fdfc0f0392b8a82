import type { Step } from "../lib/progress.js";

const ICONS = { active: "⏳", done: "✓", failed: "✗" } as const;

/** The steps of a running or finished action, each with its state and the fact it reported. */
export function Progress({ steps, testId }: { steps: Step[]; testId?: string }) {
  if (steps.length === 0) return null;
  return (
    <ol className="progress" data-testid={testId}>
      {steps.map((step, i) => (
        <li key={i} className={`step step-${step.state}`} data-state={step.state}>
          <span className="step-icon" aria-hidden>{ICONS[step.state]}</span>
          <span className="step-label">{step.label}</span>
          {step.note ? <span className="step-note">{step.note}</span> : null}
        </li>
      ))}
    </ol>
  );
}
