/** Dialog bodies of the panel: a reason, and the promote form with its gates. */

import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { fmt, h } from './dom';
import { IGateRow } from './request';

const STAGES = ['production', 'staging', 'archived'];

/** A dialog body asking for a reason (kept in the model history). */
export class ReasonForm
  extends Widget
  implements Dialog.IBodyWidget<{ reason: string }>
{
  constructor(message: string) {
    super();
    this.addClass('nbmlops-form');
    this.reason = reasonInput();
    this.node.append(h('p', {}, message), h('label', {}, 'Reason ', this.reason));
  }

  getValue(): { reason: string } {
    return { reason: this.reason.value.trim() };
  }

  protected onAfterAttach(): void {
    this.reason.focus();
  }

  private reason: HTMLInputElement;
}

/** What the promote dialog asks for. */
export interface IPromoteValue {
  stage: string;
  gates: string[];
  reason: string;
}

/** Why the last attempt was refused: nbmlops' message and, for failing gates, their table. */
export interface IPromoteFailure {
  message: string;
  gates: IGateRow[] | null;
}

/**
 * The promote dialog: target stage, the gates to check (one per line, those last used for
 * the model offered), a reason; after a refusal it opens again showing why (the gate table).
 */
export class PromoteForm
  extends Widget
  implements Dialog.IBodyWidget<IPromoteValue>
{
  constructor(
    message: string,
    value: IPromoteValue,
    lastGates: string[],
    failure: IPromoteFailure | null
  ) {
    super();
    this.addClass('nbmlops-form');
    this.addClass('nbmlops-promote-form');
    this.stage = h(
      'select',
      { class: 'nbmlops-stage', 'aria-label': 'Stage' },
      ...STAGES.map(s => h('option', { value: s }, s))
    );
    this.stage.value = value.stage;
    this.gates = h('textarea', {
      class: 'nbmlops-gates jp-mod-styled',
      rows: '3',
      spellcheck: 'false',
      placeholder: 'one per line, e.g. metrics.f1 >= champion.metrics.f1',
      'aria-label': 'Gates'
    });
    this.gates.value = value.gates.join('\n');
    this.reason = reasonInput();
    this.reason.value = value.reason;
    const hint = lastGates.length
      ? 'Offered: the gates of the last gated promotion of this model.'
      : 'No gate has been used for this model yet; promotion is checked by none.';
    this.node.append(h('p', {}, message));
    if (failure) {
      this.node.append(failureView(failure));
    }
    this.node.append(
      h('label', {}, 'To stage ', this.stage),
      h(
        'label',
        {},
        'Gates ',
        h('span', { class: 'nbmlops-dim nbmlops-hint' }, hint),
        this.gates
      ),
      h('label', {}, 'Reason ', this.reason)
    );
  }

  getValue(): IPromoteValue {
    return {
      stage: this.stage.value,
      gates: this.gates.value
        .split('\n')
        .map(g => g.trim())
        .filter(g => g.length > 0),
      reason: this.reason.value.trim()
    };
  }

  protected onAfterAttach(): void {
    this.reason.focus();
  }

  private stage: HTMLSelectElement;
  private gates: HTMLTextAreaElement;
  private reason: HTMLInputElement;
}

function reasonInput(): HTMLInputElement {
  return h('input', {
    class: 'nbmlops-reason jp-mod-styled',
    type: 'text',
    placeholder: 'Why? (kept in the model history)',
    'aria-label': 'Reason'
  });
}

function failureView(failure: IPromoteFailure): HTMLElement {
  const gates = failure.gates;
  return h(
    'div',
    { class: 'nbmlops-failure', role: 'alert' },
    gates
      ? h(
          'p',
          { class: 'nbmlops-failure-title' },
          `${gates.filter(g => !g.passed).length} of ${gates.length} ` +
            `${gates.length === 1 ? 'gate' : 'gates'} failed: nothing was changed.`
        )
      : h('p', { class: 'nbmlops-failure-title' }, failure.message),
    gates ? gateTable(gates) : null
  );
}

/** The gate table: each gate, its value against its threshold, pass or fail. */
export function gateTable(rows: IGateRow[]): HTMLElement {
  return h(
    'table',
    { class: 'nbmlops-table nbmlops-gate-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'gate'),
        h('th', { class: 'nbmlops-num' }, 'value'),
        h('th', { class: 'nbmlops-num' }, 'threshold'),
        h('th', {}, '')
      )
    ),
    h(
      'tbody',
      {},
      ...rows.map(row =>
        h(
          'tr',
          {
            class: row.passed ? 'nbmlops-gate-passed' : 'nbmlops-gate-failed',
            title: row.detail || ''
          },
          h('td', { class: 'nbmlops-gate' }, row.gate),
          h('td', { class: 'nbmlops-num' }, row.value === null ? '—' : fmt(row.value)),
          h(
            'td',
            { class: 'nbmlops-num' },
            row.threshold === null ? '—' : fmt(row.threshold)
          ),
          h(
            'td',
            {},
            h(
              'span',
              {
                class: `nbmlops-badge ${row.passed ? 'nbmlops-status-finished' : 'nbmlops-status-failed'}`
              },
              row.passed ? 'PASS' : 'FAIL'
            ),
            row.detail ? h('div', { class: 'nbmlops-dim' }, row.detail) : null
          )
        )
      )
    )
  );
}
