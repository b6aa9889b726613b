-- Up Migration
-- An order is keyed by the orderId chosen at checkout, so a redelivered CartCheckedOut is a no-op.
CREATE TABLE orders (
  id             uuid PRIMARY KEY,
  checkout_id    uuid NOT NULL UNIQUE,
  user_id        text NOT NULL,
  status         text NOT NULL CHECK (status IN ('PENDING', 'PAID', 'PAYMENT_FAILED', 'REJECTED')),
  total          numeric(12, 2) NOT NULL CHECK (total >= 0),
  reason         text,
  checked_out_at timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Order ids are UUIDv7 too: "newest first" for a user is a descending index scan.
CREATE INDEX orders_user_newest ON orders (user_id, id DESC);

-- Lines are a snapshot of the cart at checkout: no foreign key to products, which may change or go.
CREATE TABLE order_items (
  order_id   uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  product_id uuid NOT NULL,
  name       text NOT NULL,
  unit_price numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
  quantity   integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
  PRIMARY KEY (order_id, product_id)
);

-- One payment per order: the unique key makes a redelivered OrderCreated a no-op.
CREATE TABLE payments (
  id         uuid PRIMARY KEY,
  order_id   uuid NOT NULL UNIQUE REFERENCES orders (id),
  status     text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
  amount     numeric(12, 2) NOT NULL CHECK (amount >= 0),
  reason     text,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: events are written with the state change that causes them and published
-- after commit by the relay; the timer sweep publishes what a crash left behind.
CREATE TABLE outbox (
  id          uuid PRIMARY KEY,
  type        text NOT NULL,
  payload     jsonb NOT NULL,
  traceparent text,
  tracestate  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  sent_at     timestamptz,
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text
);
CREATE INDEX outbox_unsent ON outbox (created_at) WHERE sent_at IS NULL;

-- Down Migration
DROP TABLE outbox;
DROP TABLE payments;
DROP TABLE order_items;
DROP TABLE orders;
