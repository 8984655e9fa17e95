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

  function getJSON(url, onData) {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location = "/login"; return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (data) { if (data) onData(data); })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }


  // --- The queue ---
  var queue = document.getElementById("queue");
  if (queue) {
    var body = document.getElementById("queue-body");
    var empty = document.getElementById("queue-empty");
    window.setInterval(function () {
      getJSON(queue.dataset.poll, function (data) {
        var rows = document.createDocumentFragment();
        data.tickets.forEach(function (t) {
          var tr = el("tr", "u-" + t.urgency);
          tr.dataset.id = t.id;
          tr.appendChild(el("td", "", t.queue_name));
          var who = el("td");
          var link = el("a", "", t.patient); link.href = t.url;
          var address = el("small"); address.appendChild(el("span", "channel", t.channel));
          address.appendChild(document.createTextNode(" " + t.phone));
          who.appendChild(link); who.appendChild(el("br")); who.appendChild(address);
          tr.appendChild(who);
          tr.appendChild(el("td", "", t.reason));
          tr.appendChild(el("td", "", t.waiting));
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
      });
    }, POLL_MS);
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
        document.getElementById("ticket-waiting").textContent = t.waiting;
        document.getElementById("ticket-claimed").textContent = t.claimed_by || "nobody yet";
        if (atBottom) list.scrollTop = list.scrollHeight;
      });
    }, POLL_MS);

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
})();
