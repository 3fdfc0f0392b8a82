import { BaseError } from "../../core/errors.js";

/** A refusal of one of the stack's own HTTP services (faucet, relay, files); `httpStatus` is what the page gets. */
export abstract class AppStackError extends BaseError {
  abstract readonly httpStatus: number;
}

/** The request body is not what the route takes (`details.problems` says what is wrong). */
export class AppBadRequestError extends AppStackError {
  override name = "AppBadRequestError";
  readonly httpStatus = 400;
  constructor(route: string, problems: string[]) {
    super(`${route}: ${problems.join("; ")}.`, { code: "APP_BAD_REQUEST", details: { route, problems } });
  }
}

/** A signed consent whose signature is not the named patient's (checked before any gas is spent). */
export class RelaySignatureError extends AppStackError {
  override name = "RelaySignatureError";
  readonly httpStatus = 400;
  constructor(details: { kind: string; patient: string; recovered: string }) {
    super(`The signed consent ${details.kind} is not signed by the patient ${details.patient} (the signature recovers to ${details.recovered}); nothing was sent.`, { code: "APP_RELAY_BAD_SIGNATURE", details });
  }
}

/** The relayed transaction reverted: `details.reason` is the contract's custom error name, `details.args` its arguments. */
export class RelayRevertedError extends AppStackError {
  override name = "RelayRevertedError";
  readonly httpStatus = 422;
  constructor(details: { kind: string; reason: string; args?: Record<string, unknown> }, cause?: unknown) {
    super(`The chain refused the relayed consent ${details.kind}: ${details.reason}.`, { code: "APP_RELAY_REVERTED", details, cause });
  }
}

/** The stack is still starting (deploying, onboarding the demo accounts). */
export class AppStackStartingError extends AppStackError {
  override name = "AppStackStartingError";
  readonly httpStatus = 503;
  constructor(route: string) {
    super(`${route} is not available yet: the stack is still starting.`, { code: "APP_STACK_STARTING", details: { route } });
  }
}
