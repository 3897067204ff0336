// The Sanad chat page: ask, read the streamed answer, open each citation at its exact span,
// manage documents. No framework, no build step; data is only ever inserted as text.

import {
  ApiError, askStream, collection, documentPath, documentPathIn, documentsBase, getJson, hooks, request, setApiKey,
  setCollection,
} from "./api.js";
import { applyChrome, dirOf, guessLanguage, label } from "./i18n.js";
import {
  cpLength, cpSlice, el, formatDate, formatSize, highlightedParagraph, renderAnswerText, textDirection,
} from "./render.js";

const $ = (id) => document.getElementById(id);
const LANG_STORAGE = "sanad.lang";

const state = {
  lang: "en",            // the page chrome's language
  conversationId: null,
  busy: false,
  ready: false,
  panelReturn: null,     // the element that opened the citation panel (focus returns to it)
  panelCitation: null,
  panelLang: "en",
};

// ------------------------------------------------------------------------- language

function initialLanguage() {
  const fromUrl = new URLSearchParams(location.search).get("lang");
  if (fromUrl === "ar" || fromUrl === "en") return fromUrl;
  const stored = localStorage.getItem(LANG_STORAGE);
  if (stored === "ar" || stored === "en") return stored;
  return (navigator.language || "en").toLowerCase().startsWith("ar") ? "ar" : "en";
}

function setLanguage(lang) {
  state.lang = lang;
  localStorage.setItem(LANG_STORAGE, lang);
  applyChrome(lang);
  const byDefault = document.querySelector('#collection-picker option[value="default"]');
  if (byDefault) byDefault.textContent = label(lang, "defaultCollection");
  const question = $("question");
  if (!question.value.trim()) question.dir = dirOf(lang);
  if (!$("status").hidden && !state.ready) showStatus(label(state.lang, "loading"), true);
}

// --------------------------------------------------------------------------- status

function showStatus(text, spinning) {
  $("status").hidden = false;
  $("status").classList.toggle("spinning", Boolean(spinning));
  $("status-text").textContent = text;
}

function hideStatus() {
  $("status").hidden = true;
}

hooks.onWait = (seconds) => {
  if (seconds > 0) showStatus(label(state.lang, "rateLimited", seconds), true);
  else hideStatus();
};

// --------------------------------------------------------------------------- API key

// one prompt at a time: requests refused together (the collection list, a question) share it
let keyPrompt = null;
hooks.askKey = (reason, serverMessage) => {
  if (!keyPrompt) keyPrompt = promptKey(reason, serverMessage).finally(() => { keyPrompt = null; });
  return keyPrompt;
};

const promptKey = (reason, serverMessage) => new Promise((resolve) => {
  const dialog = $("key-dialog");
  const input = $("key-input");
  const message = $("key-message");
  const text = label(state.lang, reason === "invalid" ? "keyInvalid" : "keyMissing");
  message.textContent = serverMessage ? `${text} (${serverMessage})` : text;
  input.value = "";
  const returnTo = document.activeElement;
  const finish = (value) => {
    $("key-form").removeEventListener("submit", onSubmit);
    dialog.removeEventListener("cancel", onCancel);
    if (dialog.open) dialog.close();
    if (returnTo && returnTo.focus) returnTo.focus();
    resolve(value);
  };
  const onSubmit = (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (value) finish(value);
  };
  const onCancel = () => { setApiKey(null); finish(null); };
  $("key-form").addEventListener("submit", onSubmit);
  dialog.addEventListener("cancel", onCancel);
  if (!dialog.open) dialog.showModal();
  input.focus();
});

// ---------------------------------------------------------------------- readiness

