-- Up Migration
-- What the consumer watchdog (src/domain/consumerWatchdog.ts) remembers between its timer runs, which
-- any instance may run: since when each queue has been without a consumer, and when it last restarted
-- the app. One row, locked by each run, so two runs never both ask for a restart.
CREATE TABLE consumer_watchdog (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  unconsumed_since jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_restart_at timestamptz
);
INSERT INTO consumer_watchdog DEFAULT VALUES;

-- Down Migration
DROP TABLE consumer_watchdog;
