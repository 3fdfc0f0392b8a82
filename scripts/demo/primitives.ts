/**
 * What protects each step of the demo, and whether it survives a quantum computer (issue 13).
 * The demo prints these under every step; docs/post-quantum.md holds the same table with the
 * reasons. "Post-quantum" means no known quantum attack breaks it at its security level:
 * lattice schemes (ML-KEM, ML-DSA, CKKS/RLWE), AES-256 and SHA-256/Keccak-256 are; anything on
 * elliptic curves (ECDSA secp256k1, X25519 alone, Ed25519, Groth16 on BN254) is not.
 */
export type Protection = { what: string; primitive: string; postQuantum: boolean };

const ECDSA_TX: Protection = { what: "transactions", primitive: "ECDSA secp256k1 (the chain's own)", postQuantum: false };

export const STEP_PROTECTION: Readonly<Record<number, readonly Protection[]>> = {
  1: [ECDSA_TX],
  2: [ECDSA_TX, { what: "model commitments", primitive: "SHA-256", postQuantum: true }],
  3: [
    { what: "gateway requests", primitive: "EIP-712 ECDSA signatures (or Ed25519 sessions)", postQuantum: false },
    { what: "gateway responses", primitive: "ECDSA signature by a GATEWAY_ROLE key", postQuantum: false },
  ],
  4: [
    { what: "homomorphic key set", primitive: "CKKS (RLWE lattice)", postQuantum: true },
    { what: "record keys wrapped to the patient", primitive: "X25519 + ML-KEM-768 hybrid, HKDF-SHA256, AES-256-GCM", postQuantum: true },
    { what: "key commitments on-chain", primitive: "SHA-256 / Keccak-256", postQuantum: true },
  ],
  5: [
    { what: "device binding", primitive: "ECDSA (EIP-712), committing to the device's ML-DSA-65 key", postQuantum: false },
    { what: "record authenticity", primitive: "ML-DSA-65 signature per record, checked by the gateway and every reader", postQuantum: true },
    { what: "record confidentiality", primitive: "AES-256-GCM under a fresh data key", postQuantum: true },
    { what: "record commitments", primitive: "salted SHA-256 in a Merkle batch", postQuantum: true },
  ],
  6: [
    { what: "consent", primitive: "EIP-712 ECDSA signature, relayed", postQuantum: false },
    { what: "shared and delegated record keys", primitive: "X25519 + ML-KEM-768 hybrid wrap, sealed box", postQuantum: true },
  ],
  7: [
    { what: "prediction inputs", primitive: "CKKS (RLWE lattice)", postQuantum: true },
    { what: "input randomness", primitive: "reverse firewall: + Enc(0) under the patient's CKKS key", postQuantum: true },
  ],
  8: [
    { what: "fulfilment", primitive: "Chainlink Operator, ECDSA transaction", postQuantum: false },
    { what: "result commitment", primitive: "SHA-256", postQuantum: true },
  ],
  9: [ECDSA_TX],
  10: [
    { what: "access log", primitive: "SHA-256 Merkle tree (RFC 6962)", postQuantum: true },
    { what: "anchoring", primitive: "ECDSA transaction", postQuantum: false },
  ],
  11: [{ what: "group membership", primitive: "Semaphore identity (Baby Jubjub EdDSA, Poseidon)", postQuantum: false }],
  12: [
    { what: "anonymity of the request", primitive: "Groth16 on BN254: zero knowledge holds, soundness would not", postQuantum: false },
    { what: "the request's input", primitive: "CKKS under a fresh key set", postQuantum: true },
  ],
  13: [{ what: "private consent", primitive: "Keccak-256 commitment + Groth16 membership proof", postQuantum: false }],
  14: [{ what: "what an observer links", primitive: "(nothing new: the observer reads public data)", postQuantum: true }],
  15: [
    { what: "cross-chain consent", primitive: "Chainlink CCIP (its DON's secp256k1 signatures; the local simulator here) and ECDSA transactions", postQuantum: false },
    { what: "the mirrored grant's key set", primitive: "the home key-set hash (SHA-256), checked on the destination", postQuantum: true },
    { what: "the destination's prediction", primitive: "CKKS under the patient's home key set, served by the destination's own gateway and oracle", postQuantum: true },
  ],
};

/** One line per primitive, for under a demo step: "protects … with … (post-quantum | not post-quantum)". */
export function protectionLines(step: number): string[] {
  return (STEP_PROTECTION[step] ?? []).map((p) => `⟐ ${p.what}: ${p.primitive} — ${p.postQuantum ? "post-quantum" : "NOT post-quantum"}`);
}

/** The demo's step heading: "[n] text", then what protects the step (see protectionLines). */
export function stepPrinter(print: (line: string) => void): (n: number, text: string) => void {
  return (n, text) => {
    print(`\n[${n}] ${text}`);
    for (const line of protectionLines(n)) print(`    ${line}`);
  };
}
