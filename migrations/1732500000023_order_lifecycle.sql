-- Up Migration
-- Why a CANCELLED order was cancelled: by its customer, or because it could not be completed in time.
ALTER TABLE orders ADD COLUMN cancel_reason text CHECK (cancel_reason IN ('customer', 'timeout'));
UPDATE orders SET cancel_reason = 'timeout' WHERE status = 'CANCELLED';
ALTER TABLE orders ADD CONSTRAINT orders_cancel_reason_when_cancelled CHECK ((status = 'CANCELLED') = (cancel_reason IS NOT NULL));

-- Down Migration
ALTER TABLE orders DROP CONSTRAINT orders_cancel_reason_when_cancelled;
ALTER TABLE orders DROP COLUMN cancel_reason;
