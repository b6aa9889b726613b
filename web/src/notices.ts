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

/** The words a person sees for an error: the API's problem title and detail, or what went wrong locally. */
export function describeError(error: unknown): { title: string; detail: string } {
  if (error instanceof ApiError) {
    if (error.status === 503) {
      const when = error.retryAfterSeconds ? ` in ${error.retryAfterSeconds} seconds` : ' in a moment';
      return { title: 'The shop is busy', detail: `Your cart is kept; please try again${when}. (${error.title}: ${error.detail})` };
    }
    return { title: error.title, detail: error.detail };
  }
  return { title: 'Something went wrong', detail: error instanceof Error ? error.message : String(error) };
}

/** Shows an error in an alert region (read out at once), with the problem's code for support. */
export function showProblem(error: unknown, extra?: Node): void {
  const { title, detail } = describeError(error);
  const code = error instanceof ApiError ? error.code : undefined;
  area().replaceChildren(
    h(
      'div',
      { class: 'notice notice-error', role: 'alert' },
      h('p', { class: 'notice-title' }, title),
      h('p', {}, detail),
      code ? h('p', { class: 'notice-code' }, `Code: ${code}`) : null,
      extra,
    ),
  );
}
