/*
 * Tabs of one browser share a sign-in, and with it a cart. When a tab places an order it says so in
 * localStorage; the others, whose cart page still lists what was just ordered, hear of it through the
 * `storage` event (and a tab whose own checkout then finds the cart empty looks it up there).
 */
const placedItem = 'shop.placedOrder';

export interface PlacedOrder {
  orderId: string;
  /** When this browser placed it (ms since the epoch, the browser's own clock). */
  at: number;
}

export function announcePlacedOrder(orderId: string): void {
  localStorage.setItem(placedItem, JSON.stringify({ orderId, at: Date.now() } satisfies PlacedOrder));
}

function parse(raw: string | null): PlacedOrder | undefined {
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<PlacedOrder>;
    return typeof value.orderId === 'string' && typeof value.at === 'number' ? { orderId: value.orderId, at: value.at } : undefined;
  } catch {
    return undefined;
  }
}

/** The order this browser placed most recently, if it was placed after `since`. */
export function placedOrderSince(since: number): PlacedOrder | undefined {
  const placed = parse(localStorage.getItem(placedItem));
  return placed && placed.at >= since ? placed : undefined;
}

/** Calls `onPlaced` when another tab places an order, until `signal` aborts. */
export function onOrderPlacedElsewhere(signal: AbortSignal, onPlaced: (placed: PlacedOrder) => void): void {
  window.addEventListener(
    'storage',
    (event) => {
      if (event.key !== placedItem) return;
      const placed = parse(event.newValue);
      if (placed) onPlaced(placed);
    },
    { signal },
  );
}
