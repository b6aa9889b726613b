-- Up Migration
-- Categories: a slug (the URL's and the API's key) and a display name.
CREATE TABLE categories (
  slug       text PRIMARY KEY CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND char_length(slug) <= 60),
  name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A product is in at most one category. Images are an ordered list of {url, alt}: always read and
-- written with their product, so a column, not a table.
ALTER TABLE products
  ADD COLUMN category text REFERENCES categories (slug),
  ADD COLUMN images jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(images) = 'array'),
  -- Full-text search over name (weight A) and description (B), with English stemming; generated, so
  -- every writer (the API, seeds, SQL by hand) keeps it right.
  ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', name), 'A') || setweight(to_tsvector('english', description), 'B')
  ) STORED;

CREATE INDEX products_search ON products USING gin (search);
-- One index per keyset order, with and without a category: `newest` is id descending (ids are UUIDv7).
CREATE INDEX products_category_id ON products (category, id);
CREATE INDEX products_price_id ON products (price, id);
CREATE INDEX products_category_price_id ON products (category, price, id);
CREATE INDEX products_name_id ON products (name, id);
CREATE INDEX products_category_name_id ON products (category, name, id);

-- The read caches hold categories and images too: their changes notify like the other catalog columns.
DROP TRIGGER products_changed ON products;
CREATE TRIGGER products_changed
  AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF name, description, price, category, images ON products
  FOR EACH STATEMENT EXECUTE FUNCTION notify_products_changed();
CREATE TRIGGER categories_changed
  AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE ON categories
  FOR EACH STATEMENT EXECUTE FUNCTION notify_products_changed();

-- Down Migration
DROP TRIGGER categories_changed ON categories;
DROP TRIGGER products_changed ON products;
CREATE TRIGGER products_changed
  AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF name, description, price ON products
  FOR EACH STATEMENT EXECUTE FUNCTION notify_products_changed();
ALTER TABLE products DROP COLUMN search, DROP COLUMN images, DROP COLUMN category;
DROP TABLE categories;
