// The Advanced section of the Train form: the model's shape (the preset's until changed), the optimizer and
// schedule, evaluation, seed, and which checkpoints are kept.
import type { FieldErrors } from './fields.tsx';
import type { Advanced } from './form.ts';

export interface AdvancedFieldsProps {
  values: Advanced;
  onField: (k: keyof Advanced, v: string) => void;
  keepBest: boolean;
  onKeepBest: (v: boolean) => void;
  errors: FieldErrors;
  ref?: (el: HTMLDetailsElement) => void;
}

export default function AdvancedFields(props: AdvancedFieldsProps) {
  const E = props.errors;
  const number = (k: keyof Advanced, label: string, placeholder: string, step = '1') => (
    <label>
      {label}
      <input
        type="number"
        name={k}
        step={step}
        min="0"
        placeholder={placeholder}
        value={props.values[k]}
        aria-invalid={E.invalid(k)}
        onInput={(e) => props.onField(k, e.currentTarget.value)}
      />
      <E.Message input={k} />
    </label>
  );
  return (
    <details class="advanced" ref={props.ref}>
      <summary>Advanced (the model fields show the preset’s shape; empty = the default)</summary>
      <div class="preset-grid">
        {number('nLayer', 'Layers', 'preset')}
        {number('nHead', 'Heads', 'preset')}
        {number('nKvHead', 'KV heads', 'preset')}
        {number('nEmbd', 'Width', 'preset')}
        {number('ffnHidden', 'FFN width', 'preset')}
        {number('context', 'Context', 'preset')}
        {number('batchSize', 'Batch', '12')}
        {number('learningRate', 'Learning rate', '1e-3', 'any')}
        {number('warmupIters', 'Warm-up steps', '0')}
        <label>
          Schedule
          <select
            name="schedule"
            value={props.values.schedule}
            aria-invalid={E.invalid('schedule')}
            onChange={(e) => props.onField('schedule', e.currentTarget.value)}
          >
            <option value="">cosine (default)</option>
            <option value="cosine">cosine</option>
            <option value="linear">linear</option>
            <option value="constant">constant</option>
          </select>
          <E.Message input="schedule" />
        </label>
        {number('evalInterval', 'Eval every', 'iters/10')}
        {number('seed', 'Seed', '1337')}
        {number('keepLast', 'Keep newest checkpoints', '2')}
        <label class="inline">
          <input
            type="checkbox"
            name="keepBest"
            checked={props.keepBest}
            onChange={(e) => props.onKeepBest(e.currentTarget.checked)}
          />{' '}
          also keep the best val loss
        </label>
      </div>
      <p class="muted small" data-testid="train-retention">
        Checkpoints kept: the newest {props.values.keepLast.trim() || '2'}
        {props.keepBest ? ' plus the one with the best validation loss' : ''}.
      </p>
    </details>
  );
}
