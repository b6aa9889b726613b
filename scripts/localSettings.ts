import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { applyLocalSettings } from '../src/host/hostConfig.js';

export const projectRoot = join(import.meta.dirname, '..');

/**
 * Loads local.settings.json into the environment like `func start` does (variables already set win),
 * creating it from local.settings.sample.json on first use so a fresh clone runs unaided.
 */
export function loadLocalSettings(): void {
  const file = join(projectRoot, 'local.settings.json');
  if (!existsSync(file)) {
    copyFileSync(join(projectRoot, 'local.settings.sample.json'), file);
    console.error('[setup] created local.settings.json from local.settings.sample.json');
  }
  applyLocalSettings(projectRoot);
}
