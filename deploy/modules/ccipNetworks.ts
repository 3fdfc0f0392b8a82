/**
 * CCIP facts of the public testnets MedCipher's cross-chain modules are parameterised for, from
 * Chainlink's CCIP directory and `@chainlink/local`'s src/ccip/Register.sol (which agree as of
 * @chainlink/local 0.2.9). Verify before use: Chainlink re-deploys routers on testnets.
 */
export type CcipNetwork = { chainId: number; chainSelector: bigint; router: string; linkToken: string };

export const CCIP_NETWORKS = {
  sepolia: {
    chainId: 11155111,
    chainSelector: 16015286601757825753n,
    router: "0x0BF3dE8c5D3e8A2B34D2BEeB17ABfCeBaf363A59",
    linkToken: "0x779877A7B0D9E8603169DdbD7836e478b4624789",
  },
  arbitrumSepolia: {
    chainId: 421614,
    chainSelector: 3478487238524512106n,
    router: "0x2a9C5afB0d0e4BAb2BCdaE109EC4b0c4Be15a165",
    linkToken: "0xb1D4538B4571d411F07960EF2838Ce337FE1E80E",
  },
  baseSepolia: {
    chainId: 84532,
    chainSelector: 10344971235874465080n,
    router: "0xD3b06cEbF099CE7DA4AcCf578aaebFDBd6e88a93",
    linkToken: "0xE4aB69C077896252FAFBD49EFD26B5D171A32410",
  },
} as const satisfies Record<string, CcipNetwork>;

/**
 * Gas the destination's `ccipReceive` may use. Measured receive of the largest message (a consent
 * snapshot that also raises the epoch) stays far below; CCIP bills the limit, not the use.
 */
export const DEFAULT_RECEIVE_GAS_LIMIT = 200_000n;
