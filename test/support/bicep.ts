/**
 * The compiled infrastructure, for the infra tests: `npm run infra:build` (scripts/infra-build.sh)
 * compiles and lints infra/ with the real Bicep CLI, and these helpers read the ARM JSON it writes.
 * Nested modules are `Microsoft.Resources/deployments` resources whose template is inline.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ArmParameter {
  type: string;
  defaultValue?: unknown;
  minLength?: number;
  maxLength?: number;
  minValue?: number;
  maxValue?: number;
  allowedValues?: unknown[];
}

export interface ArmResource {
  type: string;
  name: unknown;
  condition?: unknown;
  existing?: boolean;
  tags?: unknown;
  dependsOn?: string[];
  // ARM properties are free-form; the tests navigate them with the helpers below.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
}

export interface ArmTemplate {
  metadata?: { _generator?: { name: string; version: string } };
  parameters?: Record<string, ArmParameter>;
  variables?: Record<string, unknown>;
  resources: ArmResource[];
  outputs?: Record<string, { type: string; value: unknown }>;
}

let compiled: ArmTemplate | undefined;

/** Runs `npm run infra:build` once per process (it throws, with the CLI's diagnostics, on any error or warning) and returns infra/main.bicep compiled. */
export function compileInfra(): ArmTemplate {
  if (!compiled) {
    // Niced: the CLI runs beside the other unit test files on a 2-core machine.
    execFileSync('nice', ['bash', join(projectRoot, 'scripts', 'infra-build.sh')], { stdio: ['ignore', 'ignore', 'pipe'] });
    compiled = JSON.parse(readFileSync(join(projectRoot, '.local', 'infra', 'main.json'), 'utf8')) as ArmTemplate;
  }
  return compiled;
}

/** The module call (a nested deployment) of `template` with this literal name, and the module's template. */
export function module(template: ArmTemplate, name: string): { call: ArmResource; template: ArmTemplate } {
  const call = template.resources.find((r) => r.type === 'Microsoft.Resources/deployments' && r.name === name);
  if (!call) throw new Error(`no module named ${name}`);
  return { call, template: call.properties.template as ArmTemplate };
}

/** Resources of `template` of this type (not those of its modules). */
export function resourcesOfType(template: ArmTemplate, type: string): ArmResource[] {
  return template.resources.filter((r) => r.type === type && !r.existing);
}

/** The one resource of this type in `template`. */
export function single(template: ArmTemplate, type: string): ArmResource {
  const found = resourcesOfType(template, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]!;
}

/** Every template reachable from `template` (itself and its modules, depth first), with the module path. */
export function templates(template: ArmTemplate, path: string[] = []): { path: string[]; template: ArmTemplate }[] {
  const nested = template.resources
    .filter((r) => r.type === 'Microsoft.Resources/deployments')
    .flatMap((r) => templates(r.properties.template as ArmTemplate, [...path, String(r.name)]));
  return [{ path, template }, ...nested];
}

/** The expression a module call passes for one of the module's parameters. */
export function passedParameter(call: ArmResource, name: string): unknown {
  const parameter = call.properties.parameters?.[name] as { value: unknown } | undefined;
  if (!parameter) throw new Error(`module ${String(call.name)} gets no parameter ${name}`);
  return parameter.value;
}

/** For `[reference(... 'Microsoft.Resources/deployments', '<module>') ...).outputs.<output>.value]`: which module output it reads. */
export function moduleOutputReference(expression: unknown): { module: string; output: string } | undefined {
  const match = /'Microsoft\.Resources\/deployments', '([^']+)'\)(?:, '[^']+')?\)\.outputs\.(\w+)\.value\]$/.exec(String(expression));
  return match ? { module: match[1]!, output: match[2]! } : undefined;
}

/** The literal a template's `[variables('x')]` or `[parameters('x')]` (by its default) stands for; a literal stays itself. */
export function literal(template: ArmTemplate, expression: unknown): unknown {
  const variable = /^\[variables\('(\w+)'\)\]$/.exec(String(expression));
  if (variable) return template.variables?.[variable[1]!];
  const parameter = /^\[parameters\('(\w+)'\)\]$/.exec(String(expression));
  if (parameter) return template.parameters?.[parameter[1]!]?.defaultValue;
  return expression;
}
