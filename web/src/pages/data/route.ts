// The selected dataset and version live in the address, `#/data/<id>/<version>`, so a reload or a shared
// link opens the same ones.
import { createSignal, onCleanup } from 'solid-js';

export interface DataRoute {
  id?: string;
  version?: number;
}

export function parseDataRoute(hash: string): DataRoute {
  const path = hash.replace(/^#\/?/, '').split(/[?#]/)[0] ?? '';
  const [page, id, version] = path.split('/').map((p) => decodeURIComponent(p));
  if (page !== 'data' || !id) return {};
  const v = Number(version);
  return Number.isInteger(v) && v > 0 ? { id, version: v } : { id };
}

export function dataHref(r: DataRoute): string {
  if (!r.id) return '#/data';
  return `#/data/${encodeURIComponent(r.id)}${r.version ? `/${r.version}` : ''}`;
}

/** The route as a signal that follows the address; `go` replaces it (no history entry per click). */
export function createDataRoute() {
  const [route, setRoute] = createSignal(parseDataRoute(location.hash));
  const onChange = () => setRoute(parseDataRoute(location.hash));
  window.addEventListener('hashchange', onChange);
  onCleanup(() => window.removeEventListener('hashchange', onChange));
  const go = (r: DataRoute) => {
    const href = dataHref(r);
    if (location.hash !== href) history.replaceState(null, '', href);
    setRoute(r);
  };
  return [route, go] as const;
}
