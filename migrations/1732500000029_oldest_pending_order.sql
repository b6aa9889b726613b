-- Up Migration
-- The oldest PENDING order's checkout time, for the shop.orders.oldest_pending_age_seconds gauge:
-- one index probe, however many orders are PENDING.
CREATE INDEX orders_pending_by_checkout ON orders (checked_out_at) WHERE status = 'PENDING';

-- Down Migration
DROP INDEX orders_pending_by_checkout;
