// A browserless user agent: follows redirects by hand, keeps cookies, and
// fills and submits HTML forms the way a person at a browser would (hidden
// inputs included). Used to log in through tusk's mock password connector and
// through oidc-provider's dev interactions.

const REDIRECT = new Set([301, 302, 303, 307, 308]);

/** Decodes the HTML character references a template engine may emit. */
export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) ? String.fromCodePoint(cp) : m;
    }
    const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
    return named[e.toLowerCase()] ?? m;
  });
}

function parseAttrs(s) {
  const attrs = {};
  const re = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  let m;
  while ((m = re.exec(s))) {
    const v = m[2] ?? m[3] ?? m[4];
    attrs[m[1].toLowerCase()] = v === undefined ? '' : decodeEntities(v);
  }
  return attrs;
}

/** Every <form> of a page: its action, method and successful controls. */
export function parseForms(html) {
  const forms = [];
  const formRe = /<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi;
  let m;
  while ((m = formRe.exec(html))) {
    const attrs = parseAttrs(m[1]);
    const inputs = [];
    const inRe = /<(input|button)\b([^>]*)>/gi;
    let i;
    while ((i = inRe.exec(m[2]))) {
      const a = parseAttrs(i[2]);
      const tag = i[1].toLowerCase();
      const type = (a.type ?? (tag === 'button' ? 'submit' : 'text')).toLowerCase();
      inputs.push({ tag, type, name: a.name, value: a.value ?? '', checked: 'checked' in a });
    }
    forms.push({ action: attrs.action, method: (attrs.method || 'get').toLowerCase(), inputs });
  }
  return forms;
}

/** The fields a browser would send for `form`, with `fill` overriding by name. */
function formData(form, fill) {
  const data = new URLSearchParams();
  let submitter = false;
  for (const inp of form.inputs) {
    if (!inp.name) continue;
    if (inp.type === 'submit' || inp.type === 'image') {
      // The button a person presses is part of the submission: the one
      // whose value `fill` names (Allow or Deny), else the first.
      const wanted = Object.hasOwn(fill, inp.name) ? fill[inp.name] === inp.value : true;
      if (!submitter && wanted) { data.append(inp.name, inp.value); submitter = true; }
      continue;
    }
    if (['button', 'reset', 'file'].includes(inp.type)) continue;
    if ((inp.type === 'checkbox' || inp.type === 'radio') && !inp.checked) continue;
    data.append(inp.name, Object.hasOwn(fill, inp.name) ? fill[inp.name] : inp.value);
  }
  return data;
}

export class Browser {
  constructor({ timeoutMs = 30_000, maxRetries = 10 } = {}) {
    this.maxRetries = maxRetries;
    this.jar = new Map(); // origin -> Map(name -> value)
    this.trace = [];
    this.timeoutMs = timeoutMs;
  }

  cookieHeader(url) {
    const c = this.jar.get(new URL(url).host);
    return c && c.size ? [...c].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }

  storeCookies(url, res) {
    const host = new URL(url).host;
    for (const sc of res.headers.getSetCookie?.() ?? []) {
      const [pair, ...attrs] = sc.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const jar = this.jar.get(host) ?? new Map();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) || value === '';
      if (expired) jar.delete(name); else jar.set(name, value);
      this.jar.set(host, jar);
    }
  }

  /**
   * One request, redirects not followed. Returns {status, headers, body, url}.
   * A 429 is answered the way a patient user would: wait `Retry-After`
   * seconds (tusk rate-limits password logins per address) and send again.
   */
  async request(url, opts = {}) {
    for (let attempt = 0; ; attempt++) {
      const res = await this.requestOnce(url, opts);
      if (res.status !== 429 || attempt >= this.maxRetries) return res;
      const after = Number(res.headers.get('retry-after'));
      const wait = Number.isFinite(after) && after > 0 ? Math.min(after, 30) : 1;
      this.trace.push(`  (429: waiting ${wait} s as Retry-After says, then sending again)`);
      await new Promise((r) => setTimeout(r, wait * 1000));
    }
  }

  async requestOnce(url, { method = 'GET', body, headers = {} } = {}) {
    const h = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', ...headers };
    const cookie = this.cookieHeader(url);
    if (cookie) h.cookie = cookie;
    if (body !== undefined && !h['content-type']) h['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, {
      method, body, headers: h, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs),
    });
    this.storeCookies(url, res);
    const text = await res.text();
    const loc = res.headers.get('location');
    this.trace.push(`${method} ${url} -> ${res.status}${loc ? ` Location: ${loc}` : ''}`);
    return { status: res.status, headers: res.headers, body: text, url };
  }

  /**
   * Starts at `start` and acts like a user: follows redirects, submits forms
   * that ask for one of the `fill` fields, and stops when a redirect points at
   * `stopAt` (origin and path compared) or a page without such a form is
   * reached. Returns {redirect} or {page: {status, headers, body, url}}.
   */
  async browse(start, { fill = {}, stopAt, maxSteps = 25, maxSubmits = 4, submitAnyForm = false } = {}) {
    const target = stopAt ? new URL(stopAt) : undefined;
    const matches = (u) => target && u.origin === target.origin && u.pathname === target.pathname;
    let url = start;
    let req = { method: 'GET' };
    let submits = 0;
    for (let step = 0; step < maxSteps; step++) {
      if (matches(new URL(url))) return { redirect: url, browser: this };
      const res = await this.request(url, req);
      if (REDIRECT.has(res.status)) {
        const loc = res.headers.get('location');
        if (!loc) throw new Error(`${res.status} without Location at ${url}\n${this.traceText()}`);
        const next = new URL(loc, url).href;
        if (res.status === 307 || res.status === 308) {
          // Method and body are kept.
        } else {
          req = { method: 'GET' };
        }
        url = next;
        continue;
      }
      const type = res.headers.get('content-type') ?? '';
      const forms = res.status === 200 && /html/i.test(type) ? parseForms(res.body) : [];
      let form = forms.find((f) => f.inputs.some((i) => i.name && Object.hasOwn(fill, i.name)));
      if (!form && submitAnyForm) form = forms[0];
      if (!form) return { page: res, browser: this };
      if (++submits > maxSubmits) {
        throw new Error(`gave up after ${maxSubmits} form submissions (a login that keeps failing?)\n` +
          `${this.traceText()}\n--- last page ---\n${res.body.slice(0, 2000)}`);
      }
      const action = new URL(form.action || url, url);
      const data = formData(form, fill);
      if (form.method === 'post') {
        url = action.href;
        req = { method: 'POST', body: data.toString() };
      } else {
        action.search = data.toString();
        url = action.href;
        req = { method: 'GET' };
      }
    }
    throw new Error(`no end after ${maxSteps} steps\n${this.traceText()}`);
  }

  traceText() { return this.trace.map((t) => `  ${t}`).join('\n'); }
}

/**
 * Logs in at tusk's mock password connector, starting from an authorization
 * URL, and returns the redirect back to the client (with code, state, iss).
 */
export async function loginThroughTusk(authorizationUrl, redirectUri, { login = 'admin', password = 'password' } = {}) {
  const b = new Browser();
  const out = await b.browse(String(authorizationUrl), { fill: { login, password }, stopAt: redirectUri });
  if (out.redirect) return new URL(out.redirect);
  throw new Error(`login did not come back to ${redirectUri}; ended at ${out.page.url} with ${out.page.status}\n` +
    `${b.traceText()}\n--- last page ---\n${out.page.body.slice(0, 2000)}`);
}
