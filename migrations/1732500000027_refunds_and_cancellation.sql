-- Up Migration
-- A customer may cancel a PENDING or PAID order. A charged payment is refunded through the provider
-- with its own idempotency key (refund_id, chosen once, when the payment becomes REFUNDING in the
-- cancelling transaction), under the payment's lease like a charge; REFUNDED once the provider
-- answered. A PENDING order whose payment is in flight records the request and is cancelled when the
-- payment's result is applied.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'REFUNDING', 'REFUNDED'));
ALTER TABLE payments ADD COLUMN provider_reference text;
ALTER TABLE payments ADD COLUMN refund_id uuid UNIQUE;
ALTER TABLE payments ADD COLUMN refund_reference text;
ALTER TABLE payments ADD COLUMN refunded_at timestamptz;
ALTER TABLE payments ADD CONSTRAINT payments_refund_id_when_refunding CHECK ((status IN ('REFUNDING', 'REFUNDED')) = (refund_id IS NOT NULL));
CREATE INDEX payments_refunding_by_lease ON payments (lease_expires_at) WHERE status = 'REFUNDING';

ALTER TABLE orders ADD COLUMN cancel_requested_at timestamptz;

-- The simulated provider's ledger keeps refunds beside charges: a refund's key is its own, and it
-- names the charge it refunds; one refund per charge, and every repeated call is counted.
ALTER TABLE simulated_provider_charges ADD COLUMN kind text NOT NULL DEFAULT 'charge' CHECK (kind IN ('charge', 'refund'));
ALTER TABLE simulated_provider_charges ADD COLUMN refunds_key uuid UNIQUE REFERENCES simulated_provider_charges (idempotency_key);
ALTER TABLE simulated_provider_charges ADD COLUMN reference text NOT NULL DEFAULT 'sim_' || replace(gen_random_uuid()::text, '-', '');
ALTER TABLE simulated_provider_charges ADD CONSTRAINT simulated_provider_refund_names_charge CHECK (kind = 'refund' OR refunds_key IS NULL);

-- Down Migration
ALTER TABLE simulated_provider_charges DROP CONSTRAINT simulated_provider_refund_names_charge;
ALTER TABLE simulated_provider_charges DROP COLUMN reference;
ALTER TABLE simulated_provider_charges DROP COLUMN refunds_key;
ALTER TABLE simulated_provider_charges DROP COLUMN kind;
ALTER TABLE orders DROP COLUMN cancel_requested_at;
DROP INDEX payments_refunding_by_lease;
ALTER TABLE payments DROP CONSTRAINT payments_refund_id_when_refunding;
ALTER TABLE payments DROP COLUMN refunded_at;
ALTER TABLE payments DROP COLUMN refund_reference;
ALTER TABLE payments DROP COLUMN refund_id;
ALTER TABLE payments DROP COLUMN provider_reference;
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED'));
