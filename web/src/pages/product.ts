import { formatPrice, h } from '../dom';
import { showNotice, showProblem } from '../notices';
import type { Page } from '../page';

export const productPage: Page = async ({ api, params, signal, show, cartChanged, canEditCatalog }) => {
  const { product } = await api.getProduct(params.id!, signal);
  const quantity = h('input', { id: 'quantity', type: 'number', inputmode: 'numeric', min: 1, max: 99, value: 1, required: true });
  const add = h('button', { type: 'submit', class: 'primary' }, 'Add to cart');
  const form = h(
    'form',
    {
      class: 'add-to-cart',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        if (!quantity.reportValidity()) return;
        add.disabled = true;
        try {
          const count = quantity.valueAsNumber;
          cartChanged(await api.addToCart(product.id, count));
          showNotice(`Added ${count} × ${product.name} to your cart.`, h('a', { href: '/cart' }, 'View cart'));
        } catch (error) {
          showProblem(error);
        } finally {
          add.disabled = false;
        }
      },
    },
    h('label', { for: 'quantity' }, 'Quantity'),
    quantity,
    add,
  );
  show(
    product.name,
    h('p', { class: 'price price-large' }, formatPrice(product.price)),
    h('p', { class: product.stock > 0 ? 'stock' : 'stock stock-out' }, product.stock > 0 ? `${product.stock} in stock` : 'Out of stock'),
    product.description ? h('p', { class: 'description' }, product.description) : null,
    product.stock > 0 ? form : h('p', {}, 'This product cannot be ordered right now.'),
    h('p', {}, h('a', { href: '/' }, 'Back to the catalog'), canEditCatalog ? ' · ' : '', canEditCatalog ? h('a', { href: `/admin/products/${product.id}` }, 'Edit this product') : null),
  );
};
