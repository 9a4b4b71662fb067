// Building the page from data. Text always goes in as text nodes, never as HTML, so nothing an
// event or a profile holds can run in the console.

/** An element: `h('a', {href: '#/x', onclick: f}, 'text', child)`. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'value') {
      element.value = value;
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

const numberFormat = new Intl.NumberFormat('en');
const percentFormat = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 });

export function number(value, fractionDigits) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (fractionDigits !== undefined) {
    return new Intl.NumberFormat('en', {
      minimumFractionDigits: fractionDigits,
      maximumFractionDigits: fractionDigits,
    }).format(value);
  }
  return numberFormat.format(value);
}

export function percent(share) {
  if (share === null || share === undefined || Number.isNaN(share)) return '–';
  return percentFormat.format(share);
}

export function dateTime(text) {
  if (!text) return '–';
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? String(text) : date.toLocaleString('en-GB');
}

/**
 * A table: `columns` are `{label, value: row => text or node, numeric}`. An empty list says so
 * instead of showing an empty grid.
 */
export function table(columns, rows, { caption, empty = 'Nothing yet.' } = {}) {
  if (!rows || rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'div',
    { class: 'table-scroll' },
    h(
      'table',
      {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((column) =>
        h('th', { scope: 'col', class: column.numeric ? 'numeric' : null }, column.label)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map((column) =>
        h('td', { class: column.numeric ? 'numeric' : null }, column.value(row)))))),
    ),
  );
}

/** A labelled form control. */
export function field(label, control, hint) {
  const id = control.id || `field-${Math.random().toString(36).slice(2)}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control,
    hint ? h('small', {}, hint) : null);
}

/** A select with `options` as `[value, label]` pairs or plain values. */
export function select(options, value, attributes = {}) {
  return h('select', attributes, options.map((option) => {
    const [optionValue, optionLabel] = Array.isArray(option) ? option : [option, option];
    return h('option', { value: optionValue, selected: optionValue === value }, optionLabel);
  }));
}

/** A box that shows an error message, or nothing. */
export function errorBox() {
  const box = h('p', { class: 'error', role: 'alert', hidden: true });
  box.show = (error) => {
    box.hidden = false;
    box.textContent = error instanceof Error ? error.message : String(error);
  };
  box.clear = () => {
    box.hidden = true;
    box.textContent = '';
  };
  return box;
}

/** Figures in a row of cards: `[{label, value, detail}]`. */
export function cards(figures) {
  return h('div', { class: 'cards' }, figures.map((figure) =>
    h('div', { class: 'card' },
      h('div', { class: 'card-label' }, figure.label),
      h('div', { class: 'card-value' }, figure.value),
      figure.detail ? h('div', { class: 'card-detail' }, figure.detail) : null)));
}

/** A button that copies `text` to the clipboard. */
export function copyButton(text, label = 'Copy') {
  const button = h('button', { type: 'button', class: 'secondary small' }, label);
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select and copy';
    }
    setTimeout(() => { button.textContent = label; }, 1500);
  });
  return button;
}

/** Dates as `YYYY-MM-DD`, `days` before today. */
export function isoDay(daysAgo = 0) {
  const date = new Date(Date.now() - daysAgo * 86_400_000);
  return date.toISOString().slice(0, 10);
}

/** A length of time in seconds, in the largest unit that reads well: `45 s`, `3 min 20 s`, `2.5 h`. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '–';
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) {
    const rest = whole % 60;
    return rest ? `${Math.floor(whole / 60)} min ${rest} s` : `${whole / 60} min`;
  }
  if (seconds < 86_400) return `${number(seconds / 3600, 1)} h`;
  return `${number(seconds / 86_400, 1)} d`;
}