async function waitReady() {
  for (;;) {
    let response = null;
    try {
      response = await fetch("/readyz", { cache: "no-store" });
    } catch {
      showStatus(label(state.lang, "networkError"), true);
    }
    if (response && response.ok) {
      state.ready = true;
      hideStatus();
      return;
    }
    if (response) {
      let body = null;
      try { body = await response.json(); } catch { /* keep waiting */ }
      const err = body && body.error;
      if (err && err.code === "load_failed") {
        showStatus(`${label(state.lang, "loadFailed")} ${err.message}`, false);
        $("status").classList.add("error");
        return;
      }
      showStatus(label(state.lang, "loading"), true);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// --------------------------------------------------------------------------- asking

function scrollToEnd() {
  const conv = $("conversation");
  conv.scrollTop = conv.scrollHeight;
}

function addMessage(role, lang) {
  $("empty-hint").hidden = true;
  const msg = el("article", `message ${role}`);
  msg.lang = lang;
  msg.dir = dirOf(lang); // each message in its own direction, whatever the page's
  const who = el("h3", "who", label(state.lang, role === "user" ? "you" : "sanad"));
  who.lang = state.lang;
  who.dir = dirOf(state.lang);
  const body = el("div", "body");
  body.dir = "auto";
  msg.append(who, body);
  $("conversation").append(msg);
  return { msg, who, body };
}

function makeMarker(citation, lang) {
  const button = el("button", "cite", `[${citation.ref}]`);
  button.type = "button";
  button.dir = "ltr";
  button.dataset.ref = String(citation.ref);
  button.setAttribute("aria-label", label(state.lang, "citationControl", citation.ref, citation.file, citation.paragraph));
  button.setAttribute("aria-haspopup", "dialog");
  button.addEventListener("mouseenter", () => showCard(button, citation, lang));
  button.addEventListener("focus", () => showCard(button, citation, lang));
  button.addEventListener("mouseleave", hideCard);
  button.addEventListener("blur", hideCard);
  button.addEventListener("click", () => openCitation(citation, lang, button));
  return button;
}

function finishAnswer(view, answer) {
  const lang = answer.language || view.lang;
  view.msg.lang = lang;
  view.msg.dir = dirOf(lang);
  view.who.textContent = label(state.lang, "sanad");
  view.who.lang = state.lang;
  view.who.dir = dirOf(state.lang);
  view.msg.classList.remove("pending");
  view.msg.dataset.answerable = String(Boolean(answer.answerable));
  if (!answer.answerable) {
    view.msg.classList.add("abstained");
    const badge = el("p", "badge", label(state.lang, "notInDocuments"));
    badge.lang = state.lang;
    badge.dir = dirOf(state.lang);
    view.msg.insertBefore(badge, view.body);
    view.body.textContent = answer.answer;
    return;
  }
  renderAnswerText(view.body, answer.answer, answer.citations || [], (c) => makeMarker(c, lang),
    textDirection(answer.answer) || dirOf(lang));
  if (answer.citations && answer.citations.length) {
    const list = el("ol", "sources");
    list.lang = state.lang;
    list.setAttribute("aria-label", label(state.lang, "citation"));
    for (const c of answer.citations) {
      const item = el("li");
      item.value = c.ref;
      const link = el("button", "source-link");
      link.type = "button";
      link.dir = dirOf(state.lang);
      const where = [];
      if (c.page_start) where.push(`${label(state.lang, "page")} ${c.page_start}`);
      where.push(`${label(state.lang, "paragraph")} ${c.paragraph}`);
      where.push(`${label(state.lang, "lines")} ${c.line_start}${c.line_end !== c.line_start ? `–${c.line_end}` : ""}`);
      // the document's title, its file name beside it (hash-like names say little on their own)
      if (c.title && c.title !== c.file) {
        const title = el("bdi", "source-title", c.title.length > 80 ? `${c.title.slice(0, 79)}…` : c.title);
        title.dir = "auto";
        link.append(title, " ");
      }
      const name = el("bdi", "source-file", c.file);
      link.append(name, ` · ${where.join(" · ")}`);
      if (c.ocr) link.append(" ", ocrBadge(c, lang));
      link.addEventListener("click", () => openCitation(c, lang, link));
      item.append(link);
      list.append(item);
    }
    view.msg.append(list);
  }
  for (const w of answer.warnings || []) {
    const p = el("p", "warning", `${label(state.lang, "warning")} ${w}`);
    p.dir = "auto";
    view.msg.append(p);
  }
}

function showError(view, error) {
  view.msg.classList.remove("pending");
  view.msg.classList.add("failed");
  const message = error instanceof ApiError || (error && error.message) ? error.message : String(error);
  const p = el("p", "error", `${label(state.lang, "errorPrefix")} ${message || label(state.lang, "networkError")}`);
  p.dir = "auto";
  p.setAttribute("role", "alert");
  view.msg.append(p);
}

async function ask(question) {
  question = question.trim();
  if (!question || state.busy) return;
  state.busy = true;
  $("ask-button").disabled = true;
  performance.clearMarks();
  performance.mark("sanad-ask");
  const qLang = guessLanguage(question);
  const user = addMessage("user", qLang);
  user.body.textContent = question;
  const view = addMessage("assistant", qLang);
  view.lang = qLang;
  view.msg.classList.add("pending");
  const thinking = el("span", "thinking", label(state.lang, "thinking"));
  view.body.append(thinking);
  scrollToEnd();
  let text = "";
  let textNode = null;
  let answer = null;
  try {
    const body = { question };
    if (collection() !== "default") body.collection = collection();
    if (state.conversationId) body.conversation_id = state.conversationId;
    await askStream(body, (event, data) => {
      if (event === "delta") {
        if (!textNode) {
          view.body.replaceChildren();
          textNode = document.createTextNode("");
          view.body.append(textNode);
          performance.mark("sanad-first-delta");
        }
        text += data.text;
        textNode.data = text;
        scrollToEnd();
      } else if (event === "done") {
        answer = data;
      }
    });
    if (!answer) throw new ApiError(500, "incomplete", "the answer stream ended early");
    state.conversationId = answer.conversation_id || state.conversationId;
    if (!textNode) performance.mark("sanad-first-delta");
    finishAnswer(view, answer);
    performance.mark("sanad-answer-shown");
    view.msg.dataset.conversationId = state.conversationId || "";
  } catch (error) {
    if (thinking.isConnected) thinking.remove();
    showError(view, error);
  } finally {
    state.busy = false;
    $("ask-button").disabled = false;
    scrollToEnd();
    document.body.dataset.answers = String(document.querySelectorAll(".message.assistant:not(.pending)").length);
  }
}

function newConversation() {
  state.conversationId = null;
  for (const m of document.querySelectorAll("#conversation .message")) m.remove();
  $("empty-hint").hidden = false;
  document.body.dataset.answers = "0";
  $("question").value = "";
  $("question").focus();
}

// ---------------------------------------------------------------- citation card

let cardOwner = null;

function showCard(button, c, lang) {
  const card = $("cite-card");
  card.replaceChildren();
  card.lang = state.lang;
  card.dir = dirOf(state.lang);
  const meta = el("dl", "meta");
  fillCitationMeta(meta, c, lang);
  const quote = el("blockquote", "quote", c.quote);
  quote.dir = "auto";
  card.append(meta, quote);
  card.hidden = false;
  const r = button.getBoundingClientRect();
  const width = Math.min(420, window.innerWidth - 16);
  card.style.width = `${width}px`;
  let left = lang === "ar" ? r.right - width : r.left;
  left = Math.max(8, Math.min(left, window.innerWidth - width - 8));
  card.style.left = `${left + window.scrollX}px`;
  const below = r.bottom + 6;
  const height = card.offsetHeight;
  const top = below + height > window.innerHeight && r.top - height - 6 > 0 ? r.top - height - 6 : below;
  card.style.top = `${top + window.scrollY}px`;
  button.setAttribute("aria-describedby", "cite-card");
  cardOwner = button;
}

function hideCard() {
  $("cite-card").hidden = true;
  if (cardOwner) cardOwner.removeAttribute("aria-describedby");
  cardOwner = null;
}

// -------------------------------------------------------------- citation panel

function focusables(root) {
  return [...root.querySelectorAll("button, [href], input, textarea, select, [tabindex]:not([tabindex='-1'])")]
    .filter((e) => !e.disabled && !e.hidden && e.getClientRects().length > 0);
}

/** Keep Tab and Shift+Tab inside an open dialog. */
function trapFocus(dialog) {
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const items = focusables(dialog);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      first.focus();
    }
  });
}

