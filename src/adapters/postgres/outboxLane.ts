import type pg from 'pg';
import type { OutgoingEvent } from '../../domain/events.js';
import { GroupCommit, type SharedWrites } from './groupCommit.js';
import { insertOutboxRows } from './outbox.js';

/** A group-commit lane whose works collect their events, written as one outbox statement just before the batch's COMMIT. */
export type OutboxLane = GroupCommit<OutgoingEvent[]>;

const outboxRows: SharedWrites<OutgoingEvent[]> = { open: () => [], write: insertOutboxRows };

export const outboxLane = (pool: pg.Pool): OutboxLane => new GroupCommit(pool, outboxRows);
