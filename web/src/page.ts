import type { ShopApi } from './api';

/** What a page gets from the router. */
export interface PageContext {
  api: ShopApi;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Aborted when the person leaves the page: stops its requests and polling. */
  signal: AbortSignal;
  /** Whether a person is signed in; a signed-out visitor sees only public pages (CATALOG_PUBLIC_READ). */
  signedIn: boolean;
  /** Leaves for sign-in, coming back to `returnTo` (default: this page). */
  signIn(returnTo?: string): Promise<never>;
  /** Whether the access token carries Products.Write (to show the catalog editing links). */
  canEditCatalog: boolean;
  navigate(path: string): void;
  /** Replaces the page content; the first heading gets focus and names the document. */
  show(title: string, ...content: (Node | null)[]): void;
  /** Updates the cart count in the navigation from a cart the API returned. */
  cartChanged(cart: { items: { quantity: number }[] }): void;
}

export type Page = (context: PageContext) => Promise<void>;
