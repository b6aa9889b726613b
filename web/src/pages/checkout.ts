import { ApiError, type Cart, type CheckoutAccepted, type ShippingAddress } from '../api';
import { delay, formatPrice, h } from '../dom';
import { showNotice, showProblem } from '../notices';
import type { Page, PageContext } from '../page';
import { announcePlacedOrder, onOrderPlacedElsewhere, placedOrderSince } from './otherTabs';

/*
 * One checkout attempt keeps one Idempotency-Key, with the address it was sent with, from the first
 * click until a definite answer, so a retry after a timeout, a 503 or a reload can only ever return
 * the same order. The API refuses a key reused with another body, so another address starts a new
 * attempt; so does any change to the cart.
 */
const attemptItem = 'shop.checkoutAttempt';
interface CheckoutAttempt {
  key: string;
  address: ShippingAddress;
  startedAt: number;
  /** Set while "Place order" waits for its answer: a reload then finishes this checkout. */
  placing: boolean;
}
/** A reload this long after "Place order" no longer resumes it (the shopper has moved on). */
const resumeWithinMs = 2 * 60_000;

function readAttempt(): CheckoutAttempt | undefined {
  try {
    return (JSON.parse(sessionStorage.getItem(attemptItem) ?? 'null') as CheckoutAttempt | null) ?? undefined;
  } catch {
    return undefined;
  }
}
const saveAttempt = (attempt: CheckoutAttempt) => sessionStorage.setItem(attemptItem, JSON.stringify(attempt));
export const newCheckoutAttempt = () => sessionStorage.removeItem(attemptItem);
const sameAddress = (a: ShippingAddress, b: ShippingAddress) => JSON.stringify(a) === JSON.stringify(b);

/** Answers after which the same key may be sent again: nothing was decided yet. */
const undecided = (error: unknown) => error instanceof ApiError && (error.status === 0 || error.status === 503 || error.code === 'checkout_in_progress');

// ISO 3166-1 alpha-2 (Debian's iso-codes), named in the shopper's language by the browser.
const countryCodes =
  'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'.split(
    ' ',
  );
const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });
const countries = countryCodes.map((code) => ({ code, name: regionNames.of(code) ?? code })).sort((a, b) => a.name.localeCompare(b.name));
export const countryName = (code: string) => regionNames.of(code) ?? code;

/** What the page knew before "Place order", to tell which order another tab placed meanwhile. */
interface Before {
  loadedAt: number;
  /** The newest order's id when the page loaded; `undefined` when it could not be read. */
  newestOrder: { id: string | undefined } | undefined;
}

export const checkoutPage: Page = async (context) => {
  const { api, signal } = context;
  const loadedAt = Date.now();
  const [cart, newest] = await Promise.all([
    api.getCart(signal),
    api.listOrders(undefined, signal, 1).then(
      (page) => page.items[0],
      () => null,
    ),
  ]);
  const before: Before = { loadedAt, newestOrder: newest === null ? undefined : { id: newest?.id } };

  // Reloaded while "Place order" was waiting: finish that checkout (same key: it cannot order twice).
  const attempt = readAttempt();
  if (attempt?.placing && Date.now() - attempt.startedAt < resumeWithinMs) {
    context.show('Placing your order', h('p', { role: 'status' }, 'Finishing the order you placed…'));
    try {
      return await place(context, attempt.address, { ...before, loadedAt: attempt.startedAt });
    } catch (error) {
      render(context, await api.getCart(signal), before, attempt.address);
      showProblem(error);
      return;
    }
  }
  // The answer to "Place order" came just as the page reloaded: the cart is empty because that order was placed.
  const justPlaced = cart.items.length === 0 ? placedOrderSince(Date.now() - resumeWithinMs) : undefined;
  if (justPlaced) {
    context.navigate(`/orders/${justPlaced.orderId}?placed=1`);
    showNotice('Your order was placed: this is that order.');
    return;
  }
  render(context, cart, before, attempt?.address ?? newest?.shippingAddress ?? undefined);
  onOrderPlacedElsewhere(signal, (placed) => {
    context.navigate(`/orders/${placed.orderId}?placed=1`);
    showNotice('Your cart was ordered in another tab or window: this is that order.');
  });
};

/**
 * Checks out with the attempt's key and goes to the order. When the cart is found empty because
 * another tab (or device) ordered it since the page loaded, it goes to that order instead.
 */
async function place(context: PageContext, address: ShippingAddress, before: Before): Promise<void> {
  const previous = readAttempt();
  const attempt: CheckoutAttempt = previous && sameAddress(previous.address, address) ? { ...previous, placing: true } : { key: crypto.randomUUID(), address, startedAt: Date.now(), placing: true };
  saveAttempt(attempt);
  let accepted: CheckoutAccepted;
  try {
    accepted = await checkoutWithRetries(context, attempt);
  } catch (error) {
    if (undecided(error)) saveAttempt({ ...attempt, placing: false });
    else newCheckoutAttempt();
    if (error instanceof ApiError && error.code === 'cart_empty' && !context.signal.aborted) {
      const orderId = await orderPlacedMeanwhile(context, before);
      if (orderId) {
        context.navigate(`/orders/${orderId}?placed=1`);
        showNotice('This cart had already been ordered in another tab or window: this is that order.');
        return;
      }
    }
    throw error;
  }
  newCheckoutAttempt();
  announcePlacedOrder(accepted.orderId);
  context.cartChanged({ items: [] });
  context.navigate(`/orders/${accepted.orderId}?placed=1`);
}

