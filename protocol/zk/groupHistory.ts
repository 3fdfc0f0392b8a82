/**
 * A Semaphore group rebuilt from the chain: the member list a client proves against, and the
 * Merkle siblings an admin (or a patient) passes to remove or replace a member. The Semaphore
 * contract keeps only the tree's root on-chain, so its events are the membership list.
 *
 * Each event names the root after it; the replay checks every one, so a missing, duplicated or
 * reordered log is refused (ZK_GROUP_HISTORY) instead of yielding a group whose proofs the
 * contract would refuse with a root it does not know.
 */
import { Group } from "@semaphore-protocol/group";
import { Interface, toBeHex, type InterfaceAbi, type Log } from "ethers";

import { semaphoreAbi } from "../abi/generated.js";
import { ZkGroupHistoryError } from "./errors.js";

/** The Semaphore contract's interface, from the generated ABI (its membership events are used here). */
export const SEMAPHORE_GROUP_EVENTS = new Interface(semaphoreAbi as InterfaceAbi);

const EVENT_NAMES = ["MemberAdded", "MembersAdded", "MemberUpdated", "MemberRemoved"] as const;

/** The topics filter for `eth_getLogs`: any membership event of `groupId`. */
export function groupEventTopics(groupId: bigint): [string[], string] {
  return [EVENT_NAMES.map((name) => SEMAPHORE_GROUP_EVENTS.getEvent(name)!.topicHash), toBeHex(groupId, 32)];
}

export type GroupEvent =
  | { kind: "added"; index: number; commitments: bigint[]; root: bigint }
  | { kind: "updated"; index: number; from: bigint; to: bigint; root: bigint }
  | { kind: "removed"; index: number; commitment: bigint; root: bigint };

/** The membership events of `groupId` emitted by `semaphore` among `logs`, in chain order. Other logs are skipped. */
export function parseGroupEvents(logs: readonly Log[], semaphore: string, groupId: bigint): GroupEvent[] {
  const address = semaphore.toLowerCase();
  const ordered = logs
    .filter((log) => log.address.toLowerCase() === address && !log.removed)
    .slice()
    .sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
  const events: GroupEvent[] = [];
  for (const log of ordered) {
    const parsed = SEMAPHORE_GROUP_EVENTS.parseLog(log);
    if (!parsed || parsed.args.groupId !== groupId) continue;
    const a = parsed.args;
    switch (parsed.name) {
      case "MemberAdded": events.push({ kind: "added", index: Number(a.index), commitments: [a.identityCommitment], root: a.merkleTreeRoot }); break;
      case "MembersAdded": events.push({ kind: "added", index: Number(a.startIndex), commitments: [...a.identityCommitments], root: a.merkleTreeRoot }); break;
      case "MemberUpdated": events.push({ kind: "updated", index: Number(a.index), from: a.identityCommitment, to: a.newIdentityCommitment, root: a.merkleTreeRoot }); break;
      case "MemberRemoved": events.push({ kind: "removed", index: Number(a.index), commitment: a.identityCommitment, root: a.merkleTreeRoot }); break;
    }
  }
  return events;
}

/** Replays `events` into a Group (a removed member's leaf becomes 0, as on-chain), checking each event's index and root. */
export function rebuildGroup(events: readonly GroupEvent[]): Group {
  const group = new Group();
  events.forEach((event, position) => {
    const refuse = (reason: string, extra: Record<string, unknown> = {}): never => {
      throw new ZkGroupHistoryError(`The group's events do not replay: ${reason}.`, { position, kind: event.kind, index: event.index, size: group.size, ...extra });
    };
    if (event.kind === "added") {
      if (event.index !== group.size) refuse("a member was added at an index other than the next leaf");
      group.addMembers(event.commitments);
    } else {
      if (event.index >= group.size) refuse("an event names a leaf the group does not have");
      const current = group.members[event.index]!;
      const expected = event.kind === "updated" ? event.from : event.commitment;
      if (current !== expected) refuse("an event names another commitment than the leaf holds", { leaf: current.toString(), named: expected.toString() });
      if (event.kind === "updated") group.updateMember(event.index, event.to);
      else group.removeMember(event.index);
    }
    if (group.root !== event.root) refuse("the rebuilt root differs from the root the event names", { rebuilt: group.root.toString(), named: event.root.toString() });
  });
  return group;
}

/** Reads what `fetchGroup` needs: an ethers Provider has this method. */
export type LogReader = { getLogs(filter: { address: string; topics: (string | string[] | null)[]; fromBlock?: number | string; toBlock?: number | string }): Promise<Log[]> };

/**
 * The group `groupId` of the Semaphore contract at `semaphore`, from its logs since `fromBlock`
 * (the Semaphore deployment block; 0 scans everything, fine on a local chain, slow on a public one).
 *
 * @example
 * const group = await fetchGroup(provider, await privacyGroups.semaphore(), await privacyGroups.patientGroupId());
 */
export async function fetchGroup(reader: LogReader, semaphore: string, groupId: bigint, fromBlock: number = 0): Promise<Group> {
  const logs = await reader.getLogs({ address: semaphore, topics: groupEventTopics(groupId), fromBlock, toBlock: "latest" });
  return rebuildGroup(parseGroupEvents(logs, semaphore, groupId));
}

/** The Merkle siblings Semaphore's removeMember / updateMember take for `commitment` (ZK_GROUP_HISTORY if it is not a member). */
export function memberSiblings(group: Group, commitment: bigint): bigint[] {
  const index = group.indexOf(commitment);
  if (index < 0) throw new ZkGroupHistoryError("The commitment is not a member of the group.", { commitment: commitment.toString(), size: group.size });
  return group.generateMerkleProof(index).siblings;
}
