/** Test fixture: generated labelled rows for a classifier of more than two classes. */

/** Four ordered classes, as a rating task has them; not the sorted order a trainer gives them. */
export const RATING_LABELS = ['terrible', 'poor', 'good', 'excellent'] as const;
export type RatingLabel = (typeof RATING_LABELS)[number];

/** Words that decide each class; nothing else in a row tells the classes apart. */
export const RATING_WORDS: Record<RatingLabel, readonly string[]> = {
  terrible: ['atrocious', 'unwatchable', 'abysmal'],
  poor: ['weak', 'forgettable', 'mediocre'],
  good: ['enjoyable', 'solid', 'pleasant'],
  excellent: ['masterpiece', 'sublime', 'extraordinary'],
};
const FILLER = ['the', 'film', 'plot', 'actor', 'scene', 'story', 'was', 'quite', 'and', 'a', 'movie', 'really', 'director'];

/** Deterministic rows cycling through the four classes: class words among filler decide the label; texts are unique. */
export function generatedRatings(n: number, seed = 1): { text: string; label: RatingLabel }[] {
  let state = seed;
  const rand = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  return Array.from({ length: n }, (_, i) => {
    const label = RATING_LABELS[i % RATING_LABELS.length]!;
    const words = Array.from({ length: 3 + Math.floor(rand() * 6) }, () => pick(FILLER));
    // Two class words: a tiny model finds the class in a few epochs on a few hundred rows.
    for (let k = 0; k < 2; k++) words.splice(Math.floor(rand() * words.length), 0, pick(RATING_WORDS[label]));
    return { text: `${words.join(' ')} ${seed}-${i}.`, label };
  });
}
