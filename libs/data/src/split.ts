/**
 * Splits each label's examples in the given proportion, so validation keeps the class balance.
 * Deterministic for a seed and input order; both parts keep the input order.
 */
export function stratifiedSplit<T extends { label?: string }>(
  examples: readonly T[],
  opts: { validationRatio: number; seed: number },
): { train: T[]; validation: T[] } {
  const { validationRatio, seed } = opts;
  if (!(validationRatio >= 0 && validationRatio <= 1)) throw new RangeError(`validationRatio must be in [0, 1], got ${validationRatio}`);
  const byLabel = new Map<string | undefined, number[]>();
  examples.forEach((e, i) => {
    const group = byLabel.get(e.label);
    if (group) group.push(i);
    else byLabel.set(e.label, [i]);
  });
  const random = mulberry32(seed);
  const inValidation = new Set<number>();
  for (const indices of byLabel.values()) {
    shuffle(indices, random);
    for (const i of indices.slice(0, Math.round(indices.length * validationRatio))) inValidation.add(i);
  }
  return {
    train: examples.filter((_, i) => !inValidation.has(i)),
    validation: examples.filter((_, i) => inValidation.has(i)),
  };
}

/** A copy in a seeded random order (data files are often sorted by label). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const order = items.map((_, i) => i);
  shuffle(order, mulberry32(seed));
  return order.map((i) => items[i]!);
}

/** A small seeded PRNG (uniform in [0, 1)); Math.random cannot be seeded. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(items: number[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as number, items[i] as number];
  }
}
