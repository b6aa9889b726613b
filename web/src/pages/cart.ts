import { ApiError, type Cart } from '../api';
import { delay, formatPrice, h } from '../dom';
import { clearNotices, showProblem } from '../notices';
import type { Page, PageContext } from '../page';

/*
 * One checkout attempt keeps one Idempotency-Key from the first click until a definite answer, so a
 * retry after a timeout, a 503 or a reload can only ever return the same order. Changing the cart
 * starts a new attempt.
 */
const checkoutKeyItem = 'shop.checkoutKey';
const checkoutKey = () => {
  let key = sessionStorage.getItem(checkoutKeyItem);
  if (!key) {
    key = crypto.randomUUID();
    sessionStorage.setItem(checkoutKeyItem, key);
  }
  return key;
};
const newCheckoutAttempt = () => sessionStorage.removeItem(checkoutKeyItem);
/** Answers after which the same key may be sent again: nothing was decided yet. */
const undecided = (error: unknown) => error instanceof ApiError && (error.status === 0 || error.status === 503 || error.code === 'checkout_in_progress');

export const cartPage: Page = async (context) => {
  render(context, await context.api.getCart(context.signal));
};

function render(context: PageContext, cart: Cart): void {
  const { api, show, cartChanged } = context;
  cartChanged(cart);
  if (cart.items.length === 0) {
    show('Your cart', h('p', {}, 'Your cart is empty.'), h('p', {}, h('a', { href: '/' }, 'Browse the catalog')));
    return;
  }

  const change = async (work: () => Promise<Cart>) => {
    try {
      const updated = await work();
      newCheckoutAttempt();
      clearNotices();
      render(context, updated);
    } catch (error) {
      showProblem(error);
    }
  };

  const lines = cart.items.map((line) => {
    const inputId = `quantity-${line.productId}`;
    const quantity = h('input', {
      id: inputId,
      type: 'number',
      inputmode: 'numeric',
      min: 0,
      max: 99,
      value: line.quantity,
      onchange: () => {
        if (quantity.reportValidity()) void change(() => api.setQuantity(line.productId, quantity.valueAsNumber));
      },
    });
    return h(
      'li',
      { class: 'cart-line' },
      h('a', { class: 'cart-name', href: `/products/${line.productId}` }, line.name),
      h('span', { class: 'cart-unit' }, `${formatPrice(line.unitPrice)} each`),
      h('span', { class: 'cart-quantity' }, h('label', { for: inputId }, h('span', { class: 'visually-hidden' }, `Quantity of ${line.name}`), h('span', { 'aria-hidden': 'true' }, 'Qty')), quantity),
      h('span', { class: 'cart-total', 'data-testid': 'line-total' }, formatPrice(line.lineTotal)),
      h('button', { type: 'button', class: 'link-button', 'aria-label': `Remove ${line.name}`, onclick: () => void change(() => api.removeFromCart(line.productId)) }, 'Remove'),
    );
  });

  const place = h('button', { type: 'button', class: 'primary' }, 'Place order');
  let placing = false;
  place.addEventListener('click', async () => {
    // A second click (or a double click) while the first is in flight does nothing.
    if (placing) return;
    placing = true;
    place.disabled = true;
    place.textContent = 'Placing order…';
    try {
      const accepted = await placeOrder(context);
      newCheckoutAttempt();
      cartChanged({ items: [] });
      context.navigate(`/orders/${accepted.orderId}?placed=1`);
    } catch (error) {
      if (!undecided(error)) newCheckoutAttempt();
      if (!context.signal.aborted) showProblem(error);
      placing = false;
      place.disabled = false;
      place.textContent = 'Place order';
    }
  });

  const units = cart.items.reduce((sum, line) => sum + line.quantity, 0);
  show(
    'Your cart',
    h('ul', { class: 'cart-lines', 'aria-label': 'Products in your cart' }, lines),
    h('p', { class: 'cart-sum' }, `${units} ${units === 1 ? 'item' : 'items'} · Total `, h('strong', { 'data-testid': 'cart-total' }, formatPrice(cart.total))),
    h('div', { class: 'actions' }, place),
  );
}

/** Checks out with the attempt's key, waiting out a checkout of this cart that is still in progress. */
async function placeOrder(context: PageContext) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await context.api.checkout(checkoutKey());
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== 'checkout_in_progress' || attempt >= 5) throw error;
      await delay((error.retryAfterSeconds ?? 1) * 1000, context.signal);
    }
  }
}
