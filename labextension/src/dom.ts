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
