/**
 * A small textual reader of Bicep, enough for the infra tests to check templates without the Bicep CLI.
 * It understands comments, single- and triple-quoted strings (with `${...}` interpolation), bracket
 * nesting, decorators and multi-line objects; it does not evaluate expressions.
 */

export interface BicepStatement {
  text: string;
  decorators: string[];
}

export interface BicepParam {
  name: string;
  type: string;
  defaultValue: string | undefined;
  secure: boolean;
  decorators: string[];
}

export interface BicepModule {
  symbol: string;
  path: string;
  body: string;
}

export interface BicepResource {
  symbol: string;
  type: string;
  apiVersion: string;
  existing: boolean;
  body: string;
}

const openers: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
const closers = new Set(Object.values(openers));

/** Index just past the string literal that starts at `start` (a `'`). */
function skipString(src: string, start: number): number {
  if (src.startsWith("'''", start)) {
    const end = src.indexOf("'''", start + 3);
    if (end < 0) throw new Error(`unterminated multi-line string at ${start}`);
    return end + 3;
  }
  let i = start + 1;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      i += 2;
    } else if (c === "'") {
      return i + 1;
    } else if (c === '$' && src[i + 1] === '{') {
      i = matchBracket(src, i + 1) + 1;
    } else if (c === '\n') {
      throw new Error(`unterminated string at ${start}`);
    } else {
      i += 1;
    }
  }
  throw new Error(`unterminated string at ${start}`);
}

/** Index of the bracket closing the one at `open` (strings are skipped). */
export function matchBracket(src: string, open: number): number {
  const stack: string[] = [];
  let i = open;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "'") {
      i = skipString(src, i);
      continue;
    }
    if (c in openers) stack.push(openers[c]!);
    else if (closers.has(c)) {
      if (stack.pop() !== c) throw new Error(`unbalanced '${c}' at ${i}`);
      if (stack.length === 0) return i;
    }
    i += 1;
  }
  throw new Error(`no closing bracket for ${open}`);
}

/** The source with comments blanked out (newlines kept, so line structure survives). */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === "'") {
      const end = skipString(src, i);
      out += src.slice(i, end);
      i = end;
    } else if (src.startsWith('//', i)) {
      const end = src.indexOf('\n', i);
      i = end < 0 ? src.length : end;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new Error(`unterminated comment at ${i}`);
      out += src.slice(i, end + 2).replace(/[^\n]/g, ' ');
      i = end + 2;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

/**
 * Splits a run of Bicep (a file, or the inside of an object) into statements: text at nesting depth 0
 * up to a newline. Decorators (`@...`) are attached to the statement that follows them.
 */
export function statements(src: string): BicepStatement[] {
  const result: BicepStatement[] = [];
  let decorators: string[] = [];
  let current = '';
  let depth = 0;
  let i = 0;
  const flush = (): void => {
    const text = current.trim();
    current = '';
    if (!text) return;
    if (text.startsWith('@')) {
      decorators.push(text);
    } else {
      result.push({ text, decorators });
      decorators = [];
    }
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === "'") {
      const end = skipString(src, i);
      current += src.slice(i, end);
      i = end;
      continue;
    }
    if (c in openers) depth += 1;
    else if (closers.has(c)) depth -= 1;
    if (c === '\n' && depth === 0) flush();
    else current += c;
    i += 1;
  }
  flush();
  return result;
}

/** Top-level statements of a Bicep file, comments removed. */
export function fileStatements(src: string): BicepStatement[] {
  return statements(stripComments(src));
}

/** The `{...}` block that starts at the first `{` of `text` at or after `from`. */
export function firstBlock(text: string, from = 0): string {
  const open = text.indexOf('{', from);
  if (open < 0) throw new Error(`no object in: ${text.slice(0, 80)}`);
  return text.slice(open, matchBracket(text, open) + 1);
}

/** Every `{...}` block of an expression that is not nested in another one (e.g. both arms of `c ? {..} : {..}`). */
export function topLevelBlocks(text: string): string[] {
  const blocks: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'") {
      i = skipString(text, i);
    } else if (c === '{') {
      const end = matchBracket(text, i);
      blocks.push(text.slice(i, end + 1));
      i = end + 1;
    } else {
      i += 1;
    }
  }
  return blocks;
}

