/** Seeded rows for the test fraud model (amount, hour, night); `amountScale` shifts amounts. */
import { createRandom } from "../../src/sim/random.js";

export function fraudRows(
  seed: number,
  n: number,
  amountScale = 1,
): Array<{ amount: number; hour: number; night: number }> {
  const random = createRandom(seed);
  return Array.from({ length: n }, () => {
    const hour = random.int(0, 23);
    return {
      amount: Math.round(random.logNormal(3.5, 0.8) * amountScale * 100) / 100,
      hour,
      night: hour < 6 ? 1 : 0,
    };
  });
}
