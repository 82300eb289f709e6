import { createEffect, createMemo, For, Show } from 'solid-js';
import { Dynamic } from 'solid-js/web';
import { defaultPage, findPage, pages } from './pages/registry.tsx';
import { createRoute, href } from './router.ts';

export default function App() {
  const route = createRoute();
  const page = createMemo(() => (route() === '' ? defaultPage : findPage(route())));

  createEffect(() => {
    const p = page();
    document.title = p ? `${p.title} · LLM Lab` : 'LLM Lab';
  });

  return (
    <div class="shell">
      <nav class="sidebar" aria-label="Pages">
        <a class="brand" href={href(defaultPage.id)}>
          <span class="brand-mark" aria-hidden="true" />
          LLM Lab
        </a>
        <ul>
          <For each={pages}>
            {(p) => (
              <li>
                <a
                  href={href(p.id)}
                  classList={{ active: page()?.id === p.id, planned: !p.component }}
                  aria-current={page()?.id === p.id ? 'page' : undefined}
                  data-testid={`nav-${p.id}`}
                >
                  {p.title}
                </a>
              </li>
            )}
          </For>
        </ul>
        <p class="sidebar-note">Everything runs on this machine.</p>
      </nav>
      <main class="content">
        <Show
          when={page()}
          keyed
          fallback={
            <section class="page">
              <h1>Page not found</h1>
              <p class="intro">
                There is no page at <code>#/{route()}</code>. Pick one from the navigation on the left.
              </p>
            </section>
          }
        >
          {(p) => (
            <section class="page" data-testid={`page-${p.id}`}>
              <header class="page-header">
                <h1>{p.title}</h1>
                <p class="intro">{p.intro}</p>
              </header>
              <Show
                when={p.component}
                fallback={
                  <div class="not-built" data-testid="not-built">
                    <strong>Not built yet.</strong> {p.planned}
                  </div>
                }
              >
                {(c) => <Dynamic component={c()} />}
              </Show>
            </section>
          )}
        </Show>
      </main>
    </div>
  );
}
