/**
 * The setting a misspelt name most likely meant, for "did you mean …?" in configuration errors:
 * one `name` is a truncation of (`ANCHOR_INTERVAL` for `ANCHOR_INTERVAL_SECONDS`: the unit left
 * off), else the nearest within three edits. Undefined for names of three characters or fewer
 * (too short to tell a typo from another program's variable) and for anything farther away.
 */
export function nearestName(name: string, names: readonly string[]): string | undefined {
  if (name.length <= 3) return undefined;
  const truncated = names.find((candidate) => candidate.startsWith(`${name}_`));
  if (truncated) return truncated;
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of names) {
    const distance = editDistance(name, candidate);
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  return best && best.distance <= 3 ? best.candidate : undefined;
}

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
