/*
 * ASP.NET Core route templates, the syntax Functions HTTP triggers use for `route`:
 * literal segments, `{name}`, `{name?}` (optional, last segments only), `{*name}` (catch-all),
 * defaults `{name=value}` and constraints `{name:int}`, `{name:guid}`, `{name:alpha}`, `{name:bool}`,
 * `{name:long}`, `{name:decimal}`, `{name:double}`, `{name:min(1)}`, `{name:max(9)}`, `{name:range(1,9)}`,
 * `{name:length(4)}`, `{name:length(1,8)}`, `{name:minlength(2)}`, `{name:maxlength(9)}`, `{name:regex(^a+$)}`.
 * Literals match case-insensitively; values are URL-decoded.
 */

type Constraint = (value: string) => boolean;

interface LiteralSegment {
  kind: 'literal';
  text: string;
}
interface ParameterSegment {
  kind: 'parameter';
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue: string | undefined;
  constraints: Constraint[];
}
type Segment = LiteralSegment | ParameterSegment;

export interface CompiledRoute {
  template: string;
  segments: Segment[];
  /** Lower sorts first: literals before constrained parameters before plain ones before catch-alls. */
  precedence: number[];
  match(pathSegments: string[]): Record<string, string> | undefined;
}

const isInteger = (v: string) => /^-?\d+$/.test(v);
const isNumber = (v: string) => /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v);

function numberArgs(args: string, count: number, constraintName: string): number[] {
  const values = args.split(',').map((a) => Number(a.trim()));
  if (values.length !== count || values.some((n) => !Number.isFinite(n))) {
    throw new Error(`Route constraint "${constraintName}" takes ${count} number(s)`);
  }
  return values;
}

function compileConstraint(spec: string): Constraint {
  const call = /^(\w+)(?:\((.*)\))?$/s.exec(spec);
  if (!call) throw new Error(`Invalid route constraint "${spec}"`);
  const [, name, args = ''] = call;
  switch (name!.toLowerCase()) {
    case 'int':
      return (v) => isInteger(v) && Math.abs(Number(v)) <= 2 ** 31;
    case 'long':
      return isInteger;
    case 'decimal':
    case 'double':
    case 'float':
      return isNumber;
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'guid':
      return (v) => /^(\{[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{32})$/i.test(v);
    case 'min': {
      const [min] = numberArgs(args, 1, name!);
      return (v) => isInteger(v) && Number(v) >= min!;
    }
    case 'max': {
      const [max] = numberArgs(args, 1, name!);
      return (v) => isInteger(v) && Number(v) <= max!;
    }
    case 'range': {
      const [min, max] = numberArgs(args, 2, name!);
      return (v) => isInteger(v) && Number(v) >= min! && Number(v) <= max!;
    }
    case 'minlength': {
      const [min] = numberArgs(args, 1, name!);
      return (v) => v.length >= min!;
    }
    case 'maxlength': {
      const [max] = numberArgs(args, 1, name!);
      return (v) => v.length <= max!;
    }
    case 'length': {
      const bounds = args.includes(',') ? numberArgs(args, 2, name!) : numberArgs(args, 1, name!);
      const [min, max = min] = bounds;
      return (v) => v.length >= min! && v.length <= max!;
    }
    case 'regex': {
      const pattern = new RegExp(args, 'i');
      return (v) => pattern.test(v);
    }
    default:
      throw new Error(`Unknown route constraint "${name}"`);
  }
}

function parseSegment(text: string): Segment {
  if (!text.startsWith('{')) return { kind: 'literal', text: text.toLowerCase() };
  if (!text.endsWith('}')) throw new Error(`Invalid route segment "${text}"`);
  let body = text.slice(1, -1);
  const catchAll = body.startsWith('*');
  if (catchAll) body = body.replace(/^\*+/, '');
  // Constraints are separated by ':' but a regex argument may itself contain ':'.
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of body) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ':' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  const [firstPart = '', ...constraintSpecs] = parts;
  let nameSpec = firstPart;
  let optional = false;
  let defaultValue: string | undefined;
  const last = constraintSpecs.length > 0 ? constraintSpecs.length - 1 : -1;
  const tail = last >= 0 ? constraintSpecs[last]! : nameSpec;
  let cleanTail = tail;
  if (cleanTail.endsWith('?')) {
    optional = true;
    cleanTail = cleanTail.slice(0, -1);
  }
  const eq = cleanTail.indexOf('=');
  if (eq >= 0 && !(last >= 0 && cleanTail.startsWith('regex('))) {
    defaultValue = cleanTail.slice(eq + 1);
    cleanTail = cleanTail.slice(0, eq);
  }
  if (last >= 0) constraintSpecs[last] = cleanTail;
  else nameSpec = cleanTail;
  if (!/^\w+$/.test(nameSpec)) throw new Error(`Invalid route parameter name in "${text}"`);
  return {
    kind: 'parameter',
    name: nameSpec,
    optional: optional || defaultValue !== undefined || catchAll,
    catchAll,
    defaultValue,
    constraints: constraintSpecs.map(compileConstraint),
  };
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

export function compileRoute(template: string): CompiledRoute {
  const segments = splitPath(template.replace(/^~?\//, '')).map(parseSegment);
  segments.forEach((segment, index) => {
    if (segment.kind === 'parameter' && segment.catchAll && index !== segments.length - 1) {
      throw new Error(`A catch-all parameter must be the last segment of route "${template}"`);
    }
  });
  const precedence = segments.map((s) =>
    s.kind === 'literal' ? 1 : s.catchAll ? 5 : s.constraints.length > 0 ? 2 : 3,
  );

  return {
    template,
    segments,
    precedence,
    match(pathSegments) {
      const values: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i]!;
        const raw = pathSegments[i];
        if (segment.kind === 'literal') {
          if (raw === undefined || safeDecode(raw)?.toLowerCase() !== segment.text) return undefined;
          continue;
        }
        if (segment.catchAll) {
          const rest = pathSegments.slice(i).map(safeDecode);
          if (rest.some((s) => s === undefined)) return undefined;
          if (rest.length > 0) values[segment.name] = rest.join('/');
          else if (segment.defaultValue !== undefined) values[segment.name] = segment.defaultValue;
          return values;
        }
        if (raw === undefined) {
          if (!segment.optional) return undefined;
          if (segment.defaultValue !== undefined) values[segment.name] = segment.defaultValue;
          continue;
        }
        const value = safeDecode(raw);
        if (value === undefined || !segment.constraints.every((accepts) => accepts(value))) return undefined;
        values[segment.name] = value;
      }
      return pathSegments.length <= segments.length ? values : undefined;
    },
  };
}

// Like ASP.NET Core's path decoding: a malformed escape (e.g. `%E0%A4%A`) stays as written instead of
// making the path unroutable, so the catch-all still answers it.
function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment.replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

/** Orders routes the way ASP.NET Core does: more specific templates are tried first. */
export function compareRoutes(a: CompiledRoute, b: CompiledRoute): number {
  const length = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < length; i++) {
    const pa = a.precedence[i] ?? 4;
    const pb = b.precedence[i] ?? 4;
    if (pa !== pb) return pa - pb;
  }
  return a.template.localeCompare(b.template);
}
