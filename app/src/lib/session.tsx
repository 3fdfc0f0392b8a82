/**
 * The app's state shared by every panel: the config, the unlocked identity, and the SDK client
 * acting for it (connected to the gateway, whose key is checked on-chain first).
 */
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { createMedCipherClient, type MedCipherClient } from "medcipher";

import type { AppConfig } from "../config.js";
import { signerFor } from "./chain.js";
import type { Identity } from "./identity.js";
import { SEAL_WASM_URL } from "./seal.js";

export type Session = {
  config: AppConfig;
  identity?: Identity;
  client?: MedCipherClient;
  /** Bumped after any change others should re-read (a record ingested, a consent changed). */
  version: number;
  signIn(identity: Identity): Promise<void>;
  signOut(): void;
  changed(): void;
};

const SessionContext = createContext<Session | undefined>(undefined);

export async function clientFor(config: AppConfig, identity: Identity): Promise<MedCipherClient> {
  return createMedCipherClient({
    account: await signerFor(config, identity),
    addresses: config.addresses,
    gatewayUrl: config.gatewayUrl,
    encryptionKey: identity.encryptionKey,
    // Registered models' weightsUri resolve against the stack's base URL; the SDK checks each against its on-chain hash.
    models: { modelBaseUrl: config.modelBaseUrl },
    sealWasmUrl: SEAL_WASM_URL,
  });
}

export function SessionProvider({ config, children }: { config: AppConfig; children: ReactNode }) {
  const [identity, setIdentity] = useState<Identity>();
  const [client, setClient] = useState<MedCipherClient>();
  const [version, setVersion] = useState(0);

  const signIn = useCallback(async (next: Identity) => {
    const nextClient = await clientFor(config, next);
    setIdentity(next);
    setClient(nextClient);
    setVersion((v) => v + 1);
  }, [config]);

  const signOut = useCallback(() => {
    client?.gateway?.close();
    for (const fhe of identity?.fheCache.values() ?? []) fhe.dispose();
    setIdentity(undefined);
    setClient(undefined);
  }, [client, identity]);

  const changed = useCallback(() => setVersion((v) => v + 1), []);

  const session = useMemo<Session>(() => ({ config, identity, client, version, signIn, signOut, changed }), [config, identity, client, version, signIn, signOut, changed]);
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}

/** For panels shown only once someone is signed in. */
export function useSignedIn(): Session & { identity: Identity; client: MedCipherClient } {
  const session = useSession();
  if (!session.identity || !session.client) throw new Error("useSignedIn before sign-in");
  return session as Session & { identity: Identity; client: MedCipherClient };
}
