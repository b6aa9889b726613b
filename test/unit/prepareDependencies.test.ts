import { describe, expect, it, vi } from 'vitest';
import { prepareDependencies } from '../../src/app/prepareDependencies.js';
import type { Services } from '../../src/app/container.js';

const services = (check: () => Promise<void>) => ({ settings: { POSTGRES_URL: 'postgres://u:p@127.0.0.1:1/db' }, publisher: { check } }) as unknown as Pick<Services, 'settings' | 'publisher'>;

describe('dependencies prepared at app start', () => {
  it('when the migrations hang past the deadline, then start-up goes on and says so, well inside the host init limit', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const started = performance.now();
      await prepareDependencies(services(() => Promise.resolve()), { deadlineMs: 50, migrate: () => new Promise<string[]>(() => undefined) });
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(stderr.mock.calls.map(([line]) => String(line)).join('')).toContain('dependencies not prepared within the start-up deadline');
    } finally {
      stderr.mockRestore();
    }
  });

  it('when both steps finish in time, then nothing is reported late', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await prepareDependencies(services(() => Promise.resolve()), { deadlineMs: 1_000, migrate: () => Promise.resolve([]) });
      expect(stderr.mock.calls.map(([line]) => String(line)).join('')).not.toContain('start-up deadline');
    } finally {
      stderr.mockRestore();
    }
  });
});
