import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { fmt, h, sparkline, when } from './dom';
import {
  ApiError,
  apiUrl,
  IModelDetail,
  IModelRow,
  IReportRow,
  IRunDetail,
  IRunPage,
  IVersionRow,
  postAPI,
  requestAPI
} from './request';

const PAGE = 25;
const STAGES = ['production', 'staging', 'archived'];

type Tab = 'runs' | 'models' | 'reports';

/** What the panel needs from the application: putting a run's cell into a notebook. */
export interface IPanelHost {
  insertCell(source: string): Promise<void>;
}

/** A dialog body asking for a reason (and, to promote, the target stage). */
class ReasonForm extends Widget implements Dialog.IBodyWidget<{
  reason: string;
  stage: string;
}> {
  constructor(message: string, askStage: boolean) {
    super();
    this.addClass('nbmlops-form');
    this.stage = h(
      'select',
      { class: 'nbmlops-stage', 'aria-label': 'Stage' },
      ...STAGES.map(s => h('option', { value: s }, s))
    );
    this.reason = h('input', {
      class: 'nbmlops-reason jp-mod-styled',
      type: 'text',
      placeholder: 'Why? (kept in the model history)',
      'aria-label': 'Reason'
    });
    this.node.append(h('p', {}, message));
    if (askStage) {
      this.node.append(h('label', {}, 'To stage ', this.stage));
    }
    this.node.append(h('label', {}, 'Reason ', this.reason));
  }

  getValue(): { reason: string; stage: string } {
    return { reason: this.reason.value.trim(), stage: this.stage.value };
  }

  protected onAfterAttach(): void {
    this.reason.focus();
  }

  private reason: HTMLInputElement;
  private stage: HTMLSelectElement;
}

/** The left-sidebar "MLOps" panel: Runs, Models and Reports of the workspace. */
export class MlopsPanel extends Widget {
  constructor(private host: IPanelHost) {
    super();
    this.id = 'nbmlops-panel';
    this.addClass('nbmlops-panel');
    this.title.caption = 'MLOps: runs, models and drift reports';
    this.tabs = h('div', { class: 'nbmlops-tabs', role: 'tablist' });
    for (const [tab, label] of [
      ['runs', 'Runs'],
      ['models', 'Models'],
      ['reports', 'Reports']
    ] as [Tab, string][]) {
      this.tabs.append(
        h(
          'button',
          {
            class: 'nbmlops-tab',
            role: 'tab',
            'data-tab': tab,
            onclick: () => void this.showTab(tab)
          },
          label
        )
      );
    }
    this.status = h('div', { class: 'nbmlops-status', role: 'status' });
    this.body = h('div', { class: 'nbmlops-body' });
    this.node.append(
      h(
        'div',
        { class: 'nbmlops-header' },
        this.tabs,
        h(
          'button',
          {
            class: 'nbmlops-refresh',
            title: 'Refresh',
            onclick: () => void this.refresh()
          },
          '⟳'
        )
      ),
      this.status,
      this.body
    );
  }

  /** Show a tab (its list; a run or model stays open until "Back"). */
  async showTab(tab: Tab): Promise<void> {
    if (tab !== this.tab) {
      this.openRun = null;
      this.openModel = null;
    }
    this.tab = tab;
    for (const button of Array.from(this.tabs.children)) {
      button.classList.toggle(
        'nbmlops-mod-active',
        (button as HTMLElement).dataset.tab === tab
      );
    }
    await this.refresh();
  }

  /** Reload what is shown from the server. */
  async refresh(): Promise<void> {
    const token = ++this.generation;
    try {
      let view: HTMLElement;
      if (this.tab === 'runs') {
        view = this.openRun
          ? await this.runView(this.openRun)
          : await this.runsView();
      } else if (this.tab === 'models') {
        view = this.openModel
          ? await this.modelView(this.openModel)
          : await this.modelsView();
      } else {
        view = await this.reportsView();
      }
      if (token === this.generation) {
        this.body.replaceChildren(view);
        this.setStatus('');
      }
    } catch (error) {
      if (token === this.generation) {
        this.setStatus(messageOf(error), true);
      }
    }
  }

  protected onAfterAttach(): void {
    if (!this.shown) {
      this.shown = true;
      void this.showTab(this.tab);
    }
  }

  private setStatus(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('nbmlops-mod-error', error);
  }

  // -- runs -----------------------------------------------------------------------------------

