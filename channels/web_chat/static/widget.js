/* The practice's website chat: one script tag adds a chat bubble.
 *
 *   <script src="https://ASSISTANT/webhooks/web_chat/widget.js" data-practice="Smile Dental" defer></script>
 *
 * Everything it loads comes from the same place as this file (its CSS, its words, the chat API): no
 * third-party requests. Optional: data-language="es" (else the page's <html lang>). The chat lives in
 * sessionStorage (gone when the tab closes) and ends after 30 minutes without a message.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__practiceChat) { return; }
  window.__practiceChat = true;
  var base = new URL(".", script.src).href;
  var practice = script.getAttribute("data-practice") || "";
  var language = script.getAttribute("data-language") || document.documentElement.lang || navigator.language || "en";
  var KEY = "practice-chat:" + base;
  var IDLE_MS = 30 * 60 * 1000;
  var words = {};
  var chat = null;        // {chat_id, token, last, at}
  var source = null;      // the EventSource
  var idleTimer = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }
  function w(name) { return words[name] || name; }

  function load() { try { return JSON.parse(sessionStorage.getItem(KEY)); } catch (e) { return null; } }
  function save() { if (chat) { sessionStorage.setItem(KEY, JSON.stringify(chat)); } else { sessionStorage.removeItem(KEY); } }

  function api(path, body) {
    return fetch(base + path, {
      method: "POST", headers: {"Content-Type": "application/json"}, credentials: "omit",
      body: JSON.stringify(Object.assign({chat_id: chat && chat.chat_id, token: chat && chat.token}, body || {}))
    }).then(function (r) { return r.json().catch(function () { return {}; }).then(function (j) { j.status = r.status; return j; }); });
  }

  // ----- the page's part: bubble and panel -------------------------------------------------
  var css = el("link", {rel: "stylesheet", href: base + "widget.css"});
  document.head.appendChild(css);
  var root = el("div", {"class": "pc-root"});
  var bubble = el("button", {"class": "pc-bubble", type: "button", "aria-expanded": "false", "aria-controls": "pc-panel"});
  bubble.appendChild(el("span", {"aria-hidden": "true"}, "\uD83D\uDCAC"));
  var panel = el("section", {"class": "pc-panel", id: "pc-panel", role: "dialog", hidden: ""});
  var heading = el("h2", {"class": "pc-title", id: "pc-title"});
  panel.setAttribute("aria-labelledby", "pc-title");
  var close = el("button", {"class": "pc-close", type: "button"}, "\u00D7");
  var log = el("div", {"class": "pc-log", role: "log", "aria-live": "polite", tabindex: "0"});
  var form = el("form", {"class": "pc-form"});
  var inputId = "pc-input";
  var label = el("label", {"for": inputId, "class": "pc-label"});
  var input = el("textarea", {id: inputId, rows: "2", maxlength: "1600", "class": "pc-input"});
  var send = el("button", {type: "submit", "class": "pc-send"});
  form.appendChild(label); form.appendChild(input); form.appendChild(send);
  var verifyButton = el("button", {type: "button", "class": "pc-link"});
  var verifyBox = el("form", {"class": "pc-verify", hidden: ""});
  var phoneLabel = el("label", {"for": "pc-phone", "class": "pc-label"});
  var phone = el("input", {id: "pc-phone", type: "tel", autocomplete: "tel", inputmode: "tel", "class": "pc-field"});
  var sendCode = el("button", {type: "submit", "class": "pc-send"});
  verifyBox.appendChild(phoneLabel); verifyBox.appendChild(phone); verifyBox.appendChild(sendCode);
  var codeBox = el("form", {"class": "pc-verify", hidden: ""});
  var codeLabel = el("label", {"for": "pc-code", "class": "pc-label"});
  var code = el("input", {id: "pc-code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6", pattern: "[0-9]{6}", "class": "pc-field"});
  var checkCode = el("button", {type: "submit", "class": "pc-send"});
  codeBox.appendChild(codeLabel); codeBox.appendChild(code); codeBox.appendChild(checkCode);
  var restart = el("button", {type: "button", "class": "pc-link", hidden: ""});
  var head = el("div", {"class": "pc-head"});
  head.appendChild(heading); head.appendChild(close);
  [head, log, verifyButton, verifyBox, codeBox, form, restart].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(panel); root.appendChild(bubble);

  function label_all() {
    var name = practice || w("widget_us");
    bubble.setAttribute("aria-label", w("widget_open").replace(words.widget_us || "", name));
    heading.textContent = w("widget_open").replace(words.widget_us || "", name);
    close.setAttribute("aria-label", w("widget_close"));
    label.textContent = w("widget_message_label");
    send.textContent = w("widget_send");
    verifyButton.textContent = w("widget_verify");
    phoneLabel.textContent = w("widget_phone_label");
    sendCode.textContent = w("widget_send_code");
    codeLabel.textContent = w("widget_code_label");
    checkCode.textContent = w("widget_check_code");
    restart.textContent = w("widget_new_chat");
  }

  function say(text, who) {
    var item = el("p", {"class": "pc-msg pc-" + who});
    var by = el("span", {"class": "pc-by"}, (who === "you" ? w("widget_you") : (practice || w("widget_us"))) + ": ");
    item.appendChild(by);
    item.appendChild(document.createTextNode(text));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function open() {
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    if (!log.childNodes.length) { say(w("widget_welcome"), "us"); }
    input.focus();
    if (chat) { listen(); }
  }
  function shut() {
    panel.hidden = true;
    bubble.setAttribute("aria-expanded", "false");
    bubble.focus();
  }
  bubble.addEventListener("click", function () { if (panel.hidden) { open(); } else { shut(); } });
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { shut(); } });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });

  // ----- the chat ------------------------------------------------------------------------------
  function touch() {
    if (!chat) { return; }
    chat.at = Date.now(); save();
    clearTimeout(idleTimer);
    idleTimer = setTimeout(ended, IDLE_MS);
  }
  function ended() {
    if (source) { source.close(); source = null; }
    chat = null; save();
    say(w("widget_expired"), "us");
    form.hidden = true; verifyButton.hidden = true; verifyBox.hidden = true; codeBox.hidden = true;
    restart.hidden = false; restart.focus();
  }
  restart.addEventListener("click", function () {
    restart.hidden = true; form.hidden = false; verifyButton.hidden = false;
    log.textContent = ""; say(w("widget_welcome"), "us"); input.focus();
  });

  function ensureChat() {
    if (chat) { return Promise.resolve(chat); }
    return api("session", {}).then(function (j) {
      if (j.status !== 201) { throw j; }
      chat = {chat_id: j.chat_id, token: j.token, last: 0, at: Date.now()};
      save(); listen(); return chat;
    });
  }
  function listen() {
    if (source || !chat) { return; }
    source = new EventSource(base + "events?chat_id=" + encodeURIComponent(chat.chat_id) +
      "&token=" + encodeURIComponent(chat.token) + "&last_event_id=" + (chat.last || 0));
    source.addEventListener("message", function (e) {
      var data = JSON.parse(e.data);
      if (chat && data.id > (chat.last || 0)) { chat.last = data.id; save(); say(data.text, "us"); }
    });
    source.addEventListener("expired", ended);
    source.onerror = function () {
      // EventSource reconnects by itself (with Last-Event-ID); a closed one is started afresh.
      if (source && source.readyState === EventSource.CLOSED) { source = null; setTimeout(listen, 2000); }
    };
  }
  function refused(j) {
    if (j && j.status === 410) { ended(); return; }
    say(j && j.status === 429 ? w("widget_too_many") : w("widget_error"), "us");
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    say(text, "you");
    ensureChat().then(function () {
      return api("messages", {text: text, id: String(Date.now()) + Math.random().toString(16).slice(2, 8)});
    }).then(function (j) { if (j.status !== 202) { refused(j); } else { touch(); } }, refused);
  });
  verifyButton.addEventListener("click", function () {
    verifyBox.hidden = !verifyBox.hidden;
    verifyButton.setAttribute("aria-expanded", String(!verifyBox.hidden));
    if (!verifyBox.hidden) { phone.focus(); }
  });
  verifyBox.addEventListener("submit", function (e) {
    e.preventDefault();
    ensureChat().then(function () { return api("verify", {phone: phone.value}); }).then(function (j) {
      if (j.status !== 202) { refused(j); return; }
      touch();
      say(w("widget_code_sent"), "us");
      verifyBox.hidden = true; codeBox.hidden = false; code.focus();
    }, refused);
  });
  codeBox.addEventListener("submit", function (e) {
    e.preventDefault();
    api("verify/check", {code: code.value}).then(function (j) {
      code.value = "";
      if (j.status === 200) {
        touch(); say(w("widget_verified"), "us");
        codeBox.hidden = true; verifyButton.hidden = true; input.focus();
      } else if (j.status === 400) { say(w("widget_wrong_code"), "us"); code.focus(); }
      else if (j.status === 410 && j.error === "chat_expired") { ended(); }
      else { say(w("widget_code_dead"), "us"); codeBox.hidden = true; verifyBox.hidden = false; phone.focus(); }
    }, refused);
  });

  function start() {
    chat = load();
    if (chat && Date.now() - (chat.at || 0) > IDLE_MS) { chat = null; save(); }
    label_all();
    document.body.appendChild(root);
    if (chat) { touch(); }
  }
  fetch(base + "strings?language=" + encodeURIComponent(language), {credentials: "omit"})
    .then(function (r) { return r.json(); }).then(function (j) { words = j; }, function () {})
    .then(function () {
      if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
    });
})();
