// Building the page with DOM calls only: text goes in as text (never as HTML), so nothing a
// user typed — a product's or a KOL's name — can become markup.

/** h('div.card#id', {onclick, dataset, ...attributes}, ...children): an element. */
export function h(tag, props, ...children) {
  const [tagName, ...parts] = tag.split(/(?=[.#])/);
  const el = document.createElement(tagName || 'div');
  for (const part of parts) {
    if (part[0] === '#') el.id = part.slice(1);
    else el.classList.add(part.slice(1));
  }
  if (props && (typeof props !== 'object' || props instanceof Node || Array.isArray(props))) {
    children.unshift(props);
    props = null;
  }
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'class') el.className += (el.className ? ' ' : '') + value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A titled card whose body is replaced on each refresh. */
export function section(id, title) {
  const body = h('div.body');
  const el = h(`section.card#${id}`, h('h2', title), body);
  return { el, body, title: el.querySelector('h2') };
}
