import { ApiError } from './api';
import { h } from './dom';

const area = () => document.getElementById('notice')!;

export function clearNotices(): void {
  area().replaceChildren();
}

/** A confirmation, announced politely; `extra` may hold a link such as "View cart". */
export function showNotice(text: string, extra?: Node): void {
  area().replaceChildren(h('div', { class: 'notice notice-ok' }, h('p', {}, text, extra ? ' ' : '', extra)));
}

/** What the error is about, where the same code means different things to a shopper. */
export type ErrorSubject = 'product' | 'order' | 'page';

export interface ShopperMessage {
  title: string;
  detail: string;
}

const units = (n: number) => `${n} ${n === 1 ? 'unit' : 'units'}`;

/**
 * The words a shopper sees for an error: chosen by the problem's stable `code`, never the API's own
 * title or detail, which are written for developers (they name codes, ids and limits).
 */
export function describeError(error: unknown, subject: ErrorSubject = 'page'): ShopperMessage {
  if (!(error instanceof ApiError)) return { title: 'Something went wrong', detail: 'Please reload the page and try again.' };
  if (error.status === 0) return { title: 'The shop cannot be reached', detail: 'Check your connection and try again. Nothing was changed.' };
  if (error.status === 503) {
    const when = error.retryAfterSeconds ? ` in ${error.retryAfterSeconds} seconds` : ' in a moment';
    return { title: 'The shop is busy', detail: `Your cart is kept; please try again${when}.` };
  }
  switch (error.code) {
    case 'not_found':
      if (subject === 'product') return { title: 'This product is not in the shop', detail: 'It may have been removed, or the link is incomplete.' };
      if (subject === 'order') return { title: 'We cannot find this order', detail: 'It is not one of your orders, or the link is incomplete.' };
      return { title: 'We cannot find that', detail: 'It may have been removed, or the link is incomplete.' };
    case 'unauthorized':
      return { title: 'Please sign in again', detail: 'Your sign-in has ended.' };
    case 'forbidden':
    case 'user_token_required':
      return { title: 'Not allowed', detail: 'Your account may not do this. Sign in with another account if you have one.' };
    case 'insufficient_stock': {
      const available = error.extensions.available;
      return typeof available === 'number'
        ? { title: 'Not enough in stock', detail: available > 0 ? `Only ${units(available)} can be in your cart right now.` : 'This product has just sold out.' }
        : { title: 'Not enough in stock', detail: 'Choose fewer units.' };
    }
    case 'cart_empty':
      return { title: 'Your cart is empty', detail: 'There is nothing to order.' };
    case 'cart_line_limit':
      return { title: 'Your cart is full', detail: 'It holds as many different products as it can: order or remove some first.' };
    case 'cart_quantity_limit':
      return { title: 'Too many of one product', detail: 'A cart holds at most 99 units of each product.' };
    case 'cart_products_unavailable':
      return { title: 'Some products are no longer sold', detail: 'Remove them from your cart, then place the order again.' };
    case 'checkout_in_progress':
      return { title: 'Your order is being placed', detail: 'Please wait a moment; it will show up under Orders.' };
    case 'idempotency_key_reused':
      return { title: 'Please place the order again', detail: 'Your order details changed while it was being placed. Nothing was ordered twice.' };
    case 'order_total_too_large':
      return { title: 'This order is too large', detail: 'Please split it into smaller orders.' };
    case 'order_not_cancellable':
      return { title: 'This order cannot be cancelled', detail: 'It was not completed, so there is nothing to cancel or refund.' };
    case 'product_version_mismatch':
      return { title: 'Someone else changed this product', detail: 'Your changes were not saved: load the current version and apply them again.' };
    case 'product_image_limit':
      return { title: 'This product has all the pictures it can hold', detail: 'Remove one before adding another.' };
    case 'unknown_category':
      return { title: 'There is no such category', detail: 'Choose one of the shop’s categories.' };
    case 'payload_too_large':
      return { title: 'That file is too large', detail: 'Choose a picture of at most 5 MB.' };
    case 'unsupported_media_type':
      return { title: 'That file is not a picture we can show', detail: 'Choose a PNG, JPEG or WebP picture.' };
    case 'invalid_request':
    case 'unprocessable':
      return { title: 'Please check what you entered', detail: 'Something in it was not accepted.' };
    default:
      return error.status >= 500
        ? { title: 'Something went wrong on our side', detail: 'Please try again in a moment. Nothing was lost.' }
        : { title: 'That did not work', detail: 'Please try again.' };
  }
}

/**
 * Shows an error in an alert region (read out at once). The problem's code is kept in `data-code` for
 * support and tests, not shown: it means nothing to a shopper.
 */
export function showProblem(error: unknown, extra?: Node, subject?: ErrorSubject): void {
  const { title, detail } = describeError(error, subject);
  area().replaceChildren(
    h(
      'div',
      { class: 'notice notice-error', role: 'alert', 'data-code': error instanceof ApiError ? error.code : undefined },
      h('p', { class: 'notice-title' }, title),
      h('p', {}, detail),
      extra,
    ),
  );
}
