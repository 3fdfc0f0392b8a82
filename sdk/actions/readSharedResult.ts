import { getAddress } from "ethers";

import { requireRecipientKey, requireGateway, type MedCipherClient } from "../client.js";
import { openBox } from "../crypto/sealedBox.js";
import { DecryptionError, InvalidInputError } from "../errors.js";
import type { SharedResult } from "./shareResult.js";

export type ReadSharedResultParameters = {
  /** The share id the patient gave the grantee (from `shareResult`). */
  shareId: string;
  /** The purpose of use the grantee reads for; the gateway checks live consent for PREDICTION. */
  purpose: number;
};

export type ReadSharedResultReturnType = SharedResult;

/**
 * The grantee's side of shareResult: fetch the share (the gateway checks consent), open it with
 * the grantee's X25519 key, check it was made for this account.
 *
 * @example
 * const { predictions } = await readSharedResult(clinicianClient, { shareId, purpose: Purpose.TREATDS });
 */
export async function readSharedResult(client: MedCipherClient, parameters: ReadSharedResultParameters): Promise<ReadSharedResultReturnType> {
  const bytes = await requireGateway(client).get(parameters.shareId, { purpose: parameters.purpose });
  let shared: SharedResult;
  try {
    shared = JSON.parse(new TextDecoder().decode(await openBox(bytes, requireRecipientKey(client)))) as SharedResult;
  } catch (error) {
    if (error instanceof DecryptionError) throw new InvalidInputError("This result was sealed to another grantee's key.", { shareId: parameters.shareId });
    if (error instanceof SyntaxError) throw new InvalidInputError("The share is not a MedCipher shared result.", { shareId: parameters.shareId });
    throw error;
  }
  if (shared.v !== 1 || shared.kind !== "prediction" || getAddress(shared.grantee) !== client.address) {
    throw new InvalidInputError("This share is not a shared result for this account.", { shareId: parameters.shareId });
  }
  return shared;
}
