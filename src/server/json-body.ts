/**
 * Request bodies as JSON without holding the event loop, and without nesting deep enough to
 * overflow a recursive walker later on the request path.
 *
 * JSON.parse is one uninterruptible call: a maximal body parsed in one piece stalls every other
 * request, health checks included (issue 8: 24 MB, 5.4 s). Handing the text to a worker does not
 * help, since the object graph must come back by structured clone, which costs the main thread
 * more than parsing did. So a large body is parsed in slices: a scanner walks the containers
 * that are too large, hands runs of small elements (≤ `sliceChars` of text each) to JSON.parse,
 * and waits for the event loop after every `sliceChars` of work. Small bodies (nearly all) are
 * scanned once for depth and parsed whole. Large bodies take turns (one lane per parser), so
 * however many arrive together, one slice runs between two turns of the event loop, and only
 * one large body is being expanded into objects at a time.
 *
 * The value is the same as JSON.parse's, `__proto__` keys included (kept as own properties).
 */
import { BallastError, invalid } from "../domain/errors.js";
import { nextTurn, type Pause } from "../domain/json-chunks.js";
import { SerialQueue } from "../domain/serial-queue.js";

export interface JsonBodyOptions {
  /** Containers nested deeper than this are refused (400). */
  readonly maxDepth?: number;
  /** Text parsed between two yields to the event loop. */
  readonly sliceChars?: number;
  /** How to let other work run; injectable so tests count yields instead of timing them. */
  readonly pause?: Pause;
}

/** Inference tensors nest a few levels, manifests and profiles about ten; 64 leaves room. */
export const MAX_JSON_DEPTH = 64;
/** About 0.5-3 ms of JSON.parse on an idle core, depending on the shape of the data. */
export const SLICE_CHARS = 32 * 1024;

export async function parseJsonBody(text: string, options: JsonBodyOptions = {}): Promise<unknown> {
  const parser = new SlicedParser(
    text,
    options.maxDepth ?? MAX_JSON_DEPTH,
    options.sliceChars ?? SLICE_CHARS,
    options.pause ?? nextTurn,
  );
  return parser.parse();
}

