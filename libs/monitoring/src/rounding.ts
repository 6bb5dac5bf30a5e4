/** `x` to `decimals` places: the precision numbers are kept at in records and reports (metrics, reference statistics, timings). */
export function roundTo(x: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(x * scale) / scale;
}