/** The properties of an object literal `{ key: value ... }`, in order; values are source text. */
export function objectEntries(block: string): Map<string, string> {
  const trimmed = block.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) throw new Error(`not an object: ${trimmed.slice(0, 80)}`);
  const entries = new Map<string, string>();
  for (const { text } of statements(trimmed.slice(1, -1))) {
    const match = /^(?:'([^']+)'|([A-Za-z_][\w]*))\s*:\s*([\s\S]*)$/.exec(text);
    if (!match) throw new Error(`not a property: ${text}`);
    entries.set(match[1] ?? match[2]!, match[3]!.trim());
  }
  return entries;
}

export function params(src: string): BicepParam[] {
  return fileStatements(src).flatMap(({ text, decorators }) => {
    const match = /^param\s+(\w+)\s+(\S+?)(?:\s*=\s*([\s\S]+))?$/.exec(text);
    if (!match) return [];
    return [
      {
        name: match[1]!,
        type: match[2]!,
        defaultValue: match[3]?.trim(),
        secure: decorators.some((d) => /^@secure\(\)/.test(d)),
        decorators,
      },
    ];
  });
}

export function modules(src: string): BicepModule[] {
  return fileStatements(src).flatMap(({ text }) => {
    const match = /^module\s+(\w+)\s+'([^']+)'\s*=\s*([\s\S]+)$/.exec(text);
    if (!match) return [];
    return [{ symbol: match[1]!, path: match[2]!, body: firstBlock(match[3]!) }];
  });
}

export function resources(src: string): BicepResource[] {
  return fileStatements(src).flatMap(({ text }) => {
    const match = /^resource\s+(\w+)\s+'([^'@]+)@([^']+)'\s+(existing\s+)?=\s*([\s\S]+)$/.exec(text);
    if (!match) return [];
    return [
      {
        symbol: match[1]!,
        type: match[2]!,
        apiVersion: match[3]!,
        existing: Boolean(match[4]),
        body: firstBlock(match[5]!),
      },
    ];
  });
}

/** `var name = <expression>` declarations, as source text. */
export function variables(src: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const { text } of fileStatements(src)) {
    const match = /^var\s+(\w+)\s*=\s*([\s\S]+)$/.exec(text);
    if (match) vars.set(match[1]!, match[2]!.trim());
  }
  return vars;
}

export function outputs(src: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const { text } of fileStatements(src)) {
    const match = /^output\s+(\w+)\s+\S+\s*=\s*([\s\S]+)$/.exec(text);
    if (match) result.set(match[1]!, match[2]!.trim());
  }
  return result;
}

/** Splits `f(a, b, c)` into its argument texts. */
export function callArguments(call: string, fn: string): string[] {
  const trimmed = call.trim();
  if (!trimmed.startsWith(`${fn}(`)) throw new Error(`not a ${fn}() call: ${trimmed.slice(0, 80)}`);
  const open = fn.length;
  const close = matchBracket(trimmed, open);
  const inner = trimmed.slice(open + 1, close);
  const args: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < inner.length; i += 1) {
    const c = inner[i]!;
    if (c === "'") {
      const end = skipString(inner, i);
      current += inner.slice(i, end);
      i = end - 1;
      continue;
    }
    if (c in openers) depth += 1;
    else if (closers.has(c)) depth -= 1;
    if (c === ',' && depth === 0) {
      args.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  if (current.trim()) args.push(current.trim());
  return args;
}

/**
 * Resolves an object-valued expression to its properties: an object literal, a variable holding one,
 * `cond ? {...} : {...}` (both arms) or `union(a, b, ...)` of those.
 */
export function resolveObject(expression: string, vars: Map<string, string>): Map<string, string> {
  const text = expression.trim();
  if (text.startsWith('union(')) {
    const merged = new Map<string, string>();
    for (const arg of callArguments(text, 'union')) {
      for (const [k, v] of resolveObject(arg, vars)) merged.set(k, v);
    }
    return merged;
  }
  if (/^\w+$/.test(text)) {
    const value = vars.get(text);
    if (value === undefined) throw new Error(`unknown variable ${text}`);
    return resolveObject(value, vars);
  }
  const merged = new Map<string, string>();
  const blocks = topLevelBlocks(text);
  if (blocks.length === 0) throw new Error(`not an object expression: ${text.slice(0, 80)}`);
  for (const block of blocks) for (const [k, v] of objectEntries(block)) merged.set(k, v);
  return merged;
}
