-- Up Migration
-- The consumer watchdog's state per Function App (its resource id, CONSUMER_WATCHDOG_SITE_ID), not one
-- row for the database: two apps on one database (a staging slot, a test run beside another) must not
-- continue each other's observation or hold back each other's restart. The state is disposable.
DROP TABLE consumer_watchdog;
CREATE TABLE consumer_watchdog (
  site text PRIMARY KEY,
  unconsumed_since jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_restart_at timestamptz
);

-- Down Migration
DROP TABLE consumer_watchdog;
CREATE TABLE consumer_watchdog (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  unconsumed_since jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_restart_at timestamptz
);
INSERT INTO consumer_watchdog DEFAULT VALUES;