/** Waits out a checkout of this cart that is still in progress (it answers with the same order). */
async function checkoutWithRetries(context: PageContext, attempt: CheckoutAttempt): Promise<CheckoutAccepted> {
  for (let tries = 1; ; tries++) {
    try {
      return await context.api.checkout(attempt.key, attempt.address);
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== 'checkout_in_progress' || tries >= 5) throw error;
      await delay((error.retryAfterSeconds ?? 1) * 1000, context.signal);
    }
  }
}

/**
 * The order that emptied the cart since the page loaded: one this browser placed in another tab, else
 * a newer order than the page saw (placed on another device; the order appears a moment after its
 * checkout, hence the few tries).
 */
async function orderPlacedMeanwhile(context: PageContext, before: Before): Promise<string | undefined> {
  const local = placedOrderSince(before.loadedAt);
  if (local) return local.orderId;
  if (!before.newestOrder) return undefined;
  for (let tries = 0; tries < 4; tries++) {
    const newest = (await context.api.listOrders(undefined, context.signal, 1).catch(() => undefined))?.items[0];
    if (newest && newest.id !== before.newestOrder.id) return newest.id;
    await delay(750, context.signal);
  }
  return undefined;
}

function field(id: string, label: string, input: HTMLInputElement | HTMLSelectElement, hint?: string): HTMLElement {
  if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { id: `${id}-hint`, class: 'hint' }, hint) : null);
}

function render(context: PageContext, cart: Cart, before: Before, address: ShippingAddress | undefined): void {
  const { show, cartChanged } = context;
  cartChanged(cart);
  if (cart.items.length === 0) {
    show('Checkout', h('p', {}, 'Your cart is empty: there is nothing to order.'), h('p', {}, h('a', { href: '/' }, 'Browse the catalog')));
    return;
  }

  // Required text must hold more than spaces: the API trims and refuses an empty field.
  const text = (id: string, autocomplete: string, value: string | undefined, options: { required?: boolean; maxlength: number; pattern?: string }) =>
    h('input', {
      id,
      name: id,
      type: 'text',
      autocomplete,
      required: options.required ?? true,
      maxlength: options.maxlength,
      pattern: options.pattern ?? (options.required === false ? undefined : '.*\\S.*'),
      value: value ?? '',
    });
  const name = text('ship-name', 'shipping name', address?.name, { maxlength: 200 });
  const line1 = text('ship-line1', 'shipping address-line1', address?.line1, { maxlength: 200 });
  const line2 = text('ship-line2', 'shipping address-line2', address?.line2, { required: false, maxlength: 200 });
  const city = text('ship-city', 'shipping address-level2', address?.city, { maxlength: 100 });
  const postalCode = text('ship-postal-code', 'shipping postal-code', address?.postalCode, { maxlength: 20, pattern: '\\s*[\\p{L}\\p{N}][\\p{L}\\p{N} \\-]*' });
  const country = h(
    'select',
    { id: 'ship-country', name: 'ship-country', autocomplete: 'shipping country', required: true },
    h('option', { value: '' }, 'Choose a country'),
    countries.map((c) => h('option', { value: c.code, selected: c.code === address?.country }, c.name)),
  );

  const placeButton = h('button', { type: 'submit', class: 'primary' }, 'Place order');
  let placing = false;
  const addressOf = (): ShippingAddress => ({
    name: name.value.trim(),
    line1: line1.value.trim(),
    ...(line2.value.trim() ? { line2: line2.value.trim() } : {}),
    city: city.value.trim(),
    postalCode: postalCode.value.trim(),
    country: country.value,
  });
  const form = h(
    'form',
    {
      class: 'checkout-form',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        // A second click (or a double click) while the first is in flight does nothing.
        if (placing || !form.reportValidity()) return;
        placing = true;
        placeButton.disabled = true;
        placeButton.textContent = 'Placing order…';
        try {
          await place(context, addressOf(), before);
        } catch (error) {
          if (context.signal.aborted) return;
          if (error instanceof ApiError && error.code === 'cart_empty') {
            // Emptied elsewhere, and no order to show: the lines on this page are gone, so is its button.
            render(context, await context.api.getCart(context.signal).catch(() => ({ items: [], total: 0 })), before, addressOf());
          }
          showProblem(error);
          placing = false;
          placeButton.disabled = false;
          placeButton.textContent = 'Place order';
        }
      },
    },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Shipping address'),
      field('ship-name', 'Full name', name),
      field('ship-line1', 'Address', line1, 'Street and house number.'),
      field('ship-line2', 'Address line 2 (optional)', line2),
      h('div', { class: 'field-row' }, field('ship-postal-code', 'Postal code', postalCode), field('ship-city', 'City', city)),
      field('ship-country', 'Country', country),
    ),
    h('div', { class: 'actions' }, placeButton, h('a', { href: '/cart' }, 'Back to the cart')),
  );

  show(
    'Checkout',
    h('h2', {}, 'Your order'),
    h(
      'ul',
      { class: 'order-lines', 'aria-label': 'Products to order' },
      cart.items.map((line) =>
        h('li', {}, h('span', {}, `${line.quantity} × ${line.name}`), h('span', { class: 'muted' }, `${formatPrice(line.unitPrice)} each`), h('span', { class: 'line-total' }, formatPrice(line.lineTotal))),
      ),
    ),
    h('p', { class: 'cart-sum' }, 'Total ', h('strong', { 'data-testid': 'checkout-total' }, formatPrice(cart.total))),
    form,
  );
}

