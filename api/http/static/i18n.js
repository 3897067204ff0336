// Labels in the two languages Sanad answers in. Every label on the page (the chrome, and what an
// answer carries: its sources, its citation cards and panel) follows the one chosen language
// (the browser's until switched); an answer's own text keeps its language and direction.

export const LABELS = {
  en: {
    actions: "Page actions",
    newConversation: "New conversation",
    collection: "Collection",
    defaultCollection: "Default",
    documents: "Documents",
    conversation: "Conversation",
    emptyHint: "Ask a question about the documents, in Arabic or English. Every answer cites the exact place it comes from.",
    questionLabel: "Your question",
    questionPlaceholder: "Ask a question… (Enter sends, Shift+Enter for a new line)",
    ask: "Ask",
    close: "Close",
    you: "You",
    sanad: "Sanad",
    notInDocuments: "Not in the documents",
    citation: "Source",
    citationControl: (n, file, p) => `Source ${n}: ${file}, paragraph ${p}`,
    file: "File",
    page: "Page",
    ocr: "OCR",
    ocrTitle: (pct) => `Read by OCR from a scanned page (confidence ${pct}%): the quote is the OCR text, check it against the page`,
    paragraph: "Paragraph",
    lines: "Lines",
    quote: "Quote",
    context: "The cited paragraph in its context",
    wholeDocument: "Open the whole document at this paragraph",
    backToCitation: "Back to the source",
    loadingContext: "Loading the paragraph…",
    loading: "Loading the model and the index…",
    loadFailed: "The service failed to load:",
    thinking: "Searching the documents…",
    rateLimited: (s) => `Too many requests; retrying in ${s} s…`,
    networkError: "The server could not be reached.",
    errorPrefix: "Error:",
    dropHint: "Drop files here, or",
    chooseFiles: "Choose files…",
    formats: "Formats:",
    colName: "Name",
    colParagraphs: "Paragraphs",
    colSize: "Size",
    colDate: "Indexed",
    colActions: "Actions",
    delete: "Delete",
    deleteLabel: (f) => `Delete ${f}`,
    confirmDelete: (f) => `Delete “${f}” from the index? Answers will no longer cite it.`,
    deleted: (f) => `Deleted ${f}.`,
    uploading: (f) => `Uploading and indexing ${f}…`,
    uploaded: (f, n) => `Indexed ${f} (${n} paragraphs).`,
    ocrQueued: (f) => `${f} is being read by OCR in the background; it is listed once indexed.`,
    noDocuments: "No documents are indexed yet.",
    dropOverlay: "Drop to upload and index",
    keyTitle: "API key",
    keyLabel: "This server needs an API key. It is kept for this tab only.",
    keySave: "Use this key",
    keyMissing: "This server needs an API key.",
    keyInvalid: "That API key was not accepted. Check it and try again.",
    switchTo: "العربية",
    switchToLang: "ar",
    standalone: "Read as:",
    warning: "Note:",
    unsupported: "Removed as unsupported:",
  },
  ar: {
    actions: "إجراءات الصفحة",
    newConversation: "محادثة جديدة",
    collection: "المجموعة",
    defaultCollection: "الافتراضية",
    documents: "المستندات",
    conversation: "المحادثة",
    emptyHint: "اطرح سؤالاً عن المستندات بالعربية أو بالإنجليزية. كل إجابة تشير إلى موضعها الدقيق في المصدر.",
    questionLabel: "سؤالك",
    questionPlaceholder: "اكتب سؤالك… (Enter للإرسال، وShift+Enter لسطر جديد)",
    ask: "اسأل",
    close: "إغلاق",
    you: "أنت",
    sanad: "سند",
    notInDocuments: "ليس في المستندات",
    citation: "المصدر",
    citationControl: (n, file, p) => `المصدر ${n}: ${file}، الفقرة ${p}`,
    file: "الملف",
    page: "الصفحة",
    ocr: "OCR",
    ocrTitle: (pct) => `قُرئ بالتعرّف الضوئي على الحروف من صفحة ممسوحة (الثقة ${pct}%): الاقتباس هو نص التعرّف، راجعه على الصفحة`,
    paragraph: "الفقرة",
    lines: "الأسطر",
    quote: "الاقتباس",
    context: "الفقرة المقتبسة في سياقها",
    wholeDocument: "افتح المستند كاملاً عند هذه الفقرة",
    backToCitation: "العودة إلى المصدر",
    loadingContext: "جارٍ تحميل الفقرة…",
    loading: "جارٍ تحميل النموذج والفهرس…",
    loadFailed: "تعذّر تشغيل الخدمة:",
    thinking: "جارٍ البحث في المستندات…",
    rateLimited: (s) => `طلبات كثيرة؛ إعادة المحاولة بعد ${s} ث…`,
    networkError: "تعذّر الوصول إلى الخادم.",
    errorPrefix: "خطأ:",
    dropHint: "أفلت الملفات هنا، أو",
    chooseFiles: "اختر ملفات…",
    formats: "الصيغ:",
    colName: "الاسم",
    colParagraphs: "الفقرات",
    colSize: "الحجم",
    colDate: "تاريخ الفهرسة",
    colActions: "إجراءات",
    delete: "حذف",
    deleteLabel: (f) => `حذف ${f}`,
    confirmDelete: (f) => `حذف «${f}» من الفهرس؟ لن تستشهد به الإجابات بعد ذلك.`,
    deleted: (f) => `حُذف ${f}.`,
    uploading: (f) => `جارٍ رفع ${f} وفهرسته…`,
    uploaded: (f, n) => `فُهرس ${f} (${n} فقرة).`,
    ocrQueued: (f) => `تجري قراءة ${f} بالتعرّف الضوئي في الخلفية، ويظهر في القائمة بعد فهرسته.`,
    noDocuments: "لا توجد مستندات مفهرسة بعد.",
    dropOverlay: "أفلت الملفات لرفعها وفهرستها",
    keyTitle: "مفتاح الواجهة البرمجية",
    keyLabel: "يتطلب هذا الخادم مفتاحاً. يُحفظ لهذه النافذة فقط.",
    keySave: "استخدم هذا المفتاح",
    keyMissing: "يتطلب هذا الخادم مفتاحاً.",
    keyInvalid: "لم يُقبل هذا المفتاح. تحقّق منه وأعد المحاولة.",
    switchTo: "English",
    switchToLang: "en",
    standalone: "فُهم السؤال على أنه:",
    warning: "ملاحظة:",
    unsupported: "حُذف لعدم استناده إلى المصدر:",
  },
};

const ARABIC = /[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]/g;
const LATIN = /[A-Za-z]/g;

/** "ar" when a text has more Arabic letters than Latin ones (a guess until the API answers). */
export function guessLanguage(text) {
  const ar = (text.match(ARABIC) || []).length;
  const en = (text.match(LATIN) || []).length;
  return ar > en ? "ar" : "en";
}

export function label(lang, key, ...args) {
  const table = LABELS[lang] || LABELS.en;
  const value = key in table ? table[key] : LABELS.en[key];
  return typeof value === "function" ? value(...args) : value;
}

export function dirOf(lang) {
  return lang === "ar" ? "rtl" : "ltr";
}

/** Apply the chrome language to every element marked with data-i18n* attributes. */
export function applyChrome(lang) {
  const root = document.documentElement;
  root.lang = lang;
  root.dir = dirOf(lang);
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = label(lang, el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", label(lang, el.dataset.i18nLabel));
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = label(lang, el.dataset.i18nPlaceholder);
  const sw = document.getElementById("switch-language");
  sw.textContent = label(lang, "switchTo");
  const other = label(lang, "switchToLang");
  sw.lang = other;
  sw.dir = dirOf(other);
}
