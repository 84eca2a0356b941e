import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import {
  bytes,
  clip,
  emptyState,
  fmt,
  h,
  keyValues,
  section,
  shortWhen,
  sparkline,
  when
} from './dom';
import { IPromoteFailure, IPromoteValue, PromoteForm, ReasonForm } from './forms';
import {
  ApiError,
  apiUrl,
  deleteAPI,
  IModelDetail,
  IModelRow,
  IPolicy,
  IReportRow,
  IRequest,
  IRunDetail,
  IRunPage,
  IVersionRow,
  messageOf,
  postAPI,
  requestAPI
} from './request';
import { approvalsView, servingView } from './serving';

const PAGE = 25;
/** Seconds between reloads of the Serving tab while it is visible: guard values move, servers
 * come and go, a guard may abort a rollout. */
const LIVE_S = 5;

type Tab = 'runs' | 'models' | 'reports' | 'serving' | 'approvals';

/** What the panel needs from the application: putting a run's cell into a notebook. */
export interface IPanelHost {
  insertCell(source: string): Promise<void>;
}

/**
 * The left-sidebar "MLOps" panel: Runs, Models, Reports, Serving (rollouts, servers) and
 * Approvals (pending promotion requests) of the workspace.
 */
export class MlopsPanel extends Widget {
  constructor(private host: IPanelHost) {
    super();
    this.id = 'nbmlops-panel';
    this.addClass('nbmlops-panel');
    this.title.caption = 'MLOps: runs, models, drift reports, serving and approvals';
    this.tabs = h('div', { class: 'nbmlops-tabs', role: 'tablist' });
    for (const [tab, label] of [
      ['runs', 'Runs'],
      ['models', 'Models'],
      ['reports', 'Reports'],
      ['serving', 'Serving'],
      ['approvals', 'Approvals']
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

  /**
   * Reload what is shown from the server. ``quiet`` (the Serving tab's periodic reload) keeps
   * the status line, which may say what the last action did.
   */
  async refresh(quiet = false): Promise<void> {
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
      } else if (this.tab === 'serving') {
        view = await servingView(this);
      } else if (this.tab === 'approvals') {
        view = await approvalsView(this);
      } else {
        view = await this.reportsView();
      }
      if (token === this.generation) {
        this.body.replaceChildren(view);
        if (!quiet) {
          this.setStatus('');
        }
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
    if (this.timer === null) {
      this.timer = window.setInterval(() => this.live(), LIVE_S * 1000);
    }
  }

  protected onBeforeDetach(): void {
    if (this.timer !== null) {
      window.clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** The Serving tab, visible and not behind a dialog, reloads itself. */
  private live(): void {
    if (this.tab === 'serving' && this.isVisible && !document.querySelector('.jp-Dialog')) {
      void this.refresh(true);
    }
  }

  /** Made visible again (the sidebar opened): reload, so what changed meanwhile is listed. */
  protected onAfterShow(): void {
    if (this.shown) {
      void this.refresh();
    }
  }

  /** The line under the tabs: what the last action did, or why it failed. */
  setStatus(text: string, error = false): void {
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
    const metric = page.columns.find(c => c.startsWith('metrics.')) ?? null;
    const filter = h('input', {
      class: 'nbmlops-filter jp-mod-styled',
      type: 'search',
      placeholder: 'Filter, e.g. params.C == 1',
      title:
        'A filter as in nbmlops.runs(), e.g. metrics.accuracy > 0.9 and params.C == 1; ' +
        'press Enter',
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
    // Two lines per run, so a 250 px sidebar shows whole names: name and the first metric,
    // then experiment and status.
    const rows = page.runs.map(run => {
      const open = () => {
        this.openRun = run.run_id;
        void this.refresh();
      };
      return h(
        'div',
        {
          class: 'nbmlops-run-row',
          role: 'button',
          tabindex: '0',
          'data-run-id': run.run_id,
          onclick: open,
          onkeydown: (event: Event) => {
            if ((event as KeyboardEvent).key === 'Enter') {
              open();
            }
          }
        },
        clip(run.name || run.run_id.slice(0, 8), 'nbmlops-run-name'),
        metric ? clip(fmt(run[metric]), 'nbmlops-num nbmlops-run-metric') : h('span', {}),
        h(
          'span',
          { class: 'nbmlops-run-sub' },
          clip(run.experiment, 'nbmlops-dim nbmlops-run-experiment'),
          statusBadge(run.status)
        ),
        h(
          'span',
          { class: 'nbmlops-clip nbmlops-dim nbmlops-run-when', title: when(run.start_time) },
          shortWhen(run.start_time)
        )
      );
    });
    let empty: HTMLElement | null = null;
    if (page.total === 0) {
      empty = this.filter
        ? h('p', { class: 'nbmlops-empty' }, 'No run matches this filter.')
        : emptyState(
            'No runs yet.',
            'In a notebook, run ',
            h('code', {}, '%load_ext nbmlops'),
            ', then put ',
            h('code', {}, '%%track'),
            ' on the first line of a cell and run it: each run is listed here.'
          );
    }
    return h(
      'div',
      { class: 'nbmlops-runs' },
      filter,
      page.total === 0
        ? empty
        : h(
            'div',
            { class: 'nbmlops-run-list' },
            h(
              'div',
              { class: 'nbmlops-run-head' },
              clip('run'),
              metric ? clip(metric.slice('metrics.'.length), 'nbmlops-num') : null
            ),
            ...rows
          ),
      page.total === 0 ? null : this.pager(page)
    );
  }

  private pager(page: IRunPage): HTMLElement {
    const last = Math.min(page.offset + page.limit, page.total);
    return h(
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
      h('span', {}, `${page.offset + 1}–${last} of ${page.total}`),
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
        clip(run.name || run.run_id.slice(0, 8), 'nbmlops-title-text'),
        statusBadge(run.status)
      ),
      h(
        'div',
        { class: 'nbmlops-meta' },
        clip(run.experiment),
        clip(when(run.start_time)),
        clip(`${fmt(run.duration_s)} s`),
        clip(run.run_id, 'nbmlops-run-id')
      ),
      insert,
      section(
        'Params',
        params.length
          ? keyValues(params.map(([k, v]) => [k, fmt(v)]), 'nbmlops-params')
          : h('p', { class: 'nbmlops-empty' }, 'none')
      ),
      section(
        'Metrics',
        metrics.length
          ? keyValues(
              metrics.map(([key, value]) => [
                key,
                h(
                  'span',
                  { class: 'nbmlops-metric' },
                  (run.history[key] || []).length > 1
                    ? sparkline(run.history[key], 64, 20)
                    : null,
                  h('span', { class: 'nbmlops-num', title: String(value) }, fmt(value))
                )
              ]),
              'nbmlops-metrics'
            )
          : h('p', { class: 'nbmlops-empty' }, 'none')
      ),
      run.code ? section('Code', h('pre', { class: 'nbmlops-code' }, run.code)) : null,
      run.error ? section('Error', h('pre', { class: 'nbmlops-code' }, run.error)) : null,
      run.artifacts.length
        ? section(
            'Artifacts',
            keyValues(
              run.artifacts.map(a => [a.name, bytes(a.size)]),
              'nbmlops-artifact-list'
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
      return emptyState(
        'No registered models yet.',
        'Register a fitted model from a notebook with ',
        h('code', {}, '%register model --name churn'),
        ' or ',
        h('code', {}, 'nbmlops.register_model(model, "churn")'),
        '.'
      );
    }
    return h(
      'table',
      { class: 'nbmlops-table nbmlops-fixed' },
      h(
        'colgroup',
        {},
        h('col', {}),
        h('col', { class: 'nbmlops-col-num' }),
        h('col', { class: 'nbmlops-col-num' })
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          clip('model', '', 'th'),
          clip('versions', 'nbmlops-num', 'th'),
          clip('production', 'nbmlops-num', 'th')
        )
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
            clip(m.name, 'nbmlops-model-name', 'td'),
            h('td', { class: 'nbmlops-num' }, fmt(m.versions)),
            h(
              'td',
              { class: 'nbmlops-num' },
              m.production_version === null ? '–' : `v${m.production_version}`
            )
          )
        )
      )
    );
  }

  private async modelView(name: string): Promise<HTMLElement> {
    const [model, policy] = await Promise.all([
      requestAPI<IModelDetail>(`models/${encodeURIComponent(name)}`),
      requestAPI<IPolicy>(`models/${encodeURIComponent(name)}/policy`)
    ]);
    this.lastGates.set(name, model.last_gates);
    const metricKeys = Array.from(
      new Set(model.versions.flatMap(v => Object.keys(v.metrics)))
    ).slice(0, 1);
    const rows = model.versions
      .slice()
      .reverse()
      .map(v => {
        const held = holds(v);
        return h(
          'div',
          { class: 'nbmlops-version-row', 'data-version': String(v.version) },
          h(
            'div',
            { class: 'nbmlops-version-line' },
            h('span', { class: 'nbmlops-version' }, `v${v.version}`),
            h('span', { class: 'nbmlops-badges' }, ...badges(v)),
            ...metricKeys
              .filter(k => v.metrics[k] !== null && v.metrics[k] !== undefined)
              .map(k =>
                h(
                  'span',
                  { class: 'nbmlops-version-metric', title: `${k} = ${String(v.metrics[k])}` },
                  clip(k, 'nbmlops-dim'),
                  h('span', { class: 'nbmlops-num' }, fmt(v.metrics[k]))
                )
              )
          ),
          h(
            'div',
            { class: 'nbmlops-actions' },
            h(
              'button',
              {
                class: 'nbmlops-promote',
                title: `Promote v${v.version}: choose the stage, check the gates`,
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
            ),
            h(
              'button',
              {
                class: 'nbmlops-delete',
                title: held
                  ? `v${v.version} ${held}: it cannot be deleted`
                  : `Delete v${v.version} (kept in the history; its files stay while another version uses them)`,
                ...(held ? { disabled: '' } : {}),
                onclick: () => void this.deleteVersion(name, v.version)
              },
              'Delete…'
            )
          )
        );
      });
    const rollback = h(
      'button',
      {
        class: 'nbmlops-rollback jp-mod-styled jp-mod-warn',
        onclick: () => void this.rollback(name, model)
      },
      'Rollback production…'
    );
    if (model.rollback_to === null) {
      rollback.setAttribute('disabled', '');
      rollback.title =
        model.production_version === null
          ? `Nothing to roll back to: ${name} has no production version yet`
          : `Nothing to roll back to: v${model.production_version} is the only version ` +
            `${name} has had in production`;
    } else {
      rollback.title =
        `Put v${model.rollback_to} back in production ` +
        `(v${model.production_version} is archived)`;
    }
    return h(
      'div',
      { class: 'nbmlops-model', 'data-model': name },
      backButton(() => {
        this.openModel = null;
        void this.refresh();
      }),
      h('h3', { class: 'nbmlops-title' }, clip(name, 'nbmlops-title-text')),
      // A disabled button shows no tooltip in some browsers: the wrapper carries it too.
      h('span', { class: 'nbmlops-rollback-wrap', title: rollback.title }, rollback),
      h('div', { class: 'nbmlops-versions' }, ...rows),
      section('Policy', policyView(policy)),
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
              e.reason ? h('span', { class: 'nbmlops-dim' }, ` “${e.reason}”`) : null,
              e.gates && e.gates.length
                ? h('div', { class: 'nbmlops-dim nbmlops-history-gates' }, `gates: ${e.gates.join('; ')}`)
                : null
            )
          )
        )
      )
    );
  }

  /**
   * The promote dialog: stage, gates (the model's last used ones offered), reason. A refusal
   * (failing gates: HTTP 409 with the gate table; a bad gate or a missing reason: 400) opens
   * it again with what was typed and why it was refused; nothing was changed.
   */
  private async promote(name: string, version: IVersionRow): Promise<void> {
    const lastGates = this.lastGates.get(name) || [];
    let value: IPromoteValue = { stage: 'production', gates: lastGates, reason: '' };
    let failure: IPromoteFailure | null = null;
    for (;;) {
      const form = new PromoteForm(
        `Promote ${name} v${version.version}? Promoting to production archives the current ` +
          'production version. The gates are checked first; if one fails nothing changes.',
        value,
        lastGates,
        failure
      );
      const result = await showDialog({
        title: `Promote ${name} v${version.version}`,
        body: form,
        buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Promote' })]
      });
      if (!result.button.accept || !result.value) {
        return;
      }
      value = result.value;
      try {
        const moved = await postAPI<IMoved>(`models/${encodeURIComponent(name)}/promote`, {
          version: version.version,
          to: value.stage,
          reason: value.reason,
          gates: value.gates
        });
        await this.refresh();
        if (moved.request) {
          // Under a policy nothing moved: a request waits for approval.
          const r = moved.request;
          this.setStatus(
            `Request ${r.id} opened: ${r.name} v${r.version} → ${r.to_stage} waits for ` +
              `${r.approvals_needed} approval${r.approvals_needed === 1 ? '' : 's'} ` +
              '(Approvals tab); nothing moved yet.'
          );
        } else {
          this.setStatus(`${moved.name} v${moved.version} is now ${moved.stage ?? 'registered'}.`);
        }
        return;
      } catch (error) {
        if (!(error instanceof ApiError) || (error.status !== 400 && error.status !== 409)) {
          await showErrorMessage('nbmlops', messageOf(error));
          return;
        }
        failure = { message: error.message, gates: error.gates };
        await this.refresh(); // show the model as it is: nothing moved
      }
    }
  }

  private async rollback(name: string, model: IModelDetail): Promise<void> {
    const result = await showDialog({
      title: `Roll back ${name}`,
      body: new ReasonForm(
        `Put v${model.rollback_to} of ${name} back in production in place of ` +
          `v${model.production_version}?`
      ),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Roll back' })]
    });
    if (!result.button.accept || !result.value) {
      return;
    }
    try {
      const moved = await postAPI<IMoved>(`models/${encodeURIComponent(name)}/rollback`, {
        reason: result.value.reason
      });
      await this.refresh();
      this.setStatus(`${moved.name} v${moved.version} is now ${moved.stage ?? 'registered'}.`);
    } catch (error) {
      await this.refresh();
      await showErrorMessage('nbmlops', messageOf(error));
    }
  }

  private async deleteVersion(name: string, version: number): Promise<void> {
    const result = await showDialog({
      title: `Delete ${name} v${version}`,
      body: new ReasonForm(
        `Delete version ${version} of ${name}? The deletion is kept in the model history; ` +
          'its files stay while another version uses them.'
      ),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!result.button.accept || !result.value) {
      return;
    }
    try {
      await deleteAPI(`models/${encodeURIComponent(name)}/versions/${version}`, {
        reason: result.value.reason
      });
      await this.refresh();
      this.setStatus(`Deleted ${name} v${version}.`);
    } catch (error) {
      await this.refresh();
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
      return emptyState(
        'No saved drift reports yet.',
        'Save one from a notebook: ',
        h('code', {}, 'nbmlops.drift_report(reference, current).save()'),
        '.'
      );
    }
    return h(
      'table',
      { class: 'nbmlops-table nbmlops-fixed' },
      h(
        'colgroup',
        {},
        h('col', {}),
        h('col', { class: 'nbmlops-col-status' }),
        h('col', { class: 'nbmlops-col-experiment' })
      ),
      h(
        'thead',
        {},
        h('tr', {}, clip('report', '', 'th'), clip('drift', '', 'th'), clip('created', '', 'th'))
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
              { class: 'nbmlops-clip' },
              h(
                'a',
                {
                  href: apiUrl(`reports/${encodeURIComponent(r.report_id)}/html`),
                  target: '_blank',
                  rel: 'noopener',
                  title: r.name || r.report_id
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
            clip(when(r.created_at), '', 'td')
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
  private timer: number | null = null;
  private lastGates = new Map<string, string[]>();
}

function statusBadge(status: string): HTMLElement {
  return h(
    'span',
    { class: `nbmlops-badge nbmlops-status-${status.toLowerCase()}`, title: status },
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

/** What keeps a version from being deleted (production, an alias), or null. */
function holds(version: IVersionRow): string | null {
  if (version.stage === 'production') {
    return 'is in production (promote another version first)';
  }
  if (version.aliases.length) {
    return `holds ${version.aliases.map(a => '@' + a).join(', ')} (move or delete the alias first)`;
  }
  return null;
}

interface IMoved {
  name: string;
  version: number;
  stage: string | null;
  /** Under a policy: the request opened instead of moving the version. */
  request?: IRequest;
}

/** What promoting the model needs, per stage; or that it needs nothing. */
function policyView(policy: IPolicy): HTMLElement {
  const stages = Object.entries(policy.policy || {});
  if (stages.length === 0) {
    return h(
      'p',
      { class: 'nbmlops-empty nbmlops-policy' },
      'No policy: a promotion moves at once, checked by the gates it is given.'
    );
  }
  return h(
    'div',
    { class: 'nbmlops-policy' },
    ...stages.map(([stage, p]) =>
      h(
        'div',
        { class: 'nbmlops-policy-stage', 'data-stage': stage },
        keyValues([
          [
            stage,
            `${p.approvals} approval${p.approvals === 1 ? '' : 's'}` +
              (p.separate_approver ? ', four eyes' : '')
          ]
        ]),
        ...(p.gates || []).map(g => clip(g, 'nbmlops-dim nbmlops-policy-gate', 'div'))
      )
    )
  );
}

function backButton(onclick: () => void): HTMLElement {
  return h('button', { class: 'nbmlops-back jp-mod-styled', onclick }, '‹ Back');
}

