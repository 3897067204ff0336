// Talking to the Sanad API: the API key (kept in sessionStorage), retries after 429, the
// server's own error messages, and Server-Sent Events read from a fetch() body.

const KEY_STORAGE = "sanad.apiKey";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Hooks the page sets: askKey(message) -> Promise<string|null>, onWait(seconds) while rate limited. */
export const hooks = {
  askKey: async () => null,
  onWait: () => {},
  maxRetries: 3,
};

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** The error a non-2xx response carries: the server's {"error": {code, message}} when present. */
export async function errorOf(response) {
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText || ""}`.trim();
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    } else if (body && typeof body.detail === "string") {
      message = body.detail;
    }
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(response.status, code, message);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * fetch() for /v1 paths with the key header; on 401 asks for a key (once per failure) and
 * retries; on 429 waits Retry-After seconds (telling hooks.onWait) and retries. Returns the
 * Response when it is 2xx, else throws ApiError with the server's message.
 */
export async function request(path, options = {}) {
  let retries = 0;
  for (;;) {
    const headers = new Headers(options.headers || {});
    const key = apiKey();
    if (key) headers.set("Authorization", `Bearer ${key}`);
    let response;
    try {
      response = await fetch(path, { ...options, headers });
    } catch (exc) {
      throw new ApiError(0, "network_error", exc && exc.message ? exc.message : String(exc));
    }
    if (response.ok) return response;
    if (response.status === 401) {
      const err = await errorOf(response);
      const entered = await hooks.askKey(key ? "invalid" : "missing", err.message);
      if (!entered) throw err;
      setApiKey(entered);
      continue;
    }
    if (response.status === 429 && retries < hooks.maxRetries) {
      retries += 1;
      const seconds = Math.max(1, Math.min(120, parseInt(response.headers.get("Retry-After") || "2", 10) || 2));
      for (let left = seconds; left > 0; left -= 1) {
        hooks.onWait(left);
        await sleep(1000);
      }
      hooks.onWait(0);
      continue;
    }
    throw await errorOf(response);
  }
}

export async function getJson(path) {
  return (await request(path)).json();
}

const COLLECTION_STORAGE = "sanad.collection";

/** The collection the page asks and manages (kept for this tab, like the key). */
export function collection() {
  return sessionStorage.getItem(COLLECTION_STORAGE) || "default";
}

export function setCollection(name) {
  if (name && name !== "default") sessionStorage.setItem(COLLECTION_STORAGE, name);
  else sessionStorage.removeItem(COLLECTION_STORAGE);
}

/** The documents route of a collection: /v1/documents for the default one. */
export function documentsBase(name = collection()) {
  return !name || name === "default" ? "/v1/documents" : `/v1/collections/${encodeURIComponent(name)}/documents`;
}

/** The path of a document route of `name`'s collection, the file name encoded as one segment. */
export function documentPathIn(name, file, ...rest) {
  return [documentsBase(name), encodeURIComponent(file), ...rest].join("/");
}

/** The path of a document route of the page's collection. */
export function documentPath(file, ...rest) {
  return documentPathIn(collection(), file, ...rest);
}

/**
 * POST /v1/ask with stream:true; calls onEvent(name, data) for each SSE event (data parsed
 * from JSON). Resolves when the stream ends; an `error` event throws ApiError.
 */
export async function askStream(body, onEvent) {
  const response = await request("/v1/ask", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  const dispatch = (block) => {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (!data.length) return;
    const parsed = JSON.parse(data.join("\n"));
    if (event === "error") {
      const e = parsed.error || {};
      throw new ApiError(500, e.code || "internal_error", e.message || "the answer could not be completed");
    }
    onEvent(event, parsed);
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += decoder.decode(value, { stream: true });
    if (done) buffer += decoder.decode();
    buffer = buffer.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (block.trim()) dispatch(block);
    }
    if (done) break;
  }
  if (buffer.trim()) dispatch(buffer);
}
