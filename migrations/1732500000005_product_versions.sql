-- Up Migration
-- A product's version is bumped by every change of its row: catalog edits and the stock that orders
-- reserve or release. It is the product's ETag, so an edit sent with If-Match applies only to the
-- version its author read and never writes back stock that orders took meanwhile.
-- bigint: a popular product's stock changes with every order, more often than an integer can count.
ALTER TABLE products ADD COLUMN version bigint NOT NULL DEFAULT 1;

-- Down Migration
ALTER TABLE products DROP COLUMN version;
