/** A parser for the data literals minifiers emit (`{a:!0,b:.5,"c":[1e-3]}`): reads them as data, never runs them. */
import { EdgewatchError } from '../errors.js';

/** A value a JS data literal can hold. */
export type LiteralValue = null | boolean | number | string | LiteralValue[] | { [key: string]: LiteralValue };

const IDENT_START = /[A-Za-z_$]/;
const IDENT_PART = /[A-Za-z0-9_$]/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;

/**
 * Parses the JS expression starting at `start` in `source` as a data literal: objects (quoted or bare
 * keys), arrays, single- or double-quoted strings, numbers (`.5`, `-1e-3`, `1/0`), `!0`/`!1`, `true`,
 * `false`, `null`, `void 0` (read as null), `NaN`, `Infinity`. Anything else (a call, a variable) is
 * an EW_PULL_FAILED error. Returns the value and the index just after it.
 */
export function parseJsLiteral(source: string, start = 0): { value: LiteralValue; end: number } {
  return new LiteralParser(source, start).parseRoot();
}

class LiteralParser {
  readonly #src: string;
  #pos: number;

  constructor(source: string, start: number) {
    this.#src = source;
    this.#pos = start;
  }

  parseRoot(): { value: LiteralValue; end: number } {
    const value = this.#value();
    return { value, end: this.#pos };
  }

  #fail(what: string): never {
    const near = this.#src.slice(this.#pos, this.#pos + 40);
    throw new EdgewatchError('EW_PULL_FAILED', `Unexpected ${what} at offset ${this.#pos} in a model bundle (near ${JSON.stringify(near)}); it is not a plain data literal.`, {
      details: { offset: this.#pos },
    });
  }

  #skipSpace(): void {
    while (this.#pos < this.#src.length && /\s/.test(this.#src[this.#pos]!)) this.#pos++;
  }

  #peek(): string {
    this.#skipSpace();
    return this.#src[this.#pos] ?? '';
  }

  #expect(ch: string): void {
    if (this.#peek() !== ch) this.#fail(`character (expected ${JSON.stringify(ch)})`);
    this.#pos++;
  }

  #value(): LiteralValue {
    const ch = this.#peek();
    if (ch === '{') return this.#object();
    if (ch === '[') return this.#array();
    if (ch === '"' || ch === "'") return this.#string();
    if (ch === '!') return this.#bang();
    if (ch === '-' || ch === '+' || ch === '.' || (ch >= '0' && ch <= '9')) return this.#number();
    if (IDENT_START.test(ch)) return this.#keyword();
    return this.#fail(ch === '' ? 'end of input' : 'token');
  }

  #object(): { [key: string]: LiteralValue } {
    this.#expect('{');
    const out: { [key: string]: LiteralValue } = {};
    if (this.#peek() === '}') {
      this.#pos++;
      return out;
    }
    for (;;) {
      const ch = this.#peek();
      let key: string;
      if (ch === '"' || ch === "'") key = this.#string();
      else if (IDENT_START.test(ch)) key = this.#identifier();
      else if (ch >= '0' && ch <= '9') key = String(this.#number());
      else this.#fail('object key');
      this.#expect(':');
      // Defining "__proto__" through assignment would change the prototype: define it as own data.
      Object.defineProperty(out, key, { value: this.#value(), enumerable: true, writable: true, configurable: true });
      const next = this.#peek();
      this.#pos++;
      if (next === '}') return out;
      if (next !== ',') {
        this.#pos--;
        this.#fail('character in object (expected "," or "}")');
      }
    }
  }

  #array(): LiteralValue[] {
    this.#expect('[');
    const out: LiteralValue[] = [];
    if (this.#peek() === ']') {
      this.#pos++;
      return out;
    }
    for (;;) {
      out.push(this.#value());
      const next = this.#peek();
      this.#pos++;
      if (next === ']') return out;
      if (next !== ',') {
        this.#pos--;
        this.#fail('character in array (expected "," or "]")');
      }
    }
  }

  #string(): string {
    const quote = this.#src[this.#pos]!;
    const begin = ++this.#pos;
    // Fast path: the multi-megabyte base64 shards have no escapes.
    const close = this.#src.indexOf(quote, begin);
    if (close < 0) this.#fail('end of input in a string');
    const raw = this.#src.slice(begin, close);
    if (!raw.includes('\\') && !raw.includes('\n')) {
      this.#pos = close + 1;
      return raw;
    }
    let out = '';
    while (this.#pos < this.#src.length) {
      const ch = this.#src[this.#pos++]!;
      if (ch === quote) return out;
      if (ch === '\n') this.#fail('line break in a string');
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const esc = this.#src[this.#pos++] ?? '';
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0' };
      if (esc in simple) out += simple[esc];
      else if (esc === 'x') out += this.#hexChar(2);
      else if (esc === 'u') out += this.#hexChar(4);
      else out += esc;
    }
    return this.#fail('end of input in a string');
  }

  #hexChar(digits: number): string {
    const hex = this.#src.slice(this.#pos, this.#pos + digits);
    if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) this.#fail('escape sequence');
    this.#pos += digits;
    return String.fromCharCode(parseInt(hex, 16));
  }

  #number(): number {
    const match = NUMBER.exec(this.#src.slice(this.#pos, this.#pos + 64));
    if (!match) {
      const sign = this.#src[this.#pos];
      if ((sign === '-' || sign === '+') && IDENT_START.test(this.#src[this.#pos + 1] ?? '')) {
        this.#pos++;
        const v = this.#keyword();
        if (typeof v !== 'number') this.#fail('signed non-number');
        return sign === '-' ? -v : v;
      }
      return this.#fail('number');
    }
    this.#pos += match[0].length;
    let value = Number(match[0]);
    // Minifiers write Infinity as 1/0.
    if (this.#src[this.#pos] === '/' && this.#src[this.#pos + 1] === '0' && !/[\d.]/.test(this.#src[this.#pos + 2] ?? '')) {
      this.#pos += 2;
      value = value / 0;
    }
    return value;
  }

  #bang(): boolean {
    this.#pos++;
    const ch = this.#src[this.#pos];
    if (ch === '0' || ch === '1') {
      this.#pos++;
      return ch === '0';
    }
    return this.#fail('"!" not followed by 0 or 1');
  }

  #identifier(): string {
    const begin = this.#pos;
    while (this.#pos < this.#src.length && IDENT_PART.test(this.#src[this.#pos]!)) this.#pos++;
    return this.#src.slice(begin, this.#pos);
  }

  #keyword(): LiteralValue {
    const begin = this.#pos;
    const word = this.#identifier();
    switch (word) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'null':
        return null;
      case 'NaN':
        return NaN;
      case 'Infinity':
        return Infinity;
      case 'void':
        this.#skipSpace();
        if (this.#src[this.#pos] === '0') {
          this.#pos++;
          return null;
        }
        break;
    }
    this.#pos = begin;
    return this.#fail(`identifier ${JSON.stringify(word)}`);
  }
}
