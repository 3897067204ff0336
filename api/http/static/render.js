// DOM building for answers and cited text. Everything that comes from the API or a document
// is inserted with textContent / text nodes, never as HTML.

/** Make an element with a class and optional text (as text, never HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/**
 * text[start:end] counted in code points, as the API's offsets are (Python str indices);
 * a JS string index counts UTF-16 units, which differ for characters outside the BMP.
 */
export function cpSlice(text, start, end) {
  if (!/[\uD800-\uDFFF]/.test(text)) return text.slice(start, end); // no surrogates: units == code points
  return Array.from(text).slice(start, end).join("");
}

export function cpLength(text) {
  return /[\uD800-\uDFFF]/.test(text) ? Array.from(text).length : text.length;
}

const STRONG = /[A-Za-z\u00C0-\u024F\u0370-\u03FF\u0400-\u04FF]|[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]/;

/** "rtl" or "ltr" from a text's first strong character (null when it has none). */
export function textDirection(text) {
  const m = STRONG.exec(text);
  if (!m) return null;
  return /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]/.test(m[0]) ? "rtl" : "ltr";
}

/**
 * Fill `container` with the answer text: each "[n]" whose citation is known becomes a button
 * (made by makeMarker), and the citation's quote just before it is isolated in its own span.
 * A quote whose direction differs from the answer's (an Arabic quote in an English answer)
 * becomes a block of its own direction with its marker inside, so it reads as one right-to-left
 * (or left-to-right) passage instead of being broken across the lines of the other direction.
 */
export function renderAnswerText(container, text, citations, makeMarker, direction) {
  container.replaceChildren();
  const byRef = new Map(citations.map((c) => [c.ref, c]));
  const re = /\[(\d+)\]/g;
  let last = 0;
  let afterBlock = false;
  let match;
  const plain = (s) => {
    if (afterBlock) s = s.replace(/^\n+/, "");
    afterBlock = false;
    if (s) container.append(s);
  };
  while ((match = re.exec(text)) !== null) {
    const citation = byRef.get(Number(match[1]));
    if (!citation) continue;
    const before = text.slice(last, match.index);
    const trimmed = before.replace(/\s+$/, "");
    const space = before.slice(trimmed.length);
    last = match.index + match[0].length;
    if (citation.quote && trimmed.endsWith(citation.quote)) {
      plain(trimmed.slice(0, trimmed.length - citation.quote.length));
      const qDir = textDirection(citation.quote);
      const q = el("span", "quote", citation.quote);
      if (direction && qDir && qDir !== direction) {
        const block = el("span", "quote-block");
        block.dir = qDir;
        q.dir = qDir;
        block.append(q, space || " ", makeMarker(citation));
        container.append(block);
        afterBlock = true;
        continue;
      }
      q.dir = "auto";
      container.append(q, space);
    } else {
      plain(before);
    }
    container.append(makeMarker(citation));
  }
  plain(text.slice(last));
}

/**
 * A paragraph's text with the cited span [charStart, charEnd) (document offsets) in <mark>;
 * `paraStart` is the paragraph's own char_start. Returns {node, mark}.
 */
export function highlightedParagraph(text, paraStart, charStart, charEnd, className = "para cited") {
  const node = el("p", className);
  node.dir = "auto";
  const len = cpLength(text);
  const a = Math.max(0, Math.min(len, charStart - paraStart));
  const b = Math.max(a, Math.min(len, charEnd - paraStart));
  const mark = el("mark", null, cpSlice(text, a, b));
  node.append(cpSlice(text, 0, a), mark, cpSlice(text, b, len));
  return { node, mark };
}

export function formatSize(bytes, lang) {
  const units = lang === "ar" ? ["بايت", "ك.ب", "م.ب"] : ["B", "KB", "MB"];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
  const n = i === 0 ? String(value) : value.toFixed(value < 10 ? 1 : 0);
  return `${n} ${units[i]}`;
}

export function formatDate(unixSeconds) {
  const d = new Date(unixSeconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
