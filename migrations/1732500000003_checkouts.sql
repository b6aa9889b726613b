-- Up Migration
-- A checkout the API accepted: the cart's claim made durable. Its CartCheckedOut goes to the outbox in
-- the same transaction, so a 202 is never answered for a checkout the database does not hold. The key
-- is the orderId the claim chose: every request that joins the claim, and every retry, lands on this
-- row. A claim given up as stale is recorded ABANDONED under the same key, so a late request that
-- still holds it cannot accept it afterwards. ACCEPTED becomes PLACED when its order row is written,
-- so the stranded-order resolver only ever scans checkouts still waiting for their order.
CREATE TABLE checkouts (
  order_id     uuid PRIMARY KEY,
  checkout_id  uuid NOT NULL UNIQUE,
  user_id      text NOT NULL,
  state        text NOT NULL CHECK (state IN ('ACCEPTED', 'PLACED', 'ABANDONED')),
  event        jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- When the stranded-order resolver last published the event again.
  redriven_at  timestamptz,
  CHECK ((state = 'ABANDONED') = (event IS NULL))
);
CREATE INDEX checkouts_accepted_by_age ON checkouts (created_at) WHERE state = 'ACCEPTED';

-- Idempotency-Key records: which checkout a user's key got, and the fingerprint of the body it came
-- with. Several keys may name one checkout (tabs joining one claim). Kept 24 h.
CREATE TABLE checkout_requests (
  user_id     text NOT NULL,
  key_hash    text NOT NULL,
  fingerprint text NOT NULL,
  order_id    uuid NOT NULL REFERENCES checkouts (order_id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key_hash)
);
CREATE INDEX checkout_requests_by_age ON checkout_requests (created_at);

-- Down Migration
DROP TABLE checkout_requests;
DROP TABLE checkouts;
