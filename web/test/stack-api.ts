// JSON calls to the lab a browser test started, from the test's own process: setting things up beside the
// page and checking what the page shows against the API.

/** `api(path, init)` against the lab at `base()`: the parsed JSON body; an error names the call and status. */
export function stackApi(base: () => string): <T>(path: string, init?: RequestInit) => Promise<T> {
  return async <T>(path: string, init?: RequestInit): Promise<T> => {
    const res = await fetch(`${base()}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...init?.headers },
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: HTTP ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
}
