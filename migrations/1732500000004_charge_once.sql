-- Up Migration
-- An order that could not be completed in time ends CANCELLED with its reason and its stock returned.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('PENDING', 'PAID', 'PAYMENT_FAILED', 'REJECTED', 'CANCELLED'));
-- When the stranded-order resolver last published OrderCreated again for a PENDING order.
ALTER TABLE orders ADD COLUMN redriven_at timestamptz;
CREATE INDEX orders_pending_by_age ON orders (updated_at) WHERE status = 'PENDING';

-- The payment row is written PENDING before the provider is called, and its id is the provider's
-- idempotency key: a second OrderCreated finds the row and never calls the provider again.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED'));
ALTER TABLE payments ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX payments_pending_by_age ON payments (updated_at) WHERE status = 'PENDING';

-- The in-memory relay publishes a row right after its commit; the sweep takes only rows whose relay
-- window (set when the row is written, by the clock, not the transaction's start) has passed.
ALTER TABLE outbox ADD COLUMN relay_after timestamptz NOT NULL DEFAULT clock_timestamp() + interval '30 seconds';
DROP INDEX outbox_unsent;
CREATE INDEX outbox_unsent ON outbox (relay_after) WHERE sent_at IS NULL;

-- The simulated payment provider's own ledger, standing in for a PSP's records: one charge per
-- idempotency key, and how many calls asked for it (tests assert one call per order).
CREATE TABLE simulated_provider_charges (
  idempotency_key uuid PRIMARY KEY,
  order_id        uuid NOT NULL,
  amount          numeric(12, 2) NOT NULL,
  approved        boolean NOT NULL,
  reason          text,
  calls           integer NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX simulated_provider_charges_by_order ON simulated_provider_charges (order_id);

-- Down Migration
DROP TABLE simulated_provider_charges;
DROP INDEX outbox_unsent;
ALTER TABLE outbox DROP COLUMN relay_after;
CREATE INDEX outbox_unsent ON outbox (created_at) WHERE sent_at IS NULL;
DROP INDEX payments_pending_by_age;
ALTER TABLE payments DROP COLUMN updated_at;
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('SUCCEEDED', 'FAILED'));
DROP INDEX orders_pending_by_age;
ALTER TABLE orders DROP COLUMN redriven_at;
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('PENDING', 'PAID', 'PAYMENT_FAILED', 'REJECTED'));
