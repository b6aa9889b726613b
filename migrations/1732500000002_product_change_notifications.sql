-- Up Migration
-- Catalog changes (products added, removed, renamed, re-described, re-priced or given new stock by the
-- catalog routes, or by anyone with SQL access) notify listeners at commit, so every instance clears its
-- in-process product read cache within milliseconds. Stock-only updates (orders reserving or releasing
-- stock) do not notify: that would add a cross-process notification to every order. The app clears its
-- own cache after those; other instances see them within the cache's 1 s bound.
-- Statement-level, and Postgres folds identical notifications of one transaction into one.
CREATE FUNCTION notify_products_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('products_changed', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER products_changed
  AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF name, description, price ON products
  FOR EACH STATEMENT EXECUTE FUNCTION notify_products_changed();

-- Down Migration
DROP TRIGGER products_changed ON products;
DROP FUNCTION notify_products_changed();
