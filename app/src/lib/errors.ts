/**
 * Every error the app can meet, in words a patient or clinician understands. The one place that
 * maps the SDK's stable `code`s (and the chain's custom error names, and ethers' codes) to
 * sentences: components never show `error.message`.
 */
import { PredictionCodes } from "medcipher";

/** The app's own failures (config, faucet, relay, local key storage), shaped like the SDK's errors. */
export class AppError extends Error {
  override name = "AppError";
  constructor(readonly code: string, message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
  }
}

export type ExplainedError = {
  /** One sentence for the person in front of the screen. */
  message: string;
  /** What they can do about it, when there is something. */
  hint?: string;
  /** The stable code behind it (shown small, for support and for tests). */
  code: string;
};

type ErrorLike = { code?: unknown; shortMessage?: unknown; message?: unknown; details?: unknown; reason?: unknown; info?: unknown };

/**
 * The words for one code: the table key is the code, so entries carry none of their own, except
 * where an entry hands over to another explanation (a revert is explained by its custom error).
 */
type Words = Omit<ExplainedError, "code"> & { code?: string };

/** Custom errors of the contracts (details.reason of an SDK ChainError) that a person can meet through this app. */
const REVERT_WORDS: Record<string, Words | ((args: Record<string, unknown>) => Words)> = {
  NoSponsor: { message: "Nobody is paying for this prediction: neither you nor the patient has a prediction budget.", hint: "Ask the operator to sponsor the patient, or deposit LINK." },
  PatientNotRegistered: { message: "This account is not registered as a patient yet.", hint: "Register first (Keys → Register)." },
  PatientAlreadyRegistered: { message: "This account is already registered as a patient." },
  NotAuthorisedToRequest: { message: "You have no consent from this patient to request predictions.", hint: "The patient must grant you consent for treatment decision support." },
  NotAuthorisedToAnchor: { message: "This account may not add records for that patient." },
  InvalidSigner: { message: "The consent signature did not match: another consent change landed first.", hint: "Reload the consents and try again." },
  SignatureExpired: { message: "The signed consent expired before it reached the chain.", hint: "Try again: the app signs a fresh one." },
  RevocationSuperseded: { message: "A newer consent decision replaced this revocation." },
  InvalidPeriod: { message: "The consent's end must be after its start and in the future." },
  InvalidGrantee: { message: "That address cannot receive consent (it is empty or your own)." },
  EmptyScope: { message: "Choose at least one kind of data for the consent." },
  ModelNotActive: { message: "This prediction model has been retired and takes no new requests." },
  ParameterSetMismatch: { message: "Your keys were made for other encryption parameters than this model uses." },
  TooManyPending: { message: "Too many predictions are still waiting for the oracle.", hint: "Wait for some to finish." },
  InsufficientLink: { message: "The prediction service has run out of LINK to pay the oracle.", hint: "Tell the operator." },
  MissingRole: { message: "This account lacks the role the action needs (e.g. it is not a registered provider)." },
  InvalidEncryptionKey: { message: "The encryption key is not a valid X25519 public key." },
  InsufficientFunds: { message: "This account has no ETH to pay the transaction fee.", hint: "Fund it (on the local stack: the faucet button)." },
  OutOfGas: { message: "The transaction ran out of gas.", hint: "Try again; if it persists, tell the operator." },
  KeySetUnchanged: { message: "That key set is already the registered one." },
};

const PREDICTION_REASON_WORDS: Record<number, string> = {
  [PredictionCodes.INPUT_UNAVAILABLE]: "the oracle could not fetch the encrypted input from storage",
  [PredictionCodes.INPUT_HASH_MISMATCH]: "the stored input did not match what the request named",
  [PredictionCodes.KEYS_UNAVAILABLE]: "the oracle could not fetch the patient's evaluation keys",
  [PredictionCodes.KEYS_HASH_MISMATCH]: "the patient's evaluation keys did not match their registration",
  [PredictionCodes.MODEL_UNAVAILABLE]: "the oracle does not have the model",
  [PredictionCodes.PARAMETER_SET_MISMATCH]: "the input was encrypted with other parameters than the model's",
  [PredictionCodes.EVALUATION_FAILED]: "the encrypted evaluation failed",
  [PredictionCodes.STORAGE_FAILED]: "the oracle could not store the result",
  [PredictionCodes.EXPIRED]: "nobody answered in time and the request expired",
  [PredictionCodes.ORACLE_INTERNAL]: "the oracle had an internal error",
  [PredictionCodes.CONSENT_REVOKED]: "the consent it relied on was revoked before the result came",
  [PredictionCodes.RESULT_HASH_MISMATCH]: "the oracle's result did not match what it announced",
};