  private async runsView(): Promise<HTMLElement> {
    const query = new URLSearchParams({
      offset: String(this.offset),
      limit: String(PAGE)
    });
    if (this.filter) {
      query.set('filter', this.filter);
    }
    const page = await requestAPI<IRunPage>(`runs?${query}`);
    const metrics = page.columns
      .filter(c => c.startsWith('metrics.'))
      .slice(0, 1);
    const filter = h('input', {
      class: 'nbmlops-filter jp-mod-styled',
      type: 'search',
      placeholder: "filter, e.g. metrics.accuracy > 0.9 and params.C == 1",
      value: this.filter,
      'aria-label': 'Filter runs'
    });
    filter.addEventListener('keydown', event => {
      if ((event as KeyboardEvent).key === 'Enter') {
        this.filter = filter.value.trim();
        this.offset = 0;
        void this.refresh();
      }
    });
    const rows = page.runs.map(run =>
      h(
        'tr',
        {
          class: 'nbmlops-run-row',
          'data-run-id': run.run_id,
          title: run.run_id,
          onclick: () => {
            this.openRun = run.run_id;
            void this.refresh();
          }
        },
        h('td', { class: 'nbmlops-run-name' }, run.name || run.run_id.slice(0, 8)),
        h('td', {}, run.experiment),
        h('td', {}, statusBadge(run.status)),
        ...metrics.map(m => h('td', { class: 'nbmlops-num' }, fmt(run[m])))
      )
    );
    const last = Math.min(page.offset + page.limit, page.total);
    return h(
      'div',
      { class: 'nbmlops-runs' },
      filter,
      h(
        'table',
        { class: 'nbmlops-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'run'),
            h('th', {}, 'experiment'),
            h('th', {}, 'status'),
            ...metrics.map(m => h('th', {}, m.slice('metrics.'.length)))
          )
        ),
        h('tbody', {}, ...rows)
      ),
      page.total === 0
        ? h('p', { class: 'nbmlops-empty' }, 'No runs yet: add %%track to a cell.')
        : null,
      h(
        'div',
        { class: 'nbmlops-pager' },
        h(
          'button',
          {
            class: 'jp-mod-styled',
            ...(page.offset === 0 ? { disabled: '' } : {}),
            onclick: () => {
              this.offset = Math.max(0, this.offset - PAGE);
              void this.refresh();
            }
          },
          '‹ Newer'
        ),
        h('span', {}, page.total ? `${page.offset + 1}–${last} of ${page.total}` : ''),
        h(
          'button',
          {
            class: 'jp-mod-styled',
            ...(last >= page.total ? { disabled: '' } : {}),
            onclick: () => {
              this.offset += PAGE;
              void this.refresh();
            }
          },
          'Older ›'
        )
      )
    );
  }

  private async runView(runId: string): Promise<HTMLElement> {
    const run = await requestAPI<IRunDetail>(`runs/${encodeURIComponent(runId)}`);
    const insert = h(
      'button',
      {
        class: 'nbmlops-insert jp-mod-styled jp-mod-accept',
        title: 'Insert the run\u2019s %%track cell below the active cell',
        onclick: () => void this.insert(run)
      },
      'Insert as new cell'
    );
    if (!run.cell) {
      insert.setAttribute('disabled', '');
      insert.title = 'This run has no recorded cell code';
    }
    const params = Object.entries(run.params);
    const metrics = Object.entries(run.metrics);
    return h(
      'div',
      { class: 'nbmlops-run', 'data-run-id': run.run_id },
      backButton(() => {
        this.openRun = null;
        void this.refresh();
      }),
      h(
        'h3',
        { class: 'nbmlops-title' },
        run.name || run.run_id.slice(0, 8),
        ' ',
        statusBadge(run.status)
      ),
      h(
        'div',
        { class: 'nbmlops-meta' },
        `${run.experiment} · ${when(run.start_time)} · ${fmt(run.duration_s)} s · ${run.run_id}`
      ),
      insert,
      section(
        'Params',
        params.length
          ? keyValues(params.map(([k, v]) => [k, fmt(v)]))
          : h('p', { class: 'nbmlops-empty' }, 'none')
      ),
      section(
        'Metrics',
        metrics.length
          ? h(
              'table',
              { class: 'nbmlops-table nbmlops-metrics' },
              h(
                'tbody',
                {},
                ...metrics.map(([key, value]) =>
                  h(
                    'tr',
                    {},
                    h('th', {}, key),
                    h('td', { class: 'nbmlops-num' }, fmt(value)),
                    h(
                      'td',
                      {},
                      (run.history[key] || []).length > 1
                        ? sparkline(run.history[key], 80)
                        : null
                    )
                  )
                )
              )
            )
          : h('p', { class: 'nbmlops-empty' }, 'none')
      ),
      run.code ? section('Code', h('pre', { class: 'nbmlops-code' }, run.code)) : null,
      run.error ? section('Error', h('pre', { class: 'nbmlops-code' }, run.error)) : null,
      run.artifacts.length
        ? section(
            'Artifacts',
            h(
              'ul',
              { class: 'nbmlops-artifacts' },
              ...run.artifacts.map(a =>
                h('li', {}, a.name, h('span', { class: 'nbmlops-dim' }, ` ${fmt(a.size)} B`))
              )
            )
          )
        : null
    );
  }

  private async insert(run: IRunDetail): Promise<void> {
    if (!run.cell) {
      return;
    }
    try {
      await this.host.insertCell(run.cell);
      this.setStatus(`Inserted the cell of ${run.name || run.run_id.slice(0, 8)}.`);
    } catch (error) {
      this.setStatus(messageOf(error), true);
    }
  }

  // -- models ---------------------------------------------------------------------------------

  private async modelsView(): Promise<HTMLElement> {
    const models = await requestAPI<IModelRow[]>('models');
    if (models.length === 0) {
      return h(
        'p',
        { class: 'nbmlops-empty' },
        'No registered models yet: nbmlops.register_model(model, "name").'
      );
    }
    return h(
      'table',
      { class: 'nbmlops-table' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'model'), h('th', {}, 'versions'), h('th', {}, 'production'))
      ),
      h(
        'tbody',
        {},
        ...models.map(m =>
          h(
            'tr',
            {
              class: 'nbmlops-model-row',
              'data-model': m.name,
              onclick: () => {
                this.openModel = m.name;
                void this.refresh();
              }
            },
            h('td', {}, m.name),
            h('td', { class: 'nbmlops-num' }, fmt(m.versions)),
            h('td', { class: 'nbmlops-num' }, m.production_version === null ? '–' : `v${m.production_version}`)
          )
        )
      )
    );
  }

  private async modelView(name: string): Promise<HTMLElement> {
    const model = await requestAPI<IModelDetail>(`models/${encodeURIComponent(name)}`);
    const metricKeys = Array.from(
      new Set(model.versions.flatMap(v => Object.keys(v.metrics)))
    ).slice(0, 1);
    const rows = model.versions
      .slice()
      .reverse()
      .map(v =>
        h(
          'tr',
          { class: 'nbmlops-version-row', 'data-version': String(v.version) },
          h('td', {}, `v${v.version}`),
          h('td', { class: 'nbmlops-badges' }, ...badges(v)),
          ...metricKeys.map(k => h('td', { class: 'nbmlops-num' }, fmt(v.metrics[k]))),
          h(
            'td',
            { class: 'nbmlops-actions' },
            h(
              'button',
              {
                class: 'nbmlops-promote',
                title: `Promote v${v.version}`,
                onclick: () => void this.promote(name, v)
              },
              'Promote…'
            ),
            h(
              'button',
              {
                class: 'nbmlops-card',
                title: `Model card of v${v.version}`,
                onclick: () => void this.card(name, v.version)
              },
              'Card'
            )
          )
        )
      );
    return h(
      'div',
      { class: 'nbmlops-model', 'data-model': name },
      backButton(() => {
        this.openModel = null;
        void this.refresh();
      }),
      h('h3', { class: 'nbmlops-title' }, name),
      h(
        'button',
        {
          class: 'nbmlops-rollback jp-mod-styled jp-mod-warn',
          title: 'Put back the production version that the current one replaced',
          onclick: () => void this.rollback(name)
        },
        'Rollback production…'
      ),
      h(
        'table',
        { class: 'nbmlops-table nbmlops-versions' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, ''),
            h('th', {}, 'stage'),
            ...metricKeys.map(k => h('th', {}, k)),
            h('th', {}, '')
          )
        ),
        h('tbody', {}, ...rows)
      ),
      section(
        'History',
        h(
          'ul',
          { class: 'nbmlops-history' },
          ...model.history.slice(0, 10).map(e =>
            h(
              'li',
              {},
              `${when(e.at)} v${e.version} ${e.action}` +
                (e.to_stage ? ` → ${e.to_stage}` : '') +
                (e.user ? ` by ${e.user}` : ''),
              e.reason ? h('span', { class: 'nbmlops-dim' }, ` “${e.reason}”`) : null
            )
          )
        )
      )
    );
  }

  private async promote(name: string, version: IVersionRow): Promise<void> {
    const form = new ReasonForm(
      `Promote ${name} v${version.version}? Promoting to production archives the current production version.`,
      true
    );
    const result = await showDialog({
      title: `Promote ${name} v${version.version}`,
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Promote' })]
    });
    if (!result.button.accept || !result.value) {
      return;
    }
    await this.mutate(`models/${encodeURIComponent(name)}/promote`, {
      version: version.version,
      to: result.value.stage,
      reason: result.value.reason
    });
  }

  private async rollback(name: string): Promise<void> {
    const result = await showDialog({
      title: `Roll back ${name}`,
      body: new ReasonForm(
        `Put back the production version of ${name} that the current one replaced?`,
        false
      ),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Roll back' })]
    });
    if (!result.button.accept || !result.value) {
      return;
    }
    await this.mutate(`models/${encodeURIComponent(name)}/rollback`, {
      reason: result.value.reason
    });
  }

  private async mutate(path: string, body: Record<string, unknown>): Promise<void> {
    try {
      const moved = await postAPI<{ name: string; version: number; stage: string | null }>(
        path,
        body
      );
      await this.refresh();
      this.setStatus(`${moved.name} v${moved.version} is now ${moved.stage ?? 'registered'}.`);
    } catch (error) {
      await showErrorMessage('nbmlops', messageOf(error));
    }
  }

  private async card(name: string, version: number): Promise<void> {
    try {
      const card = await requestAPI<{ html: string }>(
        `models/${encodeURIComponent(name)}/versions/${version}/card`
      );
      const frame = h('iframe', {
        class: 'nbmlops-card-frame',
        sandbox: '',
        title: `Model card of ${name} v${version}`
      });
      frame.srcdoc = card.html;
      const body = new Widget({ node: h('div', { class: 'nbmlops-card-body' }, frame) });
      await showDialog({
        title: `${name} v${version}`,
        body,
        buttons: [Dialog.okButton({ label: 'Close' })]
      });
    } catch (error) {
      await showErrorMessage('nbmlops', messageOf(error));
    }
  }

  // -- drift reports --------------------------------------------------------------------------

  private async reportsView(): Promise<HTMLElement> {
    const reports = await requestAPI<IReportRow[]>('reports');
    if (reports.length === 0) {
      return h(
        'p',
        { class: 'nbmlops-empty' },
        'No saved drift reports: nbmlops.drift_report(ref, cur).save().'
      );
    }
    return h(
      'table',
      { class: 'nbmlops-table' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'report'), h('th', {}, 'drift'), h('th', {}, 'created'))
      ),
      h(
        'tbody',
        {},
        ...reports.map(r =>
          h(
            'tr',
            { class: 'nbmlops-report-row' },
            h(
              'td',
              {},
              h(
                'a',
                {
                  href: apiUrl(`reports/${encodeURIComponent(r.report_id)}/html`),
                  target: '_blank',
                  rel: 'noopener'
                },
                r.name || r.report_id.slice(0, 8)
              )
            ),
            h(
              'td',
              { title: r.drifted_columns },
              h(
                'span',
                { class: `nbmlops-badge ${r.dataset_drift ? 'nbmlops-mod-drift' : ''}` },
                r.dataset_drift ? `drift ${r.drifted}` : `ok ${r.drifted}`
              )
            ),
            h('td', {}, when(r.created_at))
          )
        )
      )
    );
  }

  private tab: Tab = 'runs';
  private tabs: HTMLElement;
  private status: HTMLElement;
  private body: HTMLElement;
  private filter = '';
  private offset = 0;
  private openRun: string | null = null;
  private openModel: string | null = null;
  private generation = 0;
  private shown = false;
}

function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

function statusBadge(status: string): HTMLElement {
  return h(
    'span',
    { class: `nbmlops-badge nbmlops-status-${status.toLowerCase()}` },
    status
  );
}

function badges(version: IVersionRow): HTMLElement[] {
  const out: HTMLElement[] = [];
  if (version.stage) {
    out.push(
      h(
        'span',
        { class: `nbmlops-badge nbmlops-alias nbmlops-stage-${version.stage}` },
        version.stage
      )
    );
  }
  for (const alias of version.aliases) {
    out.push(h('span', { class: 'nbmlops-badge nbmlops-alias' }, `@${alias}`));
  }
  return out;
}

function backButton(onclick: () => void): HTMLElement {
  return h('button', { class: 'nbmlops-back jp-mod-styled', onclick }, '‹ Back');
}

function section(title: string, content: Node): HTMLElement {
  return h('section', { class: 'nbmlops-section' }, h('h4', {}, title), content);
}

function keyValues(pairs: [string, string][]): HTMLElement {
  return h(
    'table',
    { class: 'nbmlops-table nbmlops-kv' },
    h('tbody', {}, ...pairs.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))))
  );
}