/** The badge of a source read by OCR: "OCR 91%", its confidence in the title. */
function ocrBadge(c, lang) {
  const pct = Math.round(100 * (c.ocr_confidence || 0));
  const badge = el("span", "badge ocr-badge", `${label(state.lang, "ocr")} ${pct}%`);
  badge.title = label(state.lang, "ocrTitle")(pct);
  badge.dir = "ltr";
  return badge;
}

/** A citation's file, page (paged formats), paragraph and lines as dt/dd pairs in `meta`. */
function fillCitationMeta(meta, c, lang) {
  const add = (key, value) => {
    const dd = el("dd", null, value);
    dd.dir = "auto";
    meta.append(el("dt", null, label(state.lang, key)), dd);
  };
  add("file", c.file);
  if (c.page_start) add("page", c.page_end && c.page_end !== c.page_start ? `${c.page_start}–${c.page_end}` : c.page_start);
  add("paragraph", c.paragraph);
  add("lines", c.line_end !== c.line_start ? `${c.line_start}–${c.line_end}` : c.line_start);
  if (c.ocr) {
    meta.append(el("dt", null, label(state.lang, "ocr")));
    const dd = el("dd");
    dd.append(ocrBadge(c, lang));
    meta.append(dd);
  }
}

function panelMeta(c, lang) {
  const meta = $("citation-meta");
  meta.replaceChildren();
  fillCitationMeta(meta, c, lang);
}

