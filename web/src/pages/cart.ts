import { ApiError, type Cart } from '../api';
import { formatPrice, h, shortId } from '../dom';
import { clearNotices, describeError, showNotice, showProblem } from '../notices';
import type { Page, PageContext } from '../page';
import { newCheckoutAttempt } from './checkout';
import { onOrderPlacedElsewhere } from './otherTabs';

export const cartPage: Page = async (context) => {
  render(context, await context.api.getCart(context.signal));
  // Another tab ordered this cart: show what is left of it, not the lines that were just ordered.
  onOrderPlacedElsewhere(context.signal, (placed) => {
    void context.api.getCart(context.signal).then((cart) => {
      render(context, cart);
      showNotice(`Your cart was ordered in another tab or window: order ${shortId(placed.orderId)}.`, h('a', { href: `/orders/${placed.orderId}` }, 'View the order'));
    }, () => undefined);
  });
};

function render(context: PageContext, cart: Cart): void {
  const { api, show, cartChanged } = context;
  cartChanged(cart);
  if (cart.items.length === 0) {
    show('Your cart', h('p', {}, 'Your cart is empty.'), h('p', {}, h('a', { href: '/' }, 'Browse the catalog')));
    return;
  }

  const change = async (work: () => Promise<Cart>, lineStatus: HTMLElement, quantity: HTMLInputElement, held: number) => {
    try {
      const updated = await work();
      newCheckoutAttempt();
      clearNotices();
      render(context, updated);
    } catch (error) {
      // Too many for the stock is said at the line it is about; anything else at the top.
      if (error instanceof ApiError && error.code === 'insufficient_stock') {
        const { title, detail } = describeError(error);
        lineStatus.replaceChildren(h('strong', {}, `${title}. `), detail);
        quantity.value = String(held); // the cart was not changed: show what it holds
        quantity.focus();
      } else showProblem(error);
    }
  };

  const lines = cart.items.map((line) => {
    const inputId = `quantity-${line.productId}`;
    const statusId = `status-${line.productId}`;
    const lineStatus = h('p', { id: statusId, class: 'cart-line-status', 'aria-live': 'polite' });
    const quantity = h('input', {
      id: inputId,
      type: 'number',
      inputmode: 'numeric',
      min: 0,
      max: 99,
      value: line.quantity,
      'aria-describedby': statusId,
      onchange: () => {
        if (quantity.reportValidity()) void change(() => api.setQuantity(line.productId, quantity.valueAsNumber), lineStatus, quantity, line.quantity);
      },
    });
    return h(
      'li',
      { class: 'cart-line' },
      h('a', { class: 'cart-name', href: `/products/${line.productId}` }, line.name),
      h('span', { class: 'cart-unit' }, `${formatPrice(line.unitPrice)} each`),
      h('span', { class: 'cart-quantity' }, h('label', { for: inputId }, h('span', { class: 'visually-hidden' }, `Quantity of ${line.name}`), h('span', { 'aria-hidden': 'true' }, 'Qty')), quantity),
      h('span', { class: 'cart-total', 'data-testid': 'line-total' }, formatPrice(line.lineTotal)),
      h('button', { type: 'button', class: 'link-button', 'aria-label': `Remove ${line.name}`, onclick: () => void change(() => api.removeFromCart(line.productId), lineStatus, quantity, line.quantity) }, 'Remove'),
      lineStatus,
    );
  });

  const units = cart.items.reduce((sum, line) => sum + line.quantity, 0);
  show(
    'Your cart',
    h('ul', { class: 'cart-lines', 'aria-label': 'Products in your cart' }, lines),
    h('p', { class: 'cart-sum' }, `${units} ${units === 1 ? 'item' : 'items'} · Total `, h('strong', { 'data-testid': 'cart-total' }, formatPrice(cart.total))),
    h('div', { class: 'actions' }, h('a', { class: 'button primary', href: '/checkout' }, 'Check out')),
  );
}
