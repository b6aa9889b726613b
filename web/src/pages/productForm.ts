import { ApiError, type Category, type Product, type ProductInput } from '../api';
import { h } from '../dom';
import { showNotice, showProblem } from '../notices';
import type { Page, PageContext } from '../page';

/** Create (no id) or edit a product. An edit sends If-Match with the ETag it read, so it never overwrites a change it has not seen. */
export const productFormPage: Page = async (context) => {
  const id = context.params.id;
  // Without categories (an older API) the form simply has no category field.
  const categories = context.api.listCategories(context.signal).catch((): Category[] => []);
  if (!id) return renderForm(context, undefined, null, await categories);
  const [{ product, etag }, known] = await Promise.all([context.api.getProduct(id, context.signal), categories]);
  renderForm(context, product, etag, known);
};

function field(id: string, label: string, input: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, hint?: string): HTMLElement {
  if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { id: `${id}-hint`, class: 'hint' }, hint) : null);
}

function renderForm(context: PageContext, product: Product | undefined, etag: string | null, categories: Category[]): void {
  const { api, show, navigate } = context;
  const name = h('input', { id: 'name', name: 'name', type: 'text', required: true, maxlength: 200, value: product?.name ?? '' });
  const description = h('textarea', { id: 'description', name: 'description', maxlength: 2000, rows: 4 });
  description.value = product?.description ?? '';
  const price = h('input', { id: 'price', name: 'price', type: 'number', inputmode: 'decimal', required: true, min: 0, step: '0.01', value: product?.price ?? '' });
  const stock = h('input', { id: 'stock', name: 'stock', type: 'number', inputmode: 'numeric', required: true, min: 0, step: 1, value: product?.stock ?? 0 });
  const category = h(
    'select',
    { id: 'category', name: 'category' },
    h('option', { value: '' }, 'No category'),
    categories.map((c) => h('option', { value: c.slug, selected: c.slug === product?.category }, c.name)),
  );
  const save = h('button', { type: 'submit', class: 'primary' }, product ? 'Save changes' : 'Create product');

  const input = (): ProductInput => ({
    name: name.value.trim(),
    description: description.value,
    price: price.valueAsNumber,
    stock: stock.valueAsNumber,
    ...(categories.length > 0 ? { category: category.value || null } : {}),
  });
  const submit = async (event: Event) => {
    event.preventDefault();
    if (!(event.target as HTMLFormElement).reportValidity()) return;
    save.disabled = true;
    try {
      const saved = product ? (await api.replaceProduct(product.id, input(), etag)).product : await api.createProduct(input());
      navigate(`/products/${saved.id}`);
      showNotice(product ? `Saved ${saved.name}.` : `Created ${saved.name}.`);
    } catch (error) {
      save.disabled = false;
      // Someone else saved meanwhile: the message says so; the button loads their version.
      const reload = error instanceof ApiError && error.code === 'product_version_mismatch' ? h('p', {}, h('button', { type: 'button', onclick: () => navigate(`/admin/products/${product!.id}`) }, 'Load the current version')) : undefined;
      showProblem(error, reload, 'product');
    }
  };

  show(
    product ? `Edit ${product.name}` : 'New product',
    h(
      'form',
      { class: 'product-form', onsubmit: submit, novalidate: false },
      field('name', 'Name', name),
      field('description', 'Description', description, 'Optional, up to 2000 characters.'),
      field('price', 'Price (USD)', price, 'Up to two decimals.'),
      field('stock', 'Stock', stock, 'Units available to order.'),
      categories.length > 0 ? field('category', 'Category', category) : null,
      h('div', { class: 'actions' }, save, product ? h('a', { href: `/products/${product.id}` }, 'Cancel') : h('a', { href: '/' }, 'Cancel')),
    ),
    product ? pictures(context, product) : null,
  );
}

const imageTypes = ['image/png', 'image/jpeg', 'image/webp'];
const maxImageBytes = 5 * 1024 * 1024;

/** The product's pictures: each with its alt text and a "Remove" button, and a form to upload one more. */
function pictures(context: PageContext, product: Product): HTMLElement {
  const { api, navigate } = context;
  const reload = (notice: string) => {
    navigate(`/admin/products/${product.id}`);
    showNotice(notice);
  };
  const file = h('input', { id: 'picture-file', name: 'file', type: 'file', accept: imageTypes.join(','), required: true, 'aria-describedby': 'picture-file-hint' });
  const alt = h('input', { id: 'picture-alt', name: 'alt', type: 'text', required: true, maxlength: 300, pattern: '.*\\S.*', 'aria-describedby': 'picture-alt-hint' });
  const upload = h('button', { type: 'submit' }, 'Upload picture');
  const form = h(
    'form',
    {
      class: 'product-form',
      'aria-labelledby': 'pictures-title',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const chosen = file.files?.[0];
        // Checked here for a quick answer; the API checks the content itself.
        file.setCustomValidity(!chosen ? '' : !imageTypes.includes(chosen.type) ? 'Choose a PNG, JPEG or WebP picture.' : chosen.size > maxImageBytes ? 'Choose a picture of at most 5 MB.' : '');
        if (!form.reportValidity() || !chosen) return;
        upload.disabled = true;
        try {
          await api.uploadImage(product.id, chosen, alt.value.trim());
          reload('Picture added.');
        } catch (error) {
          showProblem(error, undefined, 'product');
          upload.disabled = false;
        }
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'picture-file' }, 'Picture'), file, h('p', { id: 'picture-file-hint', class: 'hint' }, 'PNG, JPEG or WebP, at most 5 MB.')),
    h('div', { class: 'field' }, h('label', { for: 'picture-alt' }, 'Description for screen readers'), alt, h('p', { id: 'picture-alt-hint', class: 'hint' }, 'What the picture shows, e.g. “Teapot in blue glaze, from the side”.')),
    h('div', { class: 'actions' }, upload),
  );
  const images = product.images ?? [];
  return h(
    'section',
    { class: 'pictures', 'aria-labelledby': 'pictures-title' },
    h('h2', { id: 'pictures-title' }, 'Pictures'),
    images.length === 0
      ? h('p', {}, 'No pictures yet.')
      : h(
          'ul',
          { class: 'picture-list' },
          images.map((image, index) =>
            h(
              'li',
              {},
              h('img', { src: image.url, alt: image.alt, width: 64, height: 64 }),
              h('span', {}, image.alt || h('em', {}, 'No description')),
              h(
                'button',
                {
                  type: 'button',
                  class: 'link-button',
                  'aria-label': `Remove picture ${index + 1}`,
                  onclick: async () => {
                    try {
                      await api.removeImage(product.id, index);
                      reload('Picture removed.');
                    } catch (error) {
                      showProblem(error, undefined, 'product');
                    }
                  },
                },
                'Remove',
              ),
            ),
          ),
        ),
    form,
  );
}
