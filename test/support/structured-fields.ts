// A strict parser for RFC 8941 (RFC 9651) structured-field Lists of Items, enough to check the RateLimit and
// RateLimit-Policy fields the way a client library would read them: anything off the grammar throws.

export type BareItem = number | string | boolean | { token: string } | { bytes: string };
export interface Item {
  value: BareItem;
  params: Map<string, BareItem>;
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}
  fail(what: string): never {
    throw new SyntaxError(`structured field: ${what} at ${this.i} in ${JSON.stringify(this.s)}`);
  }
  peek(): string {
    return this.s[this.i] ?? '';
  }
  skipSP(): void {
    while (this.peek() === ' ') this.i++;
  }
  skipOWS(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.i++;
  }

  list(): Item[] {
    const members: Item[] = [];
    this.skipSP();
    if (this.i === this.s.length) return members;
    for (;;) {
      if (this.peek() === '(') this.fail('inner lists are not expected here');
      members.push(this.item());
      this.skipOWS();
      if (this.i === this.s.length) return members;
      if (this.peek() !== ',') this.fail('expected ","');
      this.i++;
      this.skipOWS();
      if (this.i === this.s.length) this.fail('trailing ","');
    }
  }

  item(): Item {
    return { value: this.bareItem(), params: this.params() };
  }

  params(): Map<string, BareItem> {
    const params = new Map<string, BareItem>();
    while (this.peek() === ';') {
      this.i++;
      this.skipSP();
      const key = this.key();
      let value: BareItem = true;
      if (this.peek() === '=') {
        this.i++;
        value = this.bareItem();
      }
      params.set(key, value);
    }
    return params;
  }

  key(): string {
    const m = /^[a-z*][a-z0-9_\-.*]*/.exec(this.s.slice(this.i));
    if (m === null) this.fail('expected a key');
    this.i += m[0].length;
    return m[0];
  }

  bareItem(): BareItem {
    const c = this.peek();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (c === '"') return this.string();
    if (c === ':') return this.bytes();
    if (c === '?') return this.boolean();
    if (/[A-Za-z*]/.test(c)) return this.token();
    return this.fail('expected a bare item');
  }

  number(): number {
    const m = /^-?\d{1,15}(\.\d{1,3})?/.exec(this.s.slice(this.i));
    if (m === null) this.fail('bad number');
    if (m[1] === undefined && m[0].replace('-', '').length > 15) this.fail('integer too long');
    if (m[1] !== undefined && m[0].replace('-', '').split('.')[0].length > 12) this.fail('decimal too long');
    this.i += m[0].length;
    return Number(m[0]);
  }

  string(): string {
    let out = '';
    this.i++;
    for (;;) {
      const c = this.s[this.i++];
      if (c === undefined) this.fail('unterminated string');
      if (c === '"') return out;
      if (c === '\\') {
        const next = this.s[this.i++];
        if (next !== '"' && next !== '\\') this.fail('bad escape');
        out += next;
      } else {
        const code = c.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) this.fail('non-printable character in string');
        out += c;
      }
    }
  }

  token(): { token: string } {
    const m = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(this.s.slice(this.i));
    this.i += m![0].length;
    return { token: m![0] };
  }

  bytes(): { bytes: string } {
    const end = this.s.indexOf(':', this.i + 1);
    if (end === -1) this.fail('unterminated byte sequence');
    const b64 = this.s.slice(this.i + 1, end);
    if (!/^[A-Za-z0-9+/=]*$/.test(b64)) this.fail('bad byte sequence');
    this.i = end + 1;
    return { bytes: b64 };
  }

  boolean(): boolean {
    const v = this.s[this.i + 1];
    if (v !== '0' && v !== '1') this.fail('bad boolean');
    this.i += 2;
    return v === '1';
  }
}

/** Parses a List field value (several field lines joined with ", ", as fetch's Headers does). */
export function parseList(value: string): Item[] {
  return new Parser(value).list();
}
