/**
 * Reads a CloudFormation template written in YAML, for tests. No YAML library is installed (the
 * `yaml` package is only an optional peer of vite), and the templates use a small part of YAML,
 * so this reads exactly that part and throws on anything else (anchors, aliases, merge keys,
 * several documents, tabs, multi-line plain scalars...) rather than guessing: a template it
 * cannot read fails the test instead of passing it unread.
 *
 * Supported: block mappings and sequences (including `key:` followed by `- item` at the same
 * indent), single-line flow mappings and sequences, plain / single-quoted / double-quoted
 * scalars, block scalars (`|`, `|-`, `>`, `>-`), comments, and the short-form intrinsic function
 * tags (`!Ref`, `!Sub`, `!GetAtt`, ...), which become their long form (`{ Ref: ... }`,
 * `{ 'Fn::Sub': ... }`, `{ 'Fn::GetAtt': [resource, attribute] }`) as CloudFormation reads them.
 */

export type CfnValue = string | number | boolean | null | CfnValue[] | { [key: string]: CfnValue };

const FUNCTION_TAGS: Record<string, string> = {
  '!Base64': 'Fn::Base64', '!Cidr': 'Fn::Cidr', '!FindInMap': 'Fn::FindInMap', '!GetAtt': 'Fn::GetAtt', '!GetAZs': 'Fn::GetAZs',
  '!ImportValue': 'Fn::ImportValue', '!Join': 'Fn::Join', '!Select': 'Fn::Select', '!Split': 'Fn::Split', '!Sub': 'Fn::Sub',
  '!Transform': 'Fn::Transform', '!And': 'Fn::And', '!Equals': 'Fn::Equals', '!If': 'Fn::If', '!Not': 'Fn::Not', '!Or': 'Fn::Or',
  '!Length': 'Fn::Length', '!ToJsonString': 'Fn::ToJsonString',
};

function applyTag(tag: string, value: CfnValue, where: string): CfnValue {
  if (tag === '!Ref') return { Ref: value };
  if (tag === '!Condition') return { Condition: value };
  const name = FUNCTION_TAGS[tag];
  if (!name) throw new Error(`${where}: unsupported tag ${tag}`);
  // The short form of GetAtt is `Resource.Attribute`.
  if (tag === '!GetAtt' && typeof value === 'string') {
    const dot = value.indexOf('.');
    if (dot < 1) throw new Error(`${where}: !GetAtt needs Resource.Attribute, got ${value}`);
    return { [name]: [value.slice(0, dot), value.slice(dot + 1)] };
  }
  return { [name]: value };
}