const CODE_WORDS: Record<string, Words | ((e: ErrorLike) => Words)> = {
  GATEWAY_FORBIDDEN: {
    message: "Access refused: the patient's consent does not cover this (it was revoked, has expired, or never covered this data).",
    hint: "Ask the patient to grant consent again.",
  },
  GATEWAY_AUTH_EXPIRED: { message: "The storage gateway found your request too old (is this computer's clock right?)." },
  GATEWAY_AUTH_INVALID: { message: "The storage gateway could not verify your request's signature." },
  GATEWAY_AUTH_REPLAY: { message: "The storage gateway saw this request twice and refused the copy.", hint: "Try again." },
  GATEWAY_AUTH_WRONG_DOMAIN: { message: "This storage gateway serves another deployment than the app's." },
  GATEWAY_FIREWALL_KEY_MISMATCH: { message: "The reading was encrypted under another key set than the patient's current one.", hint: "Reload the page so the app uses the patient's current keys." },
  GATEWAY_FIREWALL_KEYS_UNAVAILABLE: { message: "The storage gateway does not hold the patient's encryption keys.", hint: "The patient re-uploads their key set (rotate keys), then try again." },
  GATEWAY_FIREWALL_NO_KEY_SET: { message: "This patient has not registered encryption keys yet." },
  GATEWAY_FIREWALL_MALFORMED_INPUT: { message: "The storage gateway refused the encrypted reading as malformed." },
  GATEWAY_FIREWALL_WRONG_PARAMETER_SET: { message: "The reading was encrypted for another model family than the patient's keys." },
  GATEWAY_FIREWALL_REQUIRED: { message: "This storage gateway takes prediction inputs only through its firewall; the app is out of date.", hint: "Reload the page." },
  GATEWAY_BLOB_NOT_FOUND: { message: "The storage gateway does not have that data (a wrong share id, or it was never uploaded)." },
  GATEWAY_NOT_FOUND: { message: "The storage gateway does not have that data." },
  GATEWAY_RATE_LIMITED: { message: "The storage gateway is asking us to slow down.", hint: "Wait a moment and try again." },
  GATEWAY_BUSY: { message: "The storage gateway is busy.", hint: "Try again in a moment." },
  GATEWAY_BLOB_TOO_LARGE: { message: "That is too large for the storage gateway." },
  GATEWAY_STORAGE_FULL: { message: "The storage gateway is full.", hint: "Tell the operator." },
  SDK_GATEWAY_UNAVAILABLE: { message: "The storage gateway cannot be reached.", hint: "Check your connection, or that the local stack is running." },
  SDK_GATEWAY_UNTRUSTED: { message: "The storage gateway is not one the chain vouches for: the app will not trust it." },
  SDK_GATEWAY_SIGNATURE: { message: "A reply did not carry the storage gateway's signature: it may have been tampered with." },
  SDK_INTEGRITY: { message: "The data does not match its fingerprint on the chain: it was altered or is not what was shared." },
  SDK_DECRYPTION: { message: "The data could not be decrypted with your keys: it was not shared with this account, or it was altered." },
  SDK_KEYSTORE: { message: "Wrong password, or the key backup is damaged." },
  SDK_KEY_SET_MISMATCH: {
    message: "This result was encrypted for a different key set than the one selected: decrypting it would give a meaningless answer, so the app refused.",
    hint: "Choose the key set the request was made with (Predictions → Decrypt with key set).",
  },
  SDK_TIMEOUT: { message: "This is taking longer than expected; it may still complete.", hint: "Check again in a minute." },
  SDK_READINGS_MALFORMED: (e) => ({ message: `The readings file has rows that cannot be read: ${text(e.shortMessage)}`, hint: "Fix those lines (time,metric,value[,unit]) and import again." }),
  SDK_INVALID_INPUT: (e) => ({ message: text(e.shortMessage) || "Something in the request is not valid." }),
  SDK_PREDICTION_NOT_FULFILLED: (e) => {
    const reason = PREDICTION_REASON_WORDS[Number((e.details as { reasonCode?: number } | undefined)?.reasonCode)];
    return { message: `The prediction did not complete${reason ? `: ${reason}` : ""}.` };
  },
  SDK_CHAIN_REVERT: (e) => explainRevert(e),
  FHE_WRONG_PASSPHRASE: { message: "Wrong password for the encryption key set." },
  FHE_KEYS_HASH_MISMATCH: { message: "These keys are not the key set the chain has on record for you." },
  FHE_WRONG_PARAMETER_SET: { message: "The key set and the model use different encryption parameters." },
  FHE_RESULT_BINDING: { message: "The result does not answer this request's input: it was not made for it." },
  FHE_INVALID_READING: (e) => ({ message: `A model input is out of range: ${text(e.shortMessage)}` }),
  FHE_SEAL_FAILURE: { message: "The encryption library failed in this browser.", hint: "Reload the page; if it persists, try another browser." },
  // ethers v6
  ACTION_REJECTED: { message: "You declined the request in your wallet." },
  INSUFFICIENT_FUNDS: { message: "This account has no ETH to pay the transaction fee.", hint: "Fund it (on the local stack: the faucet button)." },
  NETWORK_ERROR: { message: "The blockchain node cannot be reached.", hint: "Check that the local stack is running." },
  TIMEOUT: { message: "The blockchain node did not answer in time." },
  CALL_EXCEPTION: (e) => explainRevert(e),
  // the app's own
  APP_CONFIG_INVALID: (e) => ({ message: `The app's configuration could not be loaded: ${text(e.message)}`, hint: "Start the app with `npm run app`." }),
  APP_FAUCET_FAILED: (e) => ({ message: `The test faucet did not fund the account: ${text(e.message)}` }),
  APP_RELAY_FAILED: (e) => ({ message: `The consent relay did not send your signed consent: ${text(e.message)}`, hint: "Try again in a moment." }),
  APP_NO_KEYS: { message: "There are no keys on this device yet.", hint: "Create keys or import a backup first." },
  APP_NO_KEY_SET: { message: "This device has no encryption key set for predictions.", hint: "Register (it creates one), or import the backup that has it." },
  APP_WRONG_BACKUP: (e) => ({ message: text(e.message) }),
  APP_NO_WALLET: { message: "No browser wallet (window.ethereum) was found." },
  APP_KEYSTORE_UNAVAILABLE: { message: "This browser cannot store keys (IndexedDB is unavailable, e.g. in a private window)." },
};

