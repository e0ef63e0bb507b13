// edgewatch dashboard, shared by app.js and review.js: element look-up and creation (text only through text nodes) and percentages.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);

  /** Creates an element; strings and numbers become text nodes (never HTML). `style` takes an object of style properties. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null) continue;
      if (k === 'class') node.className = v;
      else if (k === 'style') Object.assign(node.style, v);
      else node.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c == null) continue;
      node.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return node;
  }

  /** A share as a percentage with `d` decimals; an em dash when unknown. */
  const pct = (v, d = 1) => (v == null ? '—' : `${(v * 100).toFixed(d)}%`);

  window.EwDom = { $, el, pct };
})();
