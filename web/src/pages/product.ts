import { ApiError, type Cart, type Product } from '../api';
import { formatPrice, h } from '../dom';
import { clearNotices, describeError, showNotice, showProblem } from '../notices';
import type { Page, PageContext } from '../page';
import { picture, placeholder, stockLine } from './productParts';

/*
 * A signed-out visitor's "Add to cart" leaves to sign in; the add is remembered in this tab and done
 * when they come back to the product, so the click is not lost.
 */
const pendingAddItem = 'shop.pendingAdd';
type PendingAdd = { productId: string; quantity: number };

export const productPage: Page = async (context) => {
  const { api, params, signal, signedIn } = context;
  const [{ product }, cart] = await Promise.all([
    api.getProduct(params.id!, signal),
    // Only to say how many are in the cart already; the page works without it.
    signedIn ? api.getCart(signal).catch(() => undefined) : Promise.resolve(undefined),
  ]);
  const addForm = render(context, product, cart);
  if (signedIn && addForm) completePendingAdd(context, product, addForm);
};

const inCartOf = (cart: Cart | undefined, productId: string) => cart?.items.find((line) => line.productId === productId)?.quantity ?? 0;

/** The gallery: the chosen picture large, every picture as a button below it; a placeholder when there is none. */
function gallery(product: Product): HTMLElement {
  const images = product.images ?? [];
  if (images.length === 0) return h('div', { class: 'gallery' }, placeholder(`No picture of ${product.name} yet`));
  const stage = h('div', { class: 'gallery-stage' }, picture(images[0]!, { eager: true }));
  const thumbs = images.map((image, index) =>
    h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: 'thumb',
          'aria-pressed': index === 0 ? 'true' : 'false',
          'aria-label': `Show picture ${index + 1} of ${images.length}${image.alt ? `: ${image.alt}` : ''}`,
          onclick: (event: Event) => {
            stage.replaceChildren(picture(image, { eager: true }));
            for (const button of thumbList.querySelectorAll('button')) button.setAttribute('aria-pressed', String(button === event.currentTarget));
          },
        },
        // The button's label says what it shows; the thumbnail itself is decoration.
        h('img', { src: image.url, alt: '', loading: 'lazy', width: 64, height: 64 }),
      ),
    ),
  );
  const thumbList = h('ul', { class: 'thumbs', 'aria-label': 'Pictures' }, thumbs);
  return h('div', { class: 'gallery' }, stage, images.length > 1 ? thumbList : null);
}

/** Shows the product; answers its add-to-cart form, if it can be ordered. */
function render(context: PageContext, product: Product, cart: Cart | undefined): AddForm | undefined {
  const { api, show, cartChanged, canEditCatalog, signedIn } = context;
  let inCart = inCartOf(cart, product.id);
  let stock = product.stock;
  const room = () => Math.max(0, Math.min(99, stock - inCart));

  const quantity = h('input', { id: 'quantity', type: 'number', inputmode: 'numeric', min: 1, max: Math.max(1, room()), value: 1, required: true, 'aria-describedby': 'add-status' });
  const add = h('button', { type: 'submit', class: 'primary' }, 'Add to cart');
  // Said at the product, next to the quantity: how many are in the cart, and why an add was refused.
  const status = h('p', { id: 'add-status', class: 'add-status', 'aria-live': 'polite' });
  const stockBox = h('div', {}, stockLine({ stock }));
  const describeCart = () => status.replaceChildren(inCart > 0 ? `You have ${inCart} in your cart.` : '');
  describeCart();

  const form = h(
    'form',
    {
      class: 'add-to-cart',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        if (!signedIn) {
          sessionStorage.setItem(pendingAddItem, JSON.stringify({ productId: product.id, quantity: quantity.valueAsNumber || 1 } satisfies PendingAdd));
          await context.signIn().catch(() => undefined);
          return;
        }
        if (!quantity.reportValidity()) return;
        add.disabled = true;
        try {
          const count = quantity.valueAsNumber;
          const updated = await api.addToCart(product.id, count);
          cartChanged(updated);
          inCart = inCartOf(updated, product.id);
          describeCart();
          status.classList.remove('add-status-error');
          showNotice(`Added ${count} × ${product.name} to your cart.`, h('a', { href: '/cart' }, 'View cart'));
        } catch (error) {
          if (error instanceof ApiError && error.code === 'insufficient_stock') refusedForStock(error);
          else showProblem(error);
        } finally {
          add.disabled = false;
        }
      },
    },
    h('label', { for: 'quantity' }, 'Quantity'),
    quantity,
    add,
  );

  /** The API's stock is newer than the page's: show it here, and let the shopper pick a quantity that fits. */
  function refusedForStock(error: ApiError) {
    clearNotices();
    const available = typeof error.extensions.available === 'number' ? error.extensions.available : undefined;
    if (available !== undefined) stock = available;
    stockBox.replaceChildren(stockLine({ stock }));
    quantity.max = String(Math.max(1, room()));
    const canAdd = room();
    const { title } = describeError(error);
    status.classList.add('add-status-error');
    status.replaceChildren(
      h('strong', {}, `${title}. `),
      available === undefined
        ? 'Choose fewer units.'
        : available === 0
          ? 'This product has just sold out.'
          : `Only ${available} in stock${inCart > 0 ? ` and you have ${inCart} in your cart` : ''}: ${canAdd > 0 ? `you can add up to ${canAdd} more.` : 'you cannot add more.'}`,
    );
    if (canAdd > 0) quantity.value = String(Math.min(quantity.valueAsNumber, canAdd));
    quantity.focus();
  }

  const buy = stock > 0 ? h('div', {}, form, status) : h('p', {}, 'This product cannot be ordered right now.');
  show(
    product.name,
    h(
      'div',
      { class: 'product' },
      gallery(product),
      h(
        'div',
        { class: 'product-info' },
        h('p', { class: 'price price-large' }, formatPrice(product.price)),
        stockBox,
        product.description ? h('p', { class: 'description' }, product.description) : null,
        buy,
        h('p', {}, h('a', { href: '/' }, 'Back to the catalog'), canEditCatalog ? ' · ' : '', canEditCatalog ? h('a', { href: `/admin/products/${product.id}` }, 'Edit this product') : null),
      ),
    ),
  );
  return stock > 0 ? { form, quantity } : undefined;
}

interface AddForm {
  form: HTMLFormElement;
  quantity: HTMLInputElement;
}

/** Finishes the "Add to cart" a signed-out visitor chose before signing in, on the product it was for. */
function completePendingAdd(context: PageContext, product: Product, addForm: AddForm): void {
  const raw = sessionStorage.getItem(pendingAddItem);
  if (!raw) return;
  sessionStorage.removeItem(pendingAddItem);
  let pending: PendingAdd;
  try {
    pending = JSON.parse(raw) as PendingAdd;
  } catch {
    return;
  }
  if (pending.productId !== product.id || context.signal.aborted) return;
  addForm.quantity.value = String(pending.quantity);
  addForm.form.requestSubmit();
}
