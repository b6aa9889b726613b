-- Up Migration
-- Where an order goes (the address given at checkout, validated by the API) and where its customer's
-- notifications go (the token's email or preferred_username at checkout); either may be absent.
ALTER TABLE orders ADD COLUMN shipping_address jsonb;
ALTER TABLE orders ADD COLUMN email text;

-- Down Migration
ALTER TABLE orders DROP COLUMN email;
ALTER TABLE orders DROP COLUMN shipping_address;