async function fetchParagraph(file, n, coll = collection()) {
  try {
    return await getJson(documentPathIn(coll, file, "paragraphs", String(n)));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

async function openCitation(c, lang, opener) {
  hideCard();
  const panel = $("citation-panel");
  state.panelReturn = opener;
  state.panelCitation = c;
  state.panelLang = lang;
  panel.lang = state.lang;
  panel.dir = dirOf(state.lang);
  panel.classList.remove("whole");
  $("citation-title").textContent = `${label(state.lang, "citation")} [${c.ref}]`;
  $("citation-close").setAttribute("aria-label", label(state.lang, "close"));
  $("citation-whole").textContent = label(state.lang, "wholeDocument");
  $("citation-whole").hidden = false;
  $("citation-back").hidden = true;
  $("citation-back").textContent = label(state.lang, "backToCitation");
  panelMeta(c, lang);
  const body = $("citation-body");
  body.replaceChildren(el("p", "hint", label(state.lang, "loadingContext")));
  if (!panel.open) panel.showModal();
  $("citation-close").focus();
  try {
    const [prev, para, next] = await Promise.all([
      c.paragraph > 1 ? fetchParagraph(c.file, c.paragraph - 1, c.collection) : null,
      fetchParagraph(c.file, c.paragraph, c.collection),
      fetchParagraph(c.file, c.paragraph + 1, c.collection),
    ]);
    if (state.panelCitation !== c) return;
    if (!para) throw new ApiError(404, "not_found", `no such paragraph: ${c.file} ${c.paragraph}`);
    const section = el("section", "context");
    section.setAttribute("aria-label", label(state.lang, "context"));
    if (prev) {
      const p = el("p", "para around", prev.text);
      p.dir = "auto";
      section.append(p);
    }
    const { node, mark } = highlightedParagraph(para.text, para.char_start, c.char_start, c.char_end);
    node.dataset.paragraph = String(para.paragraph);
    section.append(node);
    if (next) {
      const p = el("p", "para around", next.text);
      p.dir = "auto";
      section.append(p);
    }
    body.replaceChildren(section);
    mark.scrollIntoView({ block: "center" });
  } catch (error) {
    if (state.panelCitation !== c) return;
    const p = el("p", "error", `${label(state.lang, "errorPrefix")} ${error.message}`);
    p.setAttribute("role", "alert");
    body.replaceChildren(p);
  }
}

async function openWholeDocument() {
  const c = state.panelCitation;
  const lang = state.panelLang;
  if (!c) return;
  const body = $("citation-body");
  body.replaceChildren(el("p", "hint", label(state.lang, "loadingContext")));
  try {
    const [doc, para] = await Promise.all([getJson(documentPathIn(c.collection, c.file, "text")),
      fetchParagraph(c.file, c.paragraph, c.collection)]);
    if (state.panelCitation !== c) return;
    const text = doc.text;
    const len = cpLength(text);
    const pStart = para ? para.char_start : c.char_start;
    const pEnd = para ? para.char_end : c.char_end;
    const whole = el("div", "whole-text");
    whole.dir = "auto";
    const cited = el("span", "cited-paragraph");
    cited.id = "cited-paragraph";
    cited.append(cpSlice(text, pStart, c.char_start), el("mark", null, cpSlice(text, c.char_start, c.char_end)),
      cpSlice(text, c.char_end, pEnd));
    whole.append(cpSlice(text, 0, pStart), cited, cpSlice(text, pEnd, len));
    body.replaceChildren(whole);
    $("citation-panel").classList.add("whole");
    $("citation-whole").hidden = true;
    $("citation-back").hidden = false;
    $("citation-back").textContent = label(state.lang, "backToCitation");
    cited.scrollIntoView({ block: "center" });
    $("citation-back").focus();
  } catch (error) {
    const p = el("p", "error", `${label(state.lang, "errorPrefix")} ${error.message}`);
    p.setAttribute("role", "alert");
    body.replaceChildren(p);
  }
}

function closeCitation() {
  const panel = $("citation-panel");
  if (panel.open) panel.close();
}

// ----------------------------------------------------------------- documents

async function refreshDocuments() {
  const lang = state.lang;
  const list = $("documents-list");
  try {
    const data = await getJson(documentsBase());
    list.replaceChildren();
    if (!data.documents.length) {
      const row = el("tr");
      const cell = el("td", "hint", label(state.lang, "noDocuments"));
      cell.colSpan = 5;
      row.append(cell);
      list.append(row);
    }
    for (const d of data.documents) {
      const row = el("tr");
      row.dataset.file = d.file;
      const name = el("td", "doc-name");
      const strong = el("span", "file", d.file);
      strong.dir = "auto";
      name.append(strong);
      if (d.title && d.title !== d.file) {
        const title = el("span", "title", d.title);
        title.dir = "auto";
        name.append(title);
      }
      const del = el("button", "delete", label(state.lang, "delete"));
      del.type = "button";
      del.setAttribute("aria-label", label(state.lang, "deleteLabel", d.file));
      del.addEventListener("click", () => deleteDocument(d.file));
      const actions = el("td");
      actions.append(del);
      row.append(name, el("td", "num", d.paragraphs), el("td", "num", formatSize(d.size, lang)),
        el("td", "date", formatDate(d.indexed_at)), actions);
      list.append(row);
    }
  } catch (error) {
    setDocStatus(`${label(state.lang, "errorPrefix")} ${error.message}`, true);
  }
}

function setDocStatus(text, isError = false) {
  const status = $("documents-status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

async function deleteDocument(file) {
  const lang = state.lang;
  if (!window.confirm(label(state.lang, "confirmDelete", file))) return;
  try {
    await request(documentPath(file), { method: "DELETE" });
    setDocStatus(label(state.lang, "deleted", file));
  } catch (error) {
    setDocStatus(`${label(state.lang, "errorPrefix")} ${error.message}`, true);
  }
  await refreshDocuments();
  $("upload-input").focus();
}

async function uploadFiles(files) {
  const lang = state.lang;
  const panel = $("documents-panel");
  if (!panel.open) openDocuments();
  for (const file of files) {
    setDocStatus(label(state.lang, "uploading", file.name));
    panel.classList.add("busy");
    try {
      const form = new FormData();
      form.append("file", file, file.name);
      const response = await request(documentsBase(), { method: "POST", body: form });
      const info = await response.json();
      // 202: it needs OCR and is read in the background (GET info.status_url says how it goes)
      setDocStatus(response.status === 202 ? label(state.lang, "ocrQueued", info.file)
        : label(state.lang, "uploaded", info.file, info.paragraphs));
    } catch (error) {
      setDocStatus(`${label(state.lang, "errorPrefix")} ${file.name}: ${error.message}`, true);
      break;
    } finally {
      panel.classList.remove("busy");
    }
  }
  await refreshDocuments();
}

let documentsReturn = null;

function openDocuments() {
  const panel = $("documents-panel");
  documentsReturn = document.activeElement;
  setDocStatus("");
  panel.dir = dirOf(state.lang);
  if (!panel.open) panel.showModal();
  $("documents-close").focus();
  refreshDocuments();
}

// --------------------------------------------------------------------- wiring

function wire() {
  const form = $("ask-form");
  const question = $("question");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = question.value;
    if (!text.trim() || state.busy || !state.ready) return;
    question.value = "";
    question.dir = dirOf(state.lang);
    ask(text);
  });
  const syncDir = () => { question.dir = question.value.trim() ? "auto" : dirOf(state.lang); };
  question.addEventListener("input", syncDir);
  syncDir();
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  $("new-conversation").addEventListener("click", newConversation);
  $("switch-language").addEventListener("click", () => setLanguage(state.lang === "ar" ? "en" : "ar"));

  const panel = $("citation-panel");
  trapFocus(panel);
  $("citation-close").addEventListener("click", closeCitation);
  $("citation-whole").addEventListener("click", openWholeDocument);
  $("citation-back").addEventListener("click", () => {
    const c = state.panelCitation;
    if (c) openCitation(c, state.panelLang, state.panelReturn);
  });
  panel.addEventListener("close", () => {
    state.panelCitation = null;
    const opener = state.panelReturn;
    if (opener && opener.isConnected) opener.focus();
  });
  panel.addEventListener("click", (event) => { if (event.target === panel) closeCitation(); });

  const docs = $("documents-panel");
  trapFocus(docs);
  $("open-documents").addEventListener("click", openDocuments);
  $("collection-picker").addEventListener("change", (event) => chooseCollection(event.target.value));
  $("documents-close").addEventListener("click", () => docs.close());
  docs.addEventListener("close", () => { if (documentsReturn && documentsReturn.isConnected) documentsReturn.focus(); });
  docs.addEventListener("click", (event) => { if (event.target === docs) docs.close(); });
  $("upload-input").addEventListener("change", (event) => {
    const files = [...event.target.files];
    event.target.value = "";
    if (files.length) uploadFiles(files);
  });
  trapFocus($("key-dialog"));

  // drag and drop anywhere on the page
  let depth = 0;
  const overlay = $("drop-overlay");
  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    overlay.hidden = false;
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) overlay.hidden = true;
  });
  document.addEventListener("dragover", (event) => { if (hasFiles(event)) event.preventDefault(); });
  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    overlay.hidden = true;
    const files = [...event.dataTransfer.files];
    if (files.length) uploadFiles(files);
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") hideCard(); });
}