export function explainError(error: unknown): ExplainedError {
  const e = (typeof error === "object" && error !== null ? error : { message: String(error) }) as ErrorLike;
  const code = typeof e.code === "string" ? e.code : undefined;
  const words = code ? CODE_WORDS[code] : undefined;
  if (code && words) return { code, ...(typeof words === "function" ? words(e) : words) };
  // The app's own errors are written as sentences for the person already.
  if (error instanceof AppError) return { code: error.code, message: error.message };
  // ethers hides "insufficient funds" of estimateGas inside a coalesced error's message.
  const raw = text(e.shortMessage) || text(e.message);
  if (/insufficient funds/i.test(raw)) return { code: "INSUFFICIENT_FUNDS", ...(CODE_WORDS.INSUFFICIENT_FUNDS as Words) };
  if (/failed to fetch|networkerror|load failed/i.test(raw)) return { code: code ?? "NETWORK", message: "A server of the app cannot be reached.", hint: "Check that the local stack is running." };
  return { code: code ?? "UNKNOWN", message: raw ? `Something went wrong: ${firstLine(raw)}` : "Something went wrong." };
}

function explainRevert(e: ErrorLike): ExplainedError {
  const details = (e.details ?? {}) as { reason?: string; args?: Record<string, unknown> };
  const reason = details.reason ?? (e as { revert?: { name?: string } }).revert?.name ?? (typeof e.reason === "string" ? e.reason : undefined);
  const words = reason ? REVERT_WORDS[reason] : undefined;
  if (reason && words) return { code: reason, ...(typeof words === "function" ? words(details.args ?? {}) : words) };
  return { code: reason ?? "SDK_CHAIN_REVERT", message: `The blockchain refused the transaction${reason ? ` (${reason})` : ""}.` };
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function firstLine(value: string): string {
  return value.split("\n")[0]!.slice(0, 300);
}
