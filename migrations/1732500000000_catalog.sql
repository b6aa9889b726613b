-- Up Migration
-- Product ids are UUIDv7 made by the app: time-ordered, so keyset pagination by id lists in creation order.
CREATE TABLE products (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
  price       numeric(12, 2) NOT NULL CHECK (price >= 0),
  stock       integer NOT NULL CHECK (stock >= 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE products;