function typedPlain(text: string, where: string): CfnValue {
  if (/^[&*]/.test(text) || text.startsWith('<<')) throw new Error(`${where}: anchors, aliases and merge keys are not supported`);
  if (/^[@`%]/.test(text)) throw new Error(`${where}: a plain scalar cannot start with ${text[0]}`);
  if (/^-?\d+$/.test(text)) return Number(text);
  if (/^-?\d+\.\d+$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null' || text === '~') return null;
  return text;
}

/** A quoted scalar starting at text[0]; returns the value and the rest of the text after it. */
function readQuoted(text: string, where: string): { value: string; rest: string } {
  const quote = text[0]!;
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'" && c === "'") {
      if (text[i + 1] === "'") {
        value += "'";
        i++;
        continue;
      }
      return { value, rest: text.slice(i + 1) };
    }
    if (quote === '"' && c === '\\') {
      const next = text[++i];
      const escapes: Record<string, string> = { n: '\n', t: '\t', '"': '"', '\\': '\\', '/': '/', '0': '\0' };
      if (next === undefined || !(next in escapes)) throw new Error(`${where}: unsupported escape \\${next ?? ''}`);
      value += escapes[next];
      continue;
    }
    if (quote === '"' && c === '"') return { value, rest: text.slice(i + 1) };
    value += c;
  }
  throw new Error(`${where}: unterminated ${quote} string (multi-line quoted scalars are not supported)`);
}

/** Removes a trailing ` # comment` from a plain value. */
function stripComment(text: string): string {
  const at = text.search(/(^|\s)#/);
  return (at < 0 ? text : text.slice(0, at)).trimEnd();
}

/** Position of the `:` that ends a mapping key (followed by a space or the end), or -1. */
function keyColon(text: string): number {
  if (text.startsWith("'") || text.startsWith('"')) {
    const { rest } = readQuoted(text, 'key');
    const after = text.length - rest.length;
    return rest.startsWith(':') && (rest.length === 1 || rest[1] === ' ') ? after : -1;
  }
  if (/^[!&*[{|>#]/.test(text)) return -1;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '#' && i > 0 && text[i - 1] === ' ') return -1;
    if (text[i] === ':' && (i + 1 === text.length || text[i + 1] === ' ')) return i;
  }
  return -1;
}

/** Flow collections on one line: `{ a: b, c: [d, !Ref e] }`. */
class FlowReader {
  private i = 0;
  constructor(private readonly text: string, private readonly where: string) {}

  readAll(): CfnValue {
    const value = this.value();
    this.space();
    const rest = stripComment(this.text.slice(this.i));
    if (rest) throw new Error(`${this.where}: unexpected ${rest} after a flow collection`);
    return value;
  }

  private space(): void {
    while (this.text[this.i] === ' ') this.i++;
  }

  private value(): CfnValue {
    this.space();
    const c = this.text[this.i];
    if (c === '{') return this.mapping();
    if (c === '[') return this.sequence();
    if (c === '!') {
      const tag = /^![A-Za-z]+/.exec(this.text.slice(this.i))![0];
      this.i += tag.length;
      return applyTag(tag, this.value(), this.where);
    }
    if (c === "'" || c === '"') {
      const { value, rest } = readQuoted(this.text.slice(this.i), this.where);
      this.i = this.text.length - rest.length;
      return value;
    }
    const m = /^[^,\]}]*/.exec(this.text.slice(this.i))![0];
    this.i += m.length;
    const plain = m.trim();
    if (plain.includes(': ') || plain.endsWith(':')) throw new Error(`${this.where}: a flow mapping entry outside braces: ${plain}`);
    return typedPlain(plain, this.where);
  }

  private expect(c: string): void {
    this.space();
    if (this.text[this.i] !== c) throw new Error(`${this.where}: expected ${c} at column ${this.i + 1} (flow collections must fit on one line)`);
    this.i++;
  }

  private sequence(): CfnValue[] {
    this.expect('[');
    const items: CfnValue[] = [];
    this.space();
    if (this.text[this.i] === ']') {
      this.i++;
      return items;
    }
    for (;;) {
      items.push(this.value());
      this.space();
      if (this.text[this.i] === ',') {
        this.i++;
        continue;
      }
      this.expect(']');
      return items;
    }
  }

  private mapping(): Record<string, CfnValue> {
    this.expect('{');
    const out: Record<string, CfnValue> = {};
    this.space();
    if (this.text[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      const key = /^[^:,}]+/.exec(this.text.slice(this.i))?.[0];
      if (!key) throw new Error(`${this.where}: expected a key at column ${this.i + 1}`);
      this.i += key.length;
      this.expect(':');
      out[key.trim()] = this.value();
      this.space();
      if (this.text[this.i] === ',') {
        this.i++;
        continue;
      }
      this.expect('}');
      return out;
    }
  }
}

export function parseCfnYaml(source: string, file = 'template'): CfnValue {
  const lines = source.split(/\r?\n/);
  let next = 0;
  const where = (n: number) => `${file}:${n + 1}`;
  const indentOf = (line: string) => line.length - line.trimStart().length;
  const significant = (line: string) => line.trim() !== '' && !line.trimStart().startsWith('#');

  for (const [n, line] of lines.entries()) {
    if (/^\t| \t/.test(line) && significant(line)) throw new Error(`${where(n)}: tabs are not supported`);
    if (/^(---|\.\.\.)(\s|$)/.test(line)) throw new Error(`${where(n)}: several documents are not supported`);
    if (/^%/.test(line)) throw new Error(`${where(n)}: directives are not supported`);
  }

  /** Index of the next line with content, skipping blanks and comments. */
  function peek(): number {
    while (next < lines.length && !significant(lines[next]!)) next++;
    return next;
  }

  function isItem(text: string): boolean {
    return text === '-' || text.startsWith('- ');
  }

  function block(indent: number): CfnValue {
    const n = peek();
    if (n >= lines.length) return null;
    return isItem(lines[n]!.trimStart()) ? sequence(indentOf(lines[n]!)) : mapping(indent);
  }

  /** The value of `key:` with nothing after it: a deeper block, a sequence at the same indent, or null. */
  function nested(parentIndent: number, allowSameIndentSequence: boolean): CfnValue {
    const n = peek();
    if (n >= lines.length) return null;
    const line = lines[n]!;
    const indent = indentOf(line);
    if (indent > parentIndent) return block(indent);
    if (allowSameIndentSequence && indent === parentIndent && isItem(line.trimStart())) return sequence(indent);
    return null;
  }

  function mapping(indent: number): Record<string, CfnValue> {
    const out: Record<string, CfnValue> = {};
    for (;;) {
      const n = peek();
      if (n >= lines.length) return out;
      const line = lines[n]!;
      const lineIndent = indentOf(line);
      if (lineIndent < indent) return out;
      const text = line.trim();
      if (lineIndent > indent) throw new Error(`${where(n)}: unexpected indentation (a multi-line plain scalar?)`);
      if (isItem(text)) return out;
      const colon = keyColon(text);
      if (colon < 0) throw new Error(`${where(n)}: expected "key: value", got ${text}`);
      const rawKey = text.slice(0, colon);
      const key = rawKey.startsWith("'") || rawKey.startsWith('"') ? readQuoted(rawKey, where(n)).value : rawKey.trim();
      if (key in out) throw new Error(`${where(n)}: duplicate key ${key}`);
      next = n + 1;
      const rest = text.slice(colon + 1).trim();
      out[key] = rest === '' || rest.startsWith('#') ? nested(indent, true) : inline(rest, indent, n);
    }
  }

  function sequence(indent: number): CfnValue[] {
    const out: CfnValue[] = [];
    for (;;) {
      const n = peek();
      if (n >= lines.length) return out;
      const line = lines[n]!;
      const lineIndent = indentOf(line);
      if (lineIndent < indent) return out;
      if (lineIndent > indent) throw new Error(`${where(n)}: unexpected indentation in a sequence`);
      const text = line.trim();
      if (!isItem(text)) return out;
      const content = text.slice(1).trimStart();
      if (content === '' || content.startsWith('#')) {
        next = n + 1;
        out.push(nested(indent, false));
      } else if (keyColon(content) >= 0) {
        // `- key: value` starts a mapping whose keys sit where `key` is: read it as if the dash were a space.
        const contentIndent = indent + (text.length - content.length);
        lines[n] = ' '.repeat(contentIndent) + content;
        out.push(mapping(contentIndent));
      } else {
        next = n + 1;
        out.push(inline(content, indent, n));
      }
    }
  }

  /** A value written after `key:` or `- ` on line n. */
  function inline(text: string, parentIndent: number, n: number): CfnValue {
    if (text.startsWith('!')) {
      const tag = /^![A-Za-z]+/.exec(text)?.[0];
      if (!tag) throw new Error(`${where(n)}: unsupported tag in ${text}`);
      const rest = text.slice(tag.length).trim();
      const value = rest === '' || rest.startsWith('#') ? nested(parentIndent, false) : inline(rest, parentIndent, n);
      return applyTag(tag, value, where(n));
    }
    if (text.startsWith('|') || text.startsWith('>')) return blockScalar(text, parentIndent, n);
    if (text.startsWith('{') || text.startsWith('[')) return new FlowReader(text, where(n)).readAll();
    if (text.startsWith("'") || text.startsWith('"')) {
      const { value, rest } = readQuoted(text, where(n));
      if (stripComment(rest).trim() !== '') throw new Error(`${where(n)}: unexpected ${rest} after a quoted scalar`);
      return value;
    }
    return typedPlain(stripComment(text), where(n));
  }

  function blockScalar(header: string, parentIndent: number, n: number): string {
    const m = /^([|>])([-+]?)\s*(#.*)?$/.exec(header);
    if (!m) throw new Error(`${where(n)}: unsupported block scalar header ${header}`);
    const [, style, chomp] = m;
    const body: string[] = [];
    let contentIndent = -1;
    let i = n + 1;
    for (; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trim() === '') {
        body.push('');
        continue;
      }
      const indent = indentOf(line);
      if (indent <= parentIndent) break;
      if (contentIndent < 0) contentIndent = indent;
      if (indent < contentIndent) throw new Error(`${where(i)}: block scalar line indented less than its first line`);
      body.push(line.slice(contentIndent));
    }
    next = i;
    while (body.length && body[body.length - 1] === '') body.pop();
    let text = style === '|' ? body.join('\n') : body.join('\n').replace(/([^\n])\n(?=[^\n])/g, '$1 ');
    if (chomp === '+') throw new Error(`${where(n)}: keep chomping (+) is not supported`);
    if (chomp !== '-' && text !== '') text += '\n';
    return text;
  }

  const root = block(0);
  const left = peek();
  if (left < lines.length) throw new Error(`${where(left)}: unexpected content ${lines[left]!.trim()}`);
  return root;
}
