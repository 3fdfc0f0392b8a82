import { BaseError } from "../core/errors.js";
import { decodeRevert, unfundedAccountOf } from "../protocol/revert.js";
import { chainErrorOf } from "../sdk/chain/send.js";
import { InvalidInputError, TimeoutError } from "../sdk/errors.js";
import { exitCodeFor } from "./exitCodes.js";

export type Output = {
  json: boolean;
  /** The command's result: JSON on stdout with --json, else the human lines. */
  result(value: unknown, human: () => string): void;
  /** Progress on stderr (a bar on a terminal, one line per step otherwise); silent with --json. */
  progress(step: string, done: number, total: number): void;
  info(message: string): void;
};

export function createOutput(json: boolean): Output {
  const tty = process.stderr.isTTY === true;
  return {
    json,
    result(value, human) {
      process.stdout.write(json ? `${JSON.stringify(value, bigintSafe, 2)}\n` : `${human()}\n`);
    },
    progress(step, done, total) {
      if (json) return;
      if (tty) {
        const width = 24;
        const filled = Math.round((done / Math.max(total, 1)) * width);
        process.stderr.write(`\r${step.padEnd(8)} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total}${done === total ? "\n" : ""}`);
      } else if (done === total || done === 1) {
        process.stderr.write(`${step} ${done}/${total}\n`);
      }
    },
    info(message) {
      if (!json) process.stderr.write(`${message}\n`);
    },
  };
}

/**
 * ethers errors a user can act on, as the CLI's own: an address or value ethers could not use (a
 * malformed address, an ENS name on a chain without ENS) is bad input (exit 3); a JSON-RPC call
 * that ran out of time is a timeout (exit 9); a revert outside sendTransaction (a view call) or a
 * sender without gas money is a ChainError naming the custom error and its arguments (exit 7).
 * Whichever command passed it on: never a raw stack trace.
 */
export function asInputError(error: unknown): unknown {
  if (error instanceof BaseError) return error;
  const { code, shortMessage, argument, value, operation, request } = (error ?? {}) as {
    code?: string; shortMessage?: string; argument?: string; value?: unknown; operation?: string; request?: { url?: string; timeout?: number };
  };
  if (code === "TIMEOUT" && request?.url) return new TimeoutError(`the chain at ${request.url} to answer (is the node paused or overloaded?)`, request.timeout ?? 0);
  if (code === "INVALID_ARGUMENT" || (code === "UNSUPPORTED_OPERATION" && operation === "getEnsAddress")) {
    const what = code === "INVALID_ARGUMENT" ? shortMessage ?? "invalid argument" : "a name was given where an address is needed (this chain has no ENS)";
    return new InvalidInputError(`Invalid input: ${what}${argument ? ` (${argument})` : ""}.`, { argument, value: typeof value === "string" ? value : undefined });
  }
  if (decodeRevert(error) || unfundedAccountOf(error)) {
    const { invocation, action } = (error ?? {}) as { invocation?: { method?: string } | null; action?: string };
    return chainErrorOf(invocation?.method ?? action ?? "call", error);
  }
  return error;
}

/** Prints the error (JSON on stderr with --json) and exits with its kind's code. */
export function fail(raw: unknown, json: boolean): never {
  const error = asInputError(raw);
  const exitCode = exitCodeFor(error);
  if (json) {
    const e = error as Partial<BaseError>;
    process.stderr.write(`${JSON.stringify({ error: { code: e.code ?? "INTERNAL", message: e.shortMessage ?? String(e.message ?? error), details: e.details ?? {} }, exitCode }, bigintSafe)}\n`);
  } else if (error instanceof BaseError) {
    process.stderr.write(`error (${error.code}): ${error.shortMessage}\n`);
    if (Object.keys(error.details).length > 0) process.stderr.write(`${JSON.stringify(error.details, bigintSafe, 2)}\n`);
  } else {
    process.stderr.write(`error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  }
  process.exit(exitCode);
}

export function bigintSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  return value;
}
