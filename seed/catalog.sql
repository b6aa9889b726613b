-- Sample catalog for local development (npm run dev). Fixed ids and slugs, so re-seeding changes nothing.
-- Images are drawn and uploaded by scripts/sampleImages.ts (npm run setup -- --seed).
INSERT INTO categories (slug, name) VALUES
  ('coffee', 'Coffee'),
  ('brewing', 'Brewing gear'),
  ('accessories', 'Accessories')
ON CONFLICT (slug) DO NOTHING;

INSERT INTO products (id, name, description, price, stock, category) VALUES
  ('01935e00-0000-7000-8000-000000000001', 'Espresso beans, 1 kg', 'Single-origin Arabica, medium roast.', 24.90, 250, 'coffee'),
  ('01935e00-0001-7000-8000-000000000002', 'Pour-over kettle', 'Gooseneck, 1 litre, stainless steel.', 49.00, 80, 'brewing'),
  ('01935e00-0002-7000-8000-000000000003', 'Ceramic dripper', 'Size 02, white porcelain.', 22.50, 120, 'brewing'),
  ('01935e00-0003-7000-8000-000000000004', 'Paper filters (100)', 'Unbleached, size 02.', 5.99, 500, 'brewing'),
  ('01935e00-0004-7000-8000-000000000005', 'Burr grinder', 'Conical steel burrs, 40 settings.', 129.00, 40, 'brewing'),
  ('01935e00-0005-7000-8000-000000000006', 'Digital scale', '0.1 g resolution with timer.', 34.95, 90, 'brewing'),
  ('01935e00-0006-7000-8000-000000000007', 'Travel mug', 'Vacuum insulated, 350 ml.', 27.00, 150, 'accessories'),
  ('01935e00-0007-7000-8000-000000000008', 'Cold brew jar', '1.5 litre glass jar with mesh filter.', 31.50, 60, 'brewing'),
  ('01935e00-0008-7000-8000-000000000009', 'Milk frother', 'Handheld, battery powered.', 14.99, 200, 'accessories'),
  ('01935e00-0009-7000-8000-00000000000a', 'Cupping spoon', 'Stainless steel, 12 cm.', 9.50, 300, 'accessories'),
  ('01935e00-000a-7000-8000-00000000000b', 'Barista apron', 'Waxed canvas, adjustable straps.', 45.00, 35, 'accessories'),
  ('01935e00-000b-7000-8000-00000000000c', 'Descaling powder', 'For kettles and espresso machines, 4 doses.', 11.25, 400, 'accessories'),
  ('01935e00-000c-7000-8000-00000000000d', 'Filter roast, 250 g', 'Light roast for pour-over; notes of citrus and tea.', 9.80, 180, 'coffee'),
  ('01935e00-000d-7000-8000-00000000000e', 'Decaf beans, 500 g', 'Swiss water process, chocolate notes.', 14.50, 120, 'coffee'),
  ('01935e00-000e-7000-8000-00000000000f', 'Espresso blend, 1 kg', 'Dark roast blend for milk drinks.', 21.00, 0, 'coffee')
ON CONFLICT (id) DO NOTHING;

-- A database seeded before categories existed: give the sample products theirs.
UPDATE products SET category = CASE
    WHEN id IN ('01935e00-0000-7000-8000-000000000001') THEN 'coffee'
    WHEN id IN ('01935e00-0006-7000-8000-000000000007', '01935e00-0008-7000-8000-000000000009',
                '01935e00-0009-7000-8000-00000000000a', '01935e00-000a-7000-8000-00000000000b',
                '01935e00-000b-7000-8000-00000000000c') THEN 'accessories'
    ELSE 'brewing' END
  WHERE category IS NULL AND id BETWEEN '01935e00-0000-7000-8000-000000000001' AND '01935e00-000b-7000-8000-00000000000c';
