/**
 * Real block replacement on anvil, chosen by the seeded source: the last 1–3 blocks are replaced
 * (same heights, new hashes) and each sender's transactions from those blocks meet one fate:
 *   - reincluded: listed in `anvil_reorg`, at random offsets in the new blocks and interleaved
 *     with other senders' in a new order (so two patients' requests can swap places at the same
 *     height, which shifts their Chainlink request ids);
 *   - pool: returned to the mempool, re-sent in shuffled order (anvil drops what it does not
 *     re-include, so the soak plays the mempool);
 *   - dropped: gone. A patient's dropped request is re-sent later by the patient's wallet
 *     (`rebroadcastVanished`); the oracle's dropped transactions are the daemon's to notice.
 * One fate per sender keeps each sender's nonces in order, as a real chain would.
 */
import type { Random } from "./random.js";
import type { SoakWorld } from "./world.js";

export type Fate = "reincluded" | "pool" | "dropped";

export type ReorgStats = {
  reorgs: number;
  byDepth: Record<string, number>;
  /** Reorgs whose re-included transactions came back in another order. */
  reordered: number;
  /** Depth-1 reorgs that re-ordered transactions within the same height. */
  sameHeightSwaps: number;
  /** Transactions of the replaced blocks by fate, the oracle's and the patients' apart. */
  oracleTxs: Record<Fate, number>;
  patientTxs: Record<Fate, number>;
  /** anvil refused the listed re-inclusion; the reorg was redone with those transactions sent to the pool. */
  fallbacks: number;
};

export function emptyReorgStats(): ReorgStats {
  return {
    reorgs: 0, byDepth: {}, reordered: 0, sameHeightSwaps: 0, fallbacks: 0,
    oracleTxs: { reincluded: 0, pool: 0, dropped: 0 }, patientTxs: { reincluded: 0, pool: 0, dropped: 0 },
  };
}

type MinedTx = { hash: string; from: string; nonce: number; raw: string };

/** One random reorg of the chain above `floorBlock` (never below it: the deployment stays). */
export async function reorgOnce(world: SoakWorld, random: Random, stats: ReorgStats, floorBlock: number): Promise<string | undefined> {
  const head = Number(await world.anvil.rpc<string>("eth_blockNumber"));
  const depth = Math.min(random.int(1, 3), head - floorBlock);
  if (depth < 1) return undefined;

  const mined: MinedTx[] = [];
  for (let n = head - depth + 1; n <= head; n++) {
    const block = await world.anvil.rpc<{ transactions: { hash: string; from: string; nonce: string }[] }>("eth_getBlockByNumber", ["0x" + n.toString(16), true]);
    for (const tx of block.transactions) {
      const raw = await world.anvil.rpc<string>("eth_getRawTransactionByHash", [tx.hash]);
      mined.push({ hash: tx.hash, from: tx.from.toLowerCase(), nonce: Number(tx.nonce), raw });
    }
  }
  const oracle = world.oracleKey.address.toLowerCase();
  const senders = [...new Set(mined.map((t) => t.from))];
  const fateOf = new Map<string, Fate>(senders.map((s) => [s, random.pick(["reincluded", "reincluded", "pool", "dropped"] as const)]));
  const queues = senders.filter((s) => fateOf.get(s) === "reincluded").map((s) => mined.filter((t) => t.from === s).sort((a, b) => a.nonce - b.nonce));

  // A random interleaving of the senders' queues (each sender's own order kept) at
  // non-decreasing block offsets, so any tx's earlier nonces land before it.
  // Most reorgs that can re-order do (up to three tries): a swap is what shifts request ids.
  const originalOrder = mined.filter((t) => fateOf.get(t.from) === "reincluded").map((t) => t.hash);
  const wantReorder = queues.length > 1 && random.chance(0.7);
  let order: MinedTx[] = [];
  for (let attempt = 0; attempt < (wantReorder ? 3 : 1); attempt++) {
    const remaining = queues.map((q) => [...q]);
    order = [];
    while (remaining.some((q) => q.length > 0)) order.push(random.pick(remaining.filter((q) => q.length > 0)).shift()!);
    if (order.some((t, i) => t.hash !== originalOrder[i])) break;
  }
  const offsets = order.map(() => random.int(0, depth - 1)).sort((a, b) => a - b);
  const listed: Array<[string, number]> = order.map((t, i) => [t.raw, offsets[i]!]);
  const reordered = order.some((t, i) => t.hash !== originalOrder[i]);

  const toPool = mined.filter((t) => fateOf.get(t.from) === "pool");
  let fellBack = false;
  try {
    await world.anvil.reorg(depth, listed);
  } catch {
    stats.fallbacks++;
    fellBack = true;
    await world.anvil.reorg(depth, []);
    toPool.push(...order);
    for (const t of order) fateOf.set(t.from, "pool");
  }
  for (const t of random.shuffle(toPool)) await world.broadcast(t.raw);

  stats.reorgs++;
  stats.byDepth[String(depth)] = (stats.byDepth[String(depth)] ?? 0) + 1;
  if (reordered && !fellBack) stats.reordered++;
  if (reordered && !fellBack && depth === 1) stats.sameHeightSwaps++;
  const fates = { oracle: { reincluded: 0, pool: 0, dropped: 0 }, patients: { reincluded: 0, pool: 0, dropped: 0 } };
  for (const t of mined) {
    (t.from === oracle ? stats.oracleTxs : stats.patientTxs)[fateOf.get(t.from)!]++;
    (t.from === oracle ? fates.oracle : fates.patients)[fateOf.get(t.from)!]++;
  }
  const describe = (f: Record<Fate, number>) => Object.entries(f).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ") || "none";
  return `depth ${depth} at ${head - depth + 1}..${head}${reordered && !fellBack ? " (re-ordered)" : ""}${fellBack ? " (fallback to pool)" : ""}: oracle txs ${describe(fates.oracle)}; patient txs ${describe(fates.patients)}`;
}
