// A tiny hash router: `#/tokenizer` → route "tokenizer". No dependency, works when the UI is served from any
// path (the gateway serves web/dist at /), and a reload keeps the page.
import { createSignal, onCleanup } from 'solid-js';

function current(): string {
  const h = location.hash.replace(/^#\/?/, '');
  const path = h.split(/[?#]/)[0] ?? '';
  return decodeURIComponent(path.replace(/\/+$/, ''));
}

export function createRoute() {
  const [route, setRoute] = createSignal(current());
  const onChange = () => setRoute(current());
  window.addEventListener('hashchange', onChange);
  onCleanup(() => window.removeEventListener('hashchange', onChange));
  return route;
}

export function href(route: string): string {
  return `#/${route}`;
}
