/**
 * IEEE 754 half precision <-> JavaScript numbers. FP16 tensors travel as raw 16-bit patterns
 * (Uint16Array, as onnxruntime holds them) but as plain numbers in the protocol's JSON, and
 * Node 20 has no Float16Array to convert for us.
 */

const HALF_MAX_EXPONENT = 15;

/** Rounds to the nearest integer, ties to even, as IEEE rounding does. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - HALF_MAX_EXPONENT);
}

export function numberToHalf(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  // 65520 is halfway between the largest half (65504) and the next step: it and above round to infinity.
  if (magnitude >= 65520) return sign | 0x7c00;
  if (magnitude < 2 ** -14) {
    // Subnormal: a multiple of 2^-24. A result of 1024 is the smallest normal, whose bits are 0x0400.
    return sign | roundHalfEven(magnitude / 2 ** -24);
  }
  let exponent = Math.floor(Math.log2(magnitude));
  // log2 can be off by one near powers of two; fix it exactly.
  if (2 ** exponent > magnitude) exponent -= 1;
  if (2 ** (exponent + 1) <= magnitude) exponent += 1;
  let mantissa = roundHalfEven((magnitude / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent += 1;
  }
  if (exponent > HALF_MAX_EXPONENT) return sign | 0x7c00;
  return sign | ((exponent + HALF_MAX_EXPONENT) << 10) | mantissa;
}