// ---------------------------------------------------------------- collections

/** Fill the picker with the collections the key may read; hidden when there is only one. */
async function loadCollections() {
  const picker = $("collection-picker");
  let names = ["default"];
  try {
    const data = await getJson("/v1/collections");
    names = data.collections.map((c) => c.name);
  } catch (error) {
    showStatus(`${label(state.lang, "errorPrefix")} ${error.message}`, false);
  }
  if (!names.includes(collection())) setCollection(names[0] || "default");
  picker.replaceChildren(...names.map((n) => {
    const option = el("option", null, n === "default" ? label(state.lang, "defaultCollection") : n);
    option.value = n;
    option.dir = "auto";
    return option;
  }));
  picker.value = collection();
  $("collection-field").hidden = names.length < 2;
  document.body.dataset.collections = String(names.length);
}

function chooseCollection(name) {
  setCollection(name);
  state.conversationId = null;  // a conversation stays within its collection
}

async function main() {
  setLanguage(initialLanguage());
  wire();
  $("ask-button").disabled = true;
  await waitReady();
  $("ask-button").disabled = !state.ready;
  document.body.dataset.ready = String(state.ready);
  if (state.ready) loadCollections();  // with keys set, this asks for the key at once
  const q = new URLSearchParams(location.search).get("q");
  if (state.ready && q && q.trim()) await ask(q);
  $("question").focus();
}

main();
