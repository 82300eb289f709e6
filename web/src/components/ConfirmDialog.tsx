// A modal question before something that cannot be taken back or costs a lot (cancelling a run, starting one
// past the machine's memory): the page waits for an explicit answer, and Escape or "go back" does nothing.
import { createEffect, type JSX } from 'solid-js';

export interface ConfirmDialogProps {
  /** Shown while true. */
  open: boolean;
  title: string;
  /** What the user should know before answering. */
  children?: JSX.Element;
  /** The safe answer (closes, nothing happens). */
  backLabel: string;
  /** The answer that acts. */
  confirmLabel: string;
  onBack: () => void;
  onConfirm: () => void;
  /** data-testid of the dialog. */
  testId: string;
  /** data-testid of the confirming button (default `<testId>-confirm`). */
  confirmTestId?: string;
  /** data-testid of the going-back button (default `<testId>-cancel`). */
  backTestId?: string;
}

export default function ConfirmDialog(props: ConfirmDialogProps) {
  let dialog: HTMLDialogElement | undefined;
  createEffect(() => {
    if (props.open) {
      if (!dialog?.open) dialog?.showModal();
    } else if (dialog?.open) dialog.close();
  });
  return (
    <dialog
      class="confirm-dialog"
      data-testid={props.testId}
      ref={dialog}
      onClose={() => {
        if (props.open) props.onBack();
      }}
    >
      <h3>{props.title}</h3>
      {props.children}
      <div class="form-actions">
        <button
          type="button"
          class="btn"
          data-testid={props.backTestId ?? `${props.testId}-cancel`}
          onClick={() => props.onBack()}
        >
          {props.backLabel}
        </button>
        <button
          type="button"
          class="btn danger"
          data-testid={props.confirmTestId ?? `${props.testId}-confirm`}
          onClick={() => props.onConfirm()}
        >
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
