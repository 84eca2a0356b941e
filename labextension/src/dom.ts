/** Small DOM helpers: every user string goes in as text, never as HTML. */

type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | ((event: Event) => void)> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') {
      node.addEventListener(key.replace(/^on/, ''), value);
    } else {
      node.setAttribute(key, value);
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(
      child instanceof Node ? child : document.createTextNode(String(child))
    );
  }
  return node;
}

export function fmt(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      return String(value);
    }
    return Number(value.toPrecision(4)).toString();
  }
  if (typeof value === 'object') {
    return JSON.stringify(value);
  }
  return String(value);
}

export function when(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

const SVG = 'http://www.w3.org/2000/svg';

/** A small line chart (plain SVG) of one metric's values by step. */
export function sparkline(
  points: { step: number; value: number | null }[],
  width = 120,
  height = 28
): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.classList.add('nbmlops-sparkline');
  const finite = points.filter(
    p => p.value !== null && Number.isFinite(p.value)
  ) as { step: number; value: number }[];
  if (finite.length === 0) {
    return svg;
  }
  const steps = finite.map(p => p.step);
  const values = finite.map(p => p.value);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  const [y0, y1] = [Math.min(...values), Math.max(...values)];
  const pad = 3;
  const x = (s: number) =>
    x1 === x0 ? width / 2 : pad + ((s - x0) / (x1 - x0)) * (width - 2 * pad);
  const y = (v: number) =>
    y1 === y0
      ? height / 2
      : height - pad - ((v - y0) / (y1 - y0)) * (height - 2 * pad);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute(
    'points',
    finite.map(p => `${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ')
  );
  svg.append(line);
  const last = finite[finite.length - 1];
  const dot = document.createElementNS(SVG, 'circle');
  dot.setAttribute('cx', x(last.step).toFixed(1));
  dot.setAttribute('cy', y(last.value).toFixed(1));
  dot.setAttribute('r', '2');
  svg.append(dot);
  const title = document.createElementNS(SVG, 'title');
  title.textContent = `${finite.length} values, from ${fmt(values[0])} to ${fmt(last.value)}`;
  svg.append(title);
  return svg;
}

/**
 * One line of text cut with an ellipsis when it does not fit, the full text on hover
 * (``title``): long names never wrap letter by letter nor leave the panel.
 */
export function clip(
  text: string,
  cls = '',
  tag: 'span' | 'div' | 'td' | 'th' = 'span'
): HTMLElement {
  return h(tag, { class: `nbmlops-clip ${cls}`.trim(), title: text }, text);
}

/**
 * Key/value rows that stay inside a narrow panel: the value sits right of its key when
 * both fit, else wraps onto its own line below it; each part is ellipsized with a title.
 */
export function keyValues(
  pairs: [string, string | Node][],
  cls = ''
): HTMLElement {
  return h(
    'div',
    { class: `nbmlops-kv ${cls}`.trim() },
    ...pairs.map(([key, value]) =>
      h(
        'div',
        { class: 'nbmlops-kv-row' },
        clip(key, 'nbmlops-kv-key'),
        typeof value === 'string'
          ? clip(value, 'nbmlops-kv-value')
          : h('span', { class: 'nbmlops-kv-value' }, value)
      )
    )
  );
}

/** A short time for lists: the time of day for today, else the date. */
export function shortWhen(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  return date.toDateString() === new Date().toDateString()
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString();
}

/** A size in bytes as people read it: 812 B, 95.1 KiB, 3.2 MiB. */
export function bytes(size: number | null): string {
  if (size === null || size === undefined) {
    return '';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${size} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A titled part of a view. */
export function section(title: string, ...content: Child[]): HTMLElement {
  return h('section', { class: 'nbmlops-section' }, h('h4', {}, title), ...content);
}

/** What an empty list says: its title and how to fill it. */
export function emptyState(title: string, ...how: (string | Node)[]): HTMLElement {
  return h(
    'div',
    { class: 'nbmlops-empty-state' },
    h('p', { class: 'nbmlops-empty-title' }, title),
    h('p', { class: 'nbmlops-empty' }, ...how)
  );
}

/** A PASS/FAIL badge. */
export function passBadge(passed: boolean): HTMLElement {
  return h(
    'span',
    {
      class: `nbmlops-badge ${passed ? 'nbmlops-status-finished' : 'nbmlops-status-failed'}`
    },
    passed ? 'PASS' : 'FAIL'
  );
}

/**
 * Gate or guard rows for a narrow panel: the rule on one line (ellipsized, full on hover),
 * its value against the threshold and PASS/FAIL right-aligned below it when they do not fit.
 */
export function checkList(
  rows: { gate: string; value: number | null; threshold: number | null; passed: boolean; detail: string | null }[],
  cls = ''
): HTMLElement {
  return h(
    'div',
    { class: `nbmlops-checks ${cls}`.trim() },
    ...rows.map(row =>
      h(
        'div',
        {
          class: `nbmlops-check ${row.passed ? 'nbmlops-gate-passed' : 'nbmlops-gate-failed'}`,
          title: row.detail ? `${row.gate}: ${row.detail}` : row.gate
        },
        h('span', { class: 'nbmlops-clip nbmlops-check-rule', title: row.gate }, row.gate),
        h(
          'span',
          { class: 'nbmlops-check-result' },
          h(
            'span',
            { class: 'nbmlops-num nbmlops-check-value' },
            row.value === null ? (row.detail ? 'n/a' : '—') : fmt(row.value)
          ),
          passBadge(row.passed)
        )
      )
    )
  );
}
