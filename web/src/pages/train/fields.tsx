// A server error about one field of the Train form: the sentence sits under that field (marked invalid) until
// the field changes.
import { type Accessor, createSignal, type JSX, Show } from 'solid-js';

export interface FieldErrors {
  /** The error shown now, if any. */
  current: Accessor<{ input: string; message: string } | undefined>;
  set(error: { input: string; message: string } | undefined): void;
  /** The user changed this input: an error about it no longer holds. */
  touched(input: string): void;
  /** aria-invalid for an input. */
  invalid(input: string): 'true' | undefined;
  /** The sentence under an input (nothing when the error is about another one). */
  Message(props: { input: string }): JSX.Element;
}

export function createFieldErrors(): FieldErrors {
  const [current, set] = createSignal<{ input: string; message: string }>();
  return {
    current,
    set: (e) => set(e),
    touched: (input) => {
      if (current()?.input === input) set(undefined);
    },
    invalid: (input) => (current()?.input === input ? 'true' : undefined),
    Message: (props) => (
      <Show when={current()?.input === props.input ? current() : undefined}>
        {(f) => (
          <span
            class="error-text small field-error"
            role="alert"
            data-testid="train-field-error"
            data-field={props.input}
          >
            {f().message}
          </span>
        )}
      </Show>
    ),
  };
}
