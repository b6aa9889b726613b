/*
 * Preloaded into the real host's Node worker (`languageWorkers__node__arguments=--require <this file>`)
 * to record the InvocationRequests the host sends, as the worker hands them to the programming model:
 * one JSON file per invocation in CAPTURE_INVOCATIONS_DIR, bytes as `{ $bytes: base64 }` (wire.ts).
 * The worker provides `@azure/functions-core` once its own start-up has run, before it loads the app.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS preload (node --require), loaded before any module system of the app */
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.CAPTURE_INVOCATIONS_DIR;
const toWire = (value) => {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toWire(item)]));
  return value;
};

if (dir) {
  mkdirSync(dir, { recursive: true });
  setImmediate(() => {
    const core = require('@azure/functions-core');
    const setProgrammingModel = core.setProgrammingModel;
    core.setProgrammingModel = (model) => {
      const getInvocationModel = model.getInvocationModel.bind(model);
      model.getInvocationModel = (coreContext) => {
        const name = coreContext.metadata?.name ?? 'unknown';
        writeFileSync(join(dir, `${name}-${Date.now()}-${coreContext.invocationId}.json`), JSON.stringify(toWire(coreContext.request), null, 2));
        return getInvocationModel(coreContext);
      };
      return setProgrammingModel(model);
    };
  });
}
