/**
 * A seeded generator for the fuzz tests (fast-check is not a dependency of the repository).
 * Every case draws from its own generator, derived from the run's seed and the case's number,
 * so a failure names the one case to replay and cases do not depend on one another.
 */

/** A number from the environment, or the default; anything else stops the run. */
function numberSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

/** The run's seed: fixed, so CI runs the same cases every time; set it to explore others. */
export const fuzzSeed = numberSetting('UNDERSTUDY_FUZZ_SEED', 0x5eed_0004);

/**
 * How many cases a target runs: its CI default times UNDERSTUDY_FUZZ_RUNS, so that
 * `UNDERSTUDY_FUZZ_RUNS=10` runs ten times as many inputs everywhere (0.1 a tenth).
 */
export function fuzzRuns(ciDefault: number): number {
  return Math.max(1, Math.round(ciDefault * numberSetting('UNDERSTUDY_FUZZ_RUNS', 1)));
}

/** A fuzz test's time limit: room for its cases on a slow machine, more with more runs. */
export function fuzzTimeoutMs(runs: number, msPerCase: number): number {
  return 30_000 + runs * msPerCase;
}

/** splitmix32: spreads nearby seeds (case 1, case 2…) over unrelated generator states. */
function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** sfc32, a small fast generator with a 128-bit state. */
export class Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number, stream = 0) {
    const mix = splitmix32(seed ^ Math.imul(stream + 1, 0x27d4eb2d));
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix();
  }

  /** 32 random bits. */
  uint32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** An integer in [0, bound). */
  below(bound: number): number {
    return Math.floor((this.uint32() / 2 ** 32) * bound);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  /** An integer in [1, max], small ones far likelier: most interesting sizes are small. */
  size(max: number): number {
    return Math.max(1, Math.floor(max ** (this.uint32() / 2 ** 32)));
  }

  chance(probability: number): boolean {
    return this.uint32() / 2 ** 32 < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from nothing');
    return items[this.below(items.length)] as T;
  }

  bytes(length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = this.below(256);
    return bytes;
  }

  /**
   * Text mixing ASCII, accents, CJK, emoji and controls, and lone surrogates if asked (they are
   * not UTF-8: a protobuf string cannot hold one, a JSON one can).
   */
  text(length: number, loneSurrogates = false): string {
    const alphabets = [
      () => String.fromCharCode(this.between(0x20, 0x7e)),
      () => String.fromCharCode(this.between(0, 0x1f)),
      () => this.pick(['é', 'ß', 'ø', '\u00a0', '\u2028', '\ufeff', '\ufffd']),
      () => String.fromCharCode(this.between(0x4e00, 0x9fff)),
      () => this.pick(['😀', '👩‍💻', '🇫🇷']),
      () =>
        loneSurrogates ? String.fromCharCode(this.between(0xd800, 0xdfff)) : this.pick(['a', 'b']),
      () => this.pick(['"', '\\', '{', '}', '[', ']', ':', ',', '\n']),
    ];
    let text = '';
    while (text.length < length) text += this.pick(alphabets)();
    return text;
  }
}

/** The generator of one case of one target. */
export function caseRandom(target: string, index: number): Random {
  let hash = 0;
  for (const char of target) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) >>> 0;
  return new Random(fuzzSeed ^ hash, index);
}

/** Names the case in a failure, with what replays it. */
export function caseLabel(target: string, index: number, description: string): string {
  return `${target} case ${index} (UNDERSTUDY_FUZZ_SEED=${fuzzSeed}): ${description}`;
}
