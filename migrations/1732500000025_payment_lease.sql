-- Up Migration
-- A PENDING payment is leased to the attempt calling the provider for it (the delivery that started
-- it, or whoever took it over), until just past that call's deadline. Another delivery or the
-- resolver may take it over only once the lease has expired: no call made under it can still be live.
-- A row written without a lease (before this migration) is free to take over at once.
ALTER TABLE payments ADD COLUMN lease_holder uuid;
ALTER TABLE payments ADD COLUMN lease_expires_at timestamptz NOT NULL DEFAULT clock_timestamp();
CREATE INDEX payments_pending_by_lease ON payments (lease_expires_at) WHERE status = 'PENDING';

-- Down Migration
DROP INDEX payments_pending_by_lease;
ALTER TABLE payments DROP COLUMN lease_expires_at;
ALTER TABLE payments DROP COLUMN lease_holder;
