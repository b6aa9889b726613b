import type { RpcInvocationRequest, RpcTypedData } from '../../src/host/coreTypes.js';

export interface HarnessInput {
  appRoot: string;
  invocations: { functionName: string; request: Omit<RpcInvocationRequest, 'invocationId'> }[];
}

export interface InvocationResult {
  functionName: string;
  invocationId?: string;
  returnValue?: RpcTypedData;
  error?: string;
}

export interface HarnessOutput {
  capabilities: Record<string, string>;
  results: InvocationResult[];
}

/** JSON with binary values kept: bytes travel as `{ $bytes: base64 }`. */
export function toWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toWire(item)]));
  return value;
}

export function fromWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === 'object') {
    const bytes = (value as { $bytes?: unknown }).$bytes;
    if (typeof bytes === 'string') return Buffer.from(bytes, 'base64');
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fromWire(item)]));
  }
  return value;
}
