/**
 * Where an anonymous request's secrets live in the keystore: `KeystoreSecrets.extra.anonymousRequests`,
 * encrypted with everything else (never a new file in clear). Not in `heKeySets`: those are the
 * patient's registered key sets, and the newest of them is taken as the current one.
 */
import type { KeystoreSecrets } from "../keystore/format.js";
import type { AnonymousRequestSecrets } from "./requestPredictionAnonymous.js";

export const ANONYMOUS_REQUESTS_KEY = "anonymousRequests";

export function anonymousRequestsOf(secrets: KeystoreSecrets): AnonymousRequestSecrets[] {
  const list = secrets.extra?.[ANONYMOUS_REQUESTS_KEY];
  return Array.isArray(list) ? (list as AnonymousRequestSecrets[]) : [];
}

/** `secrets` with `entry` added, unless one with its request id is there. */
export function withAnonymousRequest(secrets: KeystoreSecrets, entry: AnonymousRequestSecrets): { secrets: KeystoreSecrets; added: boolean } {
  const list = anonymousRequestsOf(secrets);
  if (list.some((e) => e.requestId === entry.requestId)) return { secrets, added: false };
  return { secrets: { ...secrets, extra: { ...secrets.extra, [ANONYMOUS_REQUESTS_KEY]: [...list, entry] } }, added: true };
}