/** A body parser whose large bodies are parsed one at a time; small ones never wait. */
export function jsonBodyParser(options: JsonBodyOptions = {}): (text: string) => Promise<unknown> {
  const lane = new SerialQueue();
  const slice = options.sliceChars ?? SLICE_CHARS;
  return (text) =>
    text.length <= slice ? parseJsonBody(text, options) : lane.run(() => parseJsonBody(text, options));
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;

class SlicedParser {
  private work = 0;

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
    private readonly slice: number,
    private readonly pause: Pause,
  ) {}

  async parse(): Promise<unknown> {
    const start = this.ws(0);
    if (start >= this.s.length) throw syntax("Unexpected end of JSON input");
    if (this.s.length <= this.slice) {
      this.endOf(start, 0, Infinity); // depth check only
      return JSON.parse(this.s);
    }
    const [value, end] = await this.value(start, 0);
    if (this.ws(end) !== this.s.length)
      throw syntax(`Unexpected non-whitespace character at position ${end}`);
    return value;
  }

  /** A value at `i` (no leading whitespace) inside `depth` containers, and where it ends. */
  private async value(i: number, depth: number): Promise<[unknown, number]> {
    const c = this.s.charCodeAt(i);
    if (c === OPEN_ARRAY) return this.array(i, depth + 1);
    if (c === OPEN_OBJECT) return this.object(i, depth + 1);
    const end = this.endOf(i, depth, Infinity);
    return [await this.parsed(i, end), end];
  }

  private async array(i: number, depth: number): Promise<[unknown[], number]> {
    if (depth > this.maxDepth) throw tooDeep(this.maxDepth);
    const out: unknown[] = [];
    let j = this.ws(i + 1);
    if (this.s.charCodeAt(j) === CLOSE_ARRAY) return [out, j + 1];
    // A run of small elements, parsed together as one array.
    let runStart = -1;
    let runEnd = -1;
    const flush = async () => {
      if (runStart < 0) return;
      const items = (await this.parsed(runStart, runEnd, "[", "]")) as unknown[];
      for (const item of items) out.push(item);
      runStart = -1;
    };
    while (true) {
      if (j >= this.s.length) throw syntax("Unexpected end of JSON input");
      const end = this.endOf(j, depth, this.slice);
      if (end < 0) {
        await flush();
        const [item, after] = await this.value(j, depth);
        out.push(item);
        j = after;
      } else {
        if (runStart < 0) runStart = j;
        runEnd = end;
        if (runEnd - runStart >= this.slice) await flush();
        j = end;
      }
      j = this.ws(j);
      const c = this.s.charCodeAt(j);
      if (c === CLOSE_ARRAY) {
        await flush();
        return [out, j + 1];
      }
      if (c !== COMMA) throw syntax(`Expected ',' or ']' after array element at position ${j}`);
      j = this.ws(j + 1);
    }
  }

  private async object(i: number, depth: number): Promise<[Record<string, unknown>, number]> {
    if (depth > this.maxDepth) throw tooDeep(this.maxDepth);
    const out: Record<string, unknown> = {};
    let j = this.ws(i + 1);
    if (this.s.charCodeAt(j) === CLOSE_OBJECT) return [out, j + 1];
    while (true) {
      if (this.s.charCodeAt(j) !== QUOTE) throw syntax(`Expected a property name at position ${j}`);
      const keyEnd = this.endOf(j, depth, Infinity);
      const key = JSON.parse(this.s.slice(j, keyEnd)) as string;
      j = this.ws(keyEnd);
      if (this.s.charCodeAt(j) !== COLON) throw syntax(`Expected ':' after property name at position ${j}`);
      j = this.ws(j + 1);
      if (j >= this.s.length) throw syntax("Unexpected end of JSON input");
      const end = this.endOf(j, depth, this.slice);
      let item: unknown;
      if (end < 0) {
        [item, j] = await this.value(j, depth);
      } else {
        item = await this.parsed(j, end);
        j = end;
      }
      // As JSON.parse does: an own property, even for "__proto__".
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
      j = this.ws(j);
      const c = this.s.charCodeAt(j);
      if (c === CLOSE_OBJECT) return [out, j + 1];
      if (c !== COMMA) throw syntax(`Expected ',' or '}' after property value at position ${j}`);
      j = this.ws(j + 1);
    }
  }

  /** JSON.parse of s[from, to), then a pause once a slice's worth of text has been parsed. */
  private async parsed(from: number, to: number, before = "", after = ""): Promise<unknown> {
    const value: unknown = JSON.parse(before + this.s.slice(from, to) + after);
    this.work += to - from;
    if (this.work >= this.slice) {
      this.work = 0;
      await this.pause();
    }
    return value;
  }

  /**
   * Where the value at `i` ends, checking that containers in it stay within the depth limit;
   * -1 when it runs past `limit` characters (a large container, to be walked instead). Only
   * the structure is checked here; JSON.parse checks the rest of each piece.
   */
  private endOf(i: number, depth: number, limit: number): number {
    const s = this.s;
    const stop = Math.min(s.length, i + limit);
    const c = s.charCodeAt(i);
    if (c === QUOTE) {
      for (let j = i + 1; j < s.length; j++) {
        if (j >= stop) return -1;
        const d = s.charCodeAt(j);
        if (d === BACKSLASH) j++;
        else if (d === QUOTE) return j + 1;
      }
      throw syntax("Unterminated string in JSON");
    }
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      let nested = 0;
      let inString = false;
      for (let j = i; j < s.length; j++) {
        if (j >= stop) return -1;
        const d = s.charCodeAt(j);
        if (inString) {
          if (d === BACKSLASH) j++;
          else if (d === QUOTE) inString = false;
        } else if (d === QUOTE) {
          inString = true;
        } else if (d === OPEN_ARRAY || d === OPEN_OBJECT) {
          nested++;
          if (depth + nested > this.maxDepth) throw tooDeep(this.maxDepth);
        } else if (d === CLOSE_ARRAY || d === CLOSE_OBJECT) {
          nested--;
          if (nested === 0) return j + 1;
        }
      }
      throw syntax("Unexpected end of JSON input");
    }
    let j = i;
    while (j < s.length) {
      const d = s.charCodeAt(j);
      if (d === COMMA || d === CLOSE_ARRAY || d === CLOSE_OBJECT || WS.has(d)) break;
      j++;
    }
    if (j === i) throw syntax(`Unexpected character at position ${i}`);
    return j;
  }

  private ws(i: number): number {
    let j = i;
    while (j < this.s.length && WS.has(this.s.charCodeAt(j))) j++;
    return j;
  }
}

function syntax(message: string): SyntaxError {
  return new SyntaxError(message);
}

function tooDeep(maxDepth: number): BallastError {
  return invalid(`the request body nests deeper than ${maxDepth} levels of arrays and objects`);
}
