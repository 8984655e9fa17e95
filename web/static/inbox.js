// Live updates without a reload: poll the JSON endpoints every 2.5 s.
// No framework, no CDN; everything is built with textContent so a patient's text is never HTML.
(function () {
  "use strict";
  var POLL_MS = 2500;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function typing(event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return true;
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(target.tagName));
  }

  function getJSON(url, onData) {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location = "/login"; return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (data) { if (data) onData(data); })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }


  // --- A broadcast's progress: the counts refresh until it is done or cancelled ---
  var broadcast = document.querySelector("[data-broadcast-poll]");
  if (broadcast) {
    var refreshBroadcast = function () {
      getJSON(broadcast.getAttribute("data-broadcast-poll"), function (data) {
        Object.keys(data.counts).forEach(function (name) {
          var cell = broadcast.querySelector('[data-count="' + name + '"]');
          if (cell) cell.textContent = String(data.counts[name]);
        });
        var state = document.getElementById("broadcast-state");
        if (data.cancelled || data.done) {
          state.textContent = data.cancelled ? "Cancelled." : "Done.";
          var stop = document.getElementById("broadcast-cancel");
          if (stop) stop.remove();
          window.clearInterval(broadcastTimer);
        }
      });
    };
    var broadcastTimer = window.setInterval(refreshBroadcast, 1000);
  }

  // --- The queue ---
  var queue = document.getElementById("queue");
  if (queue) {
    var body = document.getElementById("queue-body");
    var empty = document.getElementById("queue-empty");
    var selectedId = null;

    var rowsOf = function () { return Array.prototype.slice.call(body.querySelectorAll("tr[data-id]")); };
    var select = function (row) {
      rowsOf().forEach(function (r) { r.classList.remove("selected"); r.removeAttribute("aria-selected"); });
      if (!row) { selectedId = null; return; }
      row.classList.add("selected");
      row.setAttribute("aria-selected", "true");
      selectedId = row.dataset.id;
      row.scrollIntoView({ block: "nearest" });
    };

    window.setInterval(function () {
      getJSON(queue.dataset.poll, function (data) {
        var rows = document.createDocumentFragment();
        data.tickets.forEach(function (t) {
          var tr = el("tr", "u-" + t.urgency + (t.pinned ? " pinned" : ""));
          tr.dataset.id = t.id;
          var first = el("td");
          if (t.pinned) first.appendChild(el("b", "urgent-tag", "Urgent")); else first.textContent = t.queue_name;
          tr.appendChild(first);
          var who = el("td");
          var link = el("a", "", t.patient); link.href = t.url;
          var address = el("small"); address.appendChild(el("span", "channel", t.channel));
          if (t.language !== "English") { address.appendChild(document.createTextNode(" ")); address.appendChild(el("span", "language", t.language)); }
          address.appendChild(document.createTextNode(" " + t.phone));
          who.appendChild(link); who.appendChild(el("br")); who.appendChild(address);
          tr.appendChild(who);
          var talk = el("td");
          talk.appendChild(el("span", "reason", t.reason));
          if (t.last_text) { talk.appendChild(el("br")); talk.appendChild(el("span", "last " + t.last_from, t.last_text)); }
          tr.appendChild(talk);
          tr.appendChild(el("td", "pulse" + (t.replied ? " replied" : ""), t.pulse));
          var due = el("td", "", t.due + " ");
          if (t.urgency === "late") due.appendChild(el("b", "", "late"));
          tr.appendChild(due);
          var status = el("td", "", t.status_label);
          if (t.alert) { status.appendChild(document.createTextNode(" ")); status.appendChild(el("b", "alert", t.alert)); }
          tr.appendChild(status);
          tr.appendChild(el("td", "", t.claimed_by));
          rows.appendChild(tr);
        });
        body.replaceChildren(rows);
        empty.hidden = data.tickets.length > 0;
        if (selectedId) select(body.querySelector('tr[data-id="' + selectedId + '"]'));
      });
    }, POLL_MS);

    // Keyboard: j/k move, Enter opens, r opens with the reply box ready; never while typing in a field.
    document.addEventListener("keydown", function (event) {
      if (typing(event)) return;
      var rows = rowsOf();
      if (!rows.length) return;
      var current = rows.findIndex(function (r) { return r.dataset.id === selectedId; });
      var link = current >= 0 ? rows[current].querySelector("a") : null;
      if (event.key === "j") { select(rows[Math.min(current + 1, rows.length - 1)]); }
      else if (event.key === "k") { select(rows[Math.max(current - 1, 0)]); }
      else if (event.key === "Enter" && link) { window.location = link.href; }
      else if (event.key === "r" && link) { window.location = link.href + "#reply"; }
      else return;
      event.preventDefault();
    });
  }

  // --- One conversation ---
  var ticket = document.getElementById("ticket");
  if (ticket) {
    var list = document.getElementById("transcript");
    list.scrollTop = list.scrollHeight;
    var lastRef = function () {
      var items = list.querySelectorAll("li[data-ref]");
      return items.length ? items[items.length - 1].dataset.ref : "";
    };
    window.setInterval(function () {
      getJSON(ticket.dataset.poll + "?after=" + encodeURIComponent(lastRef()), function (data) {
        var atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 10;
        data.entries.forEach(function (e) {
          if (list.querySelector('li[data-ref="' + e.ref + '"]')) return;
          if (e.who === "span" || e.who === "withheld") {
            var marker = el("li", "marker " + e.who, e.url ? null : e.body);
            if (e.url) { var to = el("a", "", e.body); to.href = e.url; marker.appendChild(to); }
            marker.dataset.ref = e.ref;
            list.appendChild(marker);
            return;
          }
          var li = el("li", "msg " + e.who);
          li.dataset.ref = e.ref;
          li.appendChild(el("span", "who", e.author ? e.who + " · " + e.author : e.who));
          li.appendChild(document.createTextNode(" "));
          var time = el("time", "", e.time); time.dateTime = e.at;
          li.appendChild(time);
          if (e.status) {
            li.appendChild(document.createTextNode(" "));
            var st = el("span", "delivery", e.status); st.setAttribute("data-status", "");
            li.appendChild(st);
          }
          li.appendChild(el("div", "body", e.body));
          if (e.media && e.media.length) {
            var pictures = el("div", "media");
            e.media.forEach(function (m, i) {
              var a = el("a", "", m.image ? null : "Attachment " + (i + 1) + " (download)"); a.href = m.url;
              if (m.image) {
                a.target = "_blank"; a.rel = "noopener";
                var img = el("img", "thumb"); img.src = m.url; img.alt = "Picture from the patient";
                a.appendChild(img);
              }
              pictures.appendChild(a);
            });
            li.appendChild(pictures);
          }
          list.appendChild(li);
        });
        Object.keys(data.statuses).forEach(function (ref) {
          var st = list.querySelector('li[data-ref="' + ref + '"] .delivery');
          if (st) st.textContent = data.statuses[ref];
        });
        var t = data.ticket;
        document.getElementById("ticket-status").textContent = t.status_label;
        var alert = document.getElementById("ticket-alert");
        alert.textContent = t.alert_text || "";
        alert.hidden = !t.alert;
        document.getElementById("ticket-waiting").textContent = t.pulse;
        document.getElementById("ticket-claimed").textContent = t.claimed_by || "nobody yet";
        if (atBottom) list.scrollTop = list.scrollHeight;
      });
    }, POLL_MS);

    if (window.location.hash === "#reply") {
      var replyBox = document.getElementById("reply-body");
      if (replyBox) replyBox.focus();
    }

    var canned = document.getElementById("canned");
    if (canned) {
      canned.addEventListener("change", function () {
        var option = canned.options[canned.selectedIndex];
        var text = option && option.dataset.body;
        if (!text) return;
        var box = document.getElementById("reply-body");
        var start = box.selectionStart || 0, end = box.selectionEnd || 0;
        box.value = box.value.slice(0, start) + text + box.value.slice(end);
        box.focus();
        box.selectionStart = box.selectionEnd = start + text.length;
        canned.selectedIndex = 0;
      });
    }
  }

  // --- Urgent alerts: a browser notification and a sound for each new urgent ticket ---
  // Only staff who may see the urgent queue get the poll URL (base.html). The notification carries no
  // health detail. Tickets already seen in this browser tab's session are not announced again.
  var urgentPoll = document.body.dataset.urgentPoll;
  if (urgentPoll) {
    var SEEN = "inbox-urgent-seen";
    var seen = null;
    try { seen = JSON.parse(window.sessionStorage.getItem(SEEN) || "null"); } catch (err) { seen = null; }

    var beep = function () {
      var Audio = window.AudioContext || window.webkitAudioContext;
      if (!Audio) return;
      try {
        var context = new Audio();
        var tone = context.createOscillator();
        var gain = context.createGain();
        tone.type = "sine"; tone.frequency.value = 880; gain.gain.value = 0.2;
        tone.connect(gain); gain.connect(context.destination);
        tone.start(); tone.stop(context.currentTime + 0.4);
      } catch (err) { /* no sound device: the notification still shows */ }
    };

    var announce = function (t) {
      if ("Notification" in window && Notification.permission === "granted") {
        var note = new Notification("Urgent patient message waiting", { body: "Open the staff inbox.", tag: "urgent-" + t.id });
        note.onclick = function () { window.focus(); window.location = t.url; };
      }
      beep();
    };

    var checkUrgent = function () {
      getJSON(urgentPoll, function (data) {
        var ids = data.tickets.map(function (t) { return t.id; });
        if (seen !== null) {
          data.tickets.forEach(function (t) { if (seen.indexOf(t.id) < 0) announce(t); });
        }
        seen = (seen || []).filter(function (id) { return ids.indexOf(id) >= 0; });
        ids.forEach(function (id) { if (seen.indexOf(id) < 0) seen.push(id); });
        try { window.sessionStorage.setItem(SEEN, JSON.stringify(seen)); } catch (err) { /* private mode */ }
      });
    };
    checkUrgent();
    window.setInterval(checkUrgent, POLL_MS);

    if ("Notification" in window && Notification.permission === "default") {
      var header = document.querySelector("header.top nav");
      if (header) {
        var ask = el("button", "alerts", "Turn on urgent alerts");
        ask.type = "button"; ask.id = "enable-alerts";
        ask.addEventListener("click", function () {
          Notification.requestPermission().then(function () { ask.remove(); });
        });
        header.appendChild(ask);
      }
    }
  }
})();
