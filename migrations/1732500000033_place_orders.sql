-- Up Migration
-- Places a batch of checkouts' orders in one statement (src/adapters/postgres/orderStore.ts): one
-- round trip for a group-commit batch instead of one per order. `batch` is a JSON array of orders,
-- each {id, checkoutId, userId, total, checkedOutAt, shippingAddress, email, lines: [{productId, name,
-- unitPrice, quantity}]}. One row per order, in the batch's order:
-- - placed: false when an order with its id or checkout exists (a redelivery; nothing written);
-- - fits: whether every line's quantity was in stock, and so taken (the order is inserted PENDING
--   either way; the caller moves a misfit to REJECTED);
-- - stock: the products its lines name as they were when it was decided ({id, name, stock}), so the
--   caller can say which line did not fit.
-- Every product of the batch is locked first, once and in id order, as every other statement that
-- locks several products does, so a batch cannot deadlock with them. Under READ COMMITTED each
-- statement below reads the latest committed rows, and the orders before it in the batch: stock is
-- decided order by order, as if the batch's placements ran one after another.
CREATE FUNCTION place_orders(batch jsonb)
RETURNS TABLE (placed boolean, fits boolean, stock jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  entry jsonb;
BEGIN
  PERFORM 1 FROM products p
    WHERE p.id IN (SELECT (line->>'productId')::uuid FROM jsonb_array_elements(batch) AS b(e), jsonb_array_elements(b.e->'lines') AS line)
    ORDER BY p.id FOR UPDATE;
  FOR entry IN SELECT b.e FROM jsonb_array_elements(batch) WITH ORDINALITY AS b(e, n) ORDER BY b.n LOOP
    INSERT INTO orders (id, checkout_id, user_id, status, total, checked_out_at, shipping_address, email)
    VALUES ((entry->>'id')::uuid, (entry->>'checkoutId')::uuid, entry->>'userId', 'PENDING', (entry->>'total')::numeric,
            (entry->>'checkedOutAt')::timestamptz, nullif(entry->'shippingAddress', 'null'::jsonb), entry->>'email')
    ON CONFLICT DO NOTHING;
    placed := FOUND;
    fits := NULL;
    stock := NULL;
    IF placed THEN
      INSERT INTO order_items (order_id, product_id, name, unit_price, quantity)
      SELECT (entry->>'id')::uuid, line."productId", line.name, line."unitPrice", line.quantity
        FROM jsonb_to_recordset(entry->'lines') AS line("productId" uuid, name text, "unitPrice" numeric, quantity int);
      UPDATE checkouts SET state = 'PLACED' WHERE order_id = (entry->>'id')::uuid AND state = 'ACCEPTED';
      SELECT count(p.id) = count(*) AND coalesce(bool_and(p.stock >= line.quantity), false),
             coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'name', p.name, 'stock', p.stock)) FILTER (WHERE p.id IS NOT NULL), '[]')
        INTO fits, stock
        FROM jsonb_to_recordset(entry->'lines') AS line("productId" uuid, quantity int) LEFT JOIN products p ON p.id = line."productId";
      IF fits THEN
        UPDATE products p SET stock = p.stock - line.quantity, version = p.version + 1, updated_at = now()
          FROM jsonb_to_recordset(entry->'lines') AS line("productId" uuid, quantity int)
         WHERE p.id = line."productId";
      END IF;
    END IF;
    RETURN NEXT;
  END LOOP;
END $$;

-- Down Migration
DROP FUNCTION place_orders(jsonb);
