import { describe, expect, it } from 'vitest';
import { workerProcessCount } from '../../src/host/workerProcesses.js';

describe('workerProcessCount (FUNCTIONS_WORKER_PROCESS_COUNT)', () => {
  it.each([
    [undefined, 1],
    ['', 1],
    ['1', 1],
    ['10', 10],
    [' 3 ', 3],
  ])('when the setting is %j, then the host runs %i worker processes', (value, count) => {
    expect(workerProcessCount({ FUNCTIONS_WORKER_PROCESS_COUNT: value })).toBe(count);
  });

  it('when the setting is absent, then the host runs 1 worker process', () => {
    expect(workerProcessCount({})).toBe(1);
  });

  it.each(['11', '2.5', '0', '-1', 'abc'])('when the setting is %j, then start-up fails naming the setting', (value) => {
    expect(() => workerProcessCount({ FUNCTIONS_WORKER_PROCESS_COUNT: value })).toThrow(/FUNCTIONS_WORKER_PROCESS_COUNT must be a whole number from 1 to 10/);
  });
});
