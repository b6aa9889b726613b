import type { Product, ProductImage } from '../api';
import { h } from '../dom';

/** At or below this many units the shopper is told stock is low. */
const lowStock = 5;

export function stockLine(product: Pick<Product, 'stock'>): HTMLElement {
  const { stock } = product;
  if (stock <= 0) return h('p', { class: 'stock stock-out' }, 'Out of stock');
  return h('p', { class: stock <= lowStock ? 'stock stock-low' : 'stock' }, stock <= lowStock ? `Only ${stock} left` : `${stock} in stock`);
}

/** A grey box with a camera-less label, where a product has no picture (or its picture cannot be loaded). */
export function placeholder(label: string | undefined): HTMLElement {
  return label === undefined
    ? h('div', { class: 'picture placeholder', 'aria-hidden': 'true' })
    : h('div', { class: 'picture placeholder', role: 'img', 'aria-label': label }, h('span', { 'aria-hidden': 'true' }, 'No picture yet'));
}

/**
 * A product picture with its alt text; if it fails to load it gives way to the placeholder, so a
 * missing blob never shows a broken-image icon.
 */
export function picture(image: ProductImage, options: { eager?: boolean; fallbackLabel?: string } = {}): HTMLElement {
  const img = h('img', { class: 'picture', src: image.url, alt: image.alt, loading: options.eager ? 'eager' : 'lazy', decoding: 'async', width: 480, height: 480 });
  img.addEventListener('error', () => img.replaceWith(placeholder(options.fallbackLabel ?? (image.alt || undefined))), { once: true });
  return img;
}
