-- Up Migration
-- The sent marker of each customer notification (one per order and event type): written in the
-- transaction that holds the key's lock while the email is sent, so a redelivered event finds it and
-- sends nothing. Kept as the record of what was sent.
CREATE TABLE notifications_sent (
  notification_key text PRIMARY KEY,
  sent_at          timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE notifications_sent;
