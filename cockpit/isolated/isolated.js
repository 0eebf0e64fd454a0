/*
 * isolated's Cockpit page.
 *
 * Talks to the daemon's HTTP API (docs/API.md) through Cockpit's bridge, with
 * cockpit.http() on the daemon's Unix sockets:
 *   - everything it shows comes from the read-only socket, opened with superuser
 *     "try": an administrator's session reads it as root (unredacted values, logs), any
 *     other user gets what the socket gives everyone (states, events, metrics);
 *   - start, stop, restart and signal go to the control socket, and only with
 *     superuser "require": Cockpit's administrative access is the one way in, so the
 *     page never relies on the user being in group isolated.
 * The apps table is polled every 2 s (as `isoctl top`); events and logs are streams
 * (follow=1), so a crash shows up without a reload.
 */
"use strict";

(function () {
    const RO_SOCKET = "/run/isolated/isolated-ro.sock";
    const CONTROL_SOCKET = "/run/isolated/isolated.sock";
    const POLL_MS = 2000;
    const MAX_EVENTS = 200;
    const MAX_LOG_LINES = 5000;

    const ro = cockpit.http(RO_SOCKET, { superuser: "try" });
    const control = cockpit.http(CONTROL_SOCKET, { superuser: "require" });
    const permission = cockpit.permission({ admin: true });

    const $ = (id) => document.getElementById(id);

    function el(tag, attrs, ...children) {
        const e = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (v === null || v === undefined || v === false) continue;
            if (k === "class") e.className = v;
            else if (k === "text") e.textContent = v;
            else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
            else e.setAttribute(k, v === true ? "" : v);
        }
        for (const c of children) e.append(c);
        return e;
    }

    /* ---- formatting -------------------------------------------------------- */

    function fmtBytes(n) {
        if (n === null || n === undefined) return "—";
        const units = ["B", "KiB", "MiB", "GiB", "TiB"];
        let i = 0;
        while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
        return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
    }

    function fmtTime(t) {
        if (!t) return "—";
        const d = new Date(t);
        return isNaN(d) ? String(t) : d.toLocaleString();
    }

    function fmtOrDash(v) { return v === null || v === undefined || v === "" ? "—" : String(v) }

    function exitText(e) {
        if (!e) return "—";
        let s = e.signal ? "killed by " + e.signal : "exited with code " + e.code;
        if (e.oomKilled) s += " (OOM)";
        if (e.message) s += ": " + e.message;
        return s + ", " + fmtTime(e.at);
    }

    // The daemon's own words for an API error: {"error": {"code", "message"}}.
    function errorText(ex, body) {
        if (body) {
            try {
                const j = JSON.parse(body);
                if (j && j.error && j.error.message) return j.error.message;
            } catch (e) { /* not JSON: fall through */ }
        }
        if (ex && ex.status) return ex.status + " " + (ex.reason || ex.message || "");
        if (ex && (ex.problem === "access-denied" || ex.problem === "authentication-failed"))
            return "not permitted: this needs administrative access";
        if (ex && (ex.problem === "not-found" || ex.problem === "no-such-file"))
            return "isolated is not running (no socket to connect to)";
        return cockpit.message(ex);
    }

    /* ---- alerts and progress ----------------------------------------------- */

    function alertError(title, text) {
        const close = el("button", { type: "button", class: "link", "aria-label": "Dismiss: " + title, text: "×" });
        const box = el("div", { class: "alert", role: "alert" },
                       el("strong", { text: title + ": " }), el("span", { class: "alert-text", text }), close);
        close.addEventListener("click", () => box.remove());
        $("alerts").append(box);
    }

    function setProgress(text) { $("progress").textContent = text }

    /* ---- administrative access --------------------------------------------- */

    function isAdmin() { return permission.allowed === true }

    function applyPermission() {
        document.body.classList.toggle("no-admin", !isAdmin());
        $("admin-notice").hidden = permission.allowed !== false;
        render();
    }
    permission.addEventListener("changed", applyPermission);

    /* ---- actions ----------------------------------------------------------- */

    const STOPPED_STATES = ["stopped", "failed"];
    const RUNNING_STATES = ["running", "ready", "unhealthy", "stopping"];
    const busy = new Set();  // apps with an action in flight

    const ACTIONS = {
        start: {
            label: "Start", verb: "Starting", done: "started",
            enabled: (a) => STOPPED_STATES.includes(a.state) || a.state === "backoff",
        },
        stop: {
            label: "Stop", verb: "Stopping", done: "stopped", confirm: true,
            enabled: (a) => !STOPPED_STATES.includes(a.state),
            text: (n) => `Stop ${n}? Its processes get their stop signal, then SIGKILL after the stop timeout. ` +
                         "Apps that depend on it are stopped first. It stays stopped until started again.",
        },
        restart: {
            label: "Restart", verb: "Restarting", done: "restarted", confirm: true,
            enabled: (a) => a.state !== "stopping",
            text: (n) => `Restart ${n}? It is stopped (stop signal, then SIGKILL after the stop timeout) and started again.`,
        },
        kill: {
            label: "Kill", verb: "Signalling", done: "signalled", confirm: true, danger: true,
            enabled: (a) => RUNNING_STATES.includes(a.state),
            text: (n) => `Send a signal to ${n}. The app is not stopped: if the signal ends it, its restart policy decides what happens next.`,
        },
    };

    function confirmAction(action, name) {
        const a = ACTIONS[action];
        const dialog = $("confirm");
        $("confirm-title").textContent = `${a.label} ${name}`;
        $("confirm-text").textContent = a.text(name);
        $("confirm-ok").textContent = a.label;
        $("kill-options").hidden = action !== "kill";
        $("kill-signal").value = "SIGTERM";
        $("kill-all").checked = false;
        return new Promise((resolve) => {
            dialog.returnValue = "";
            dialog.addEventListener("close", function onClose() {
                dialog.removeEventListener("close", onClose);
                if (dialog.returnValue !== "confirm") return resolve(null);
                resolve(action === "kill" ? { signal: $("kill-signal").value, all: $("kill-all").checked } : {});
            });
            dialog.showModal();
            // The safe choice has the focus: Enter on a destructive dialog cancels.
            $("confirm-cancel").focus();
        });
    }

    async function runAction(action, name) {
        const a = ACTIONS[action];
        if (!isAdmin()) return;
        let body;
        if (a.confirm) {
            body = await confirmAction(action, name);
            if (body === null) return;
        }
        const path = "/v1/apps/" + encodeURIComponent(name) + "/" + (action === "kill" ? "signal" : action);
        busy.add(name);
        render();
        setProgress(`${a.verb} ${name}…`);
        const req = action === "kill" ? control.post(path, body) : control.post(path);
        req.then(() => {
            setProgress(`${name} ${a.done}.`);
        }).catch((ex, data) => {
            setProgress("");
            alertError(`${a.label} ${name} failed`, errorText(ex, data));
        }).then(() => {
            busy.delete(name);
            pollNow();
        });
    }

    function actionButtons(app, compact) {
        const box = el("div", { class: "actions", role: "group", "aria-label": "Actions for " + app.name });
        for (const [action, a] of Object.entries(ACTIONS)) {
            box.append(el("button", {
                type: "button",
                class: (a.danger ? "danger " : "") + (compact ? "small" : ""),
                "data-action": action,
                "data-app": app.name,
                "aria-label": `${a.label} ${app.name}`,
                text: a.label,
                onclick: () => runAction(action, app.name),
            }));
        }
        updateButtons(box, app);
        return box;
    }

    function updateButtons(box, app) {
        for (const b of box.querySelectorAll("button[data-action]")) {
            b.disabled = busy.has(app.name) || !ACTIONS[b.dataset.action].enabled(app);
        }
    }

    /* ---- the apps table ---------------------------------------------------- */

    let apps = [];            // last GET /v1/apps
    let lastCpu = new Map();  // name -> {cpu, at}: for CPU % between two polls
    const cpuPercent = new Map();
    const rows = new Map();   // name -> <tr>

    function stateBadge(state) {
        return el("span", { class: "state state-" + state, text: state });
    }

    function memoryText(a) {
        const u = a.resources.usage.memoryBytes, l = a.resources.limits.memory;
        if (u === null && l === null) return "—";
        return fmtBytes(u) + (l !== null ? " / " + fmtBytes(l) : "");
    }

    function cpuText(a) {
        const p = cpuPercent.get(a.name);
        return p === undefined || p === null ? "—" : p.toFixed(1) + " %";
    }

    function makeRow(app) {
        const link = el("a", { href: "#/app/" + encodeURIComponent(app.name), text: app.name });
        const tr = el("tr", { "data-app": app.name },
                      el("th", { scope: "row" }, link),
                      el("td", { class: "c-state" }),
                      el("td", { class: "c-ready" }),
                      el("td", { class: "c-restarts num" }),
                      el("td", { class: "c-cpu num" }),
                      el("td", { class: "c-mem num" }),
                      el("td", { class: "c-actions admin-only" }, actionButtons(app, true)));
        return tr;
    }

    function renderApps() {
        const body = $("apps-body");
        const names = new Set(apps.map((a) => a.name));
        for (const [name, tr] of rows) {
            if (!names.has(name)) { tr.remove(); rows.delete(name) }
        }
        let prev = null;
        for (const app of apps) {
            let tr = rows.get(app.name);
            if (!tr) { tr = makeRow(app); rows.set(app.name, tr) }
            // The daemon's (alphabetical) order. A row is moved only when it is out of
            // place: moving a row takes the keyboard focus off its buttons.
            const want = prev ? prev.nextSibling : body.firstChild;
            if (tr !== want) body.insertBefore(tr, want);
            prev = tr;
            tr.querySelector(".c-state").replaceChildren(stateBadge(app.state));
            if (app.message) tr.querySelector(".c-state").append(el("div", { class: "hint", text: app.message }));
            tr.querySelector(".c-ready").textContent = app.ready ? "yes" : "no";
            tr.querySelector(".c-restarts").textContent = String(app.restarts);
            tr.querySelector(".c-cpu").textContent = cpuText(app);
            tr.querySelector(".c-mem").textContent = memoryText(app);
            updateButtons(tr.querySelector(".actions"), app);
        }
        $("apps-empty").hidden = apps.length > 0;
        $("apps-table").hidden = apps.length === 0;
    }

    // CPU % as `isoctl top` and `docker stats` have it: CPU seconds used between two
    // polls over the wall time between them; 100 % is one core busy.
    function updateCpu(list, now, all) {
        const next = all ? new Map() : lastCpu;
        for (const a of list) {
            const cpu = a.resources.usage.cpuSeconds;
            const prev = lastCpu.get(a.name);
            if (cpu !== null && prev && prev.cpu !== null && now > prev.at && cpu >= prev.cpu)
                cpuPercent.set(a.name, 100 * (cpu - prev.cpu) / ((now - prev.at) / 1000));
            else if (cpu === null)
                cpuPercent.set(a.name, null);
            next.set(a.name, { cpu, at: now });
        }
        lastCpu = next;
    }

    /* ---- polling ----------------------------------------------------------- */

    let pollTimer = null;
    let polling = false, pollAgain = false;

    // A live region: it changes only when the connection's state does, not at each poll.
    function setConnection(ok, text) {
        const c = $("connection");
        if (c.textContent !== text) c.textContent = text;
        c.classList.toggle("bad", !ok);
    }

    function pollNow() {
        if (pollTimer) { window.clearTimeout(pollTimer); pollTimer = null }
        if (polling) { pollAgain = true; return }
        polling = true;
        const route = currentRoute();
        const path = route.app ? "/v1/apps/" + encodeURIComponent(route.app) : "/v1/apps";
        ro.get(path).then((data) => {
            const now = Date.now();
            const j = JSON.parse(data);
            if (route.app) {
                detail = j;
                detailError = null;
                updateCpu([j], now, false);
            } else {
                apps = j.apps || [];
                updateCpu(apps, now, true);
            }
            setConnection(true, "Connected to isolated; updated every 2 seconds.");
        }).catch((ex, data) => {
            if (route.app && ex && ex.status === 404) {
                detail = null;
                detailError = errorText(ex, data);
                setConnection(true, "Connected to isolated; updated every 2 seconds.");
            } else {
                setConnection(false, "Cannot read from isolated: " + errorText(ex, data));
            }
        }).then(() => {
            polling = false;
            render();
            if (pollAgain) { pollAgain = false; pollNow() } else schedule();
        });
    }

    function schedule() {
        if (pollTimer) window.clearTimeout(pollTimer);
        // Nothing is polled while the page is hidden (another Cockpit page is shown).
        pollTimer = cockpit.hidden ? null : window.setTimeout(pollNow, POLL_MS);
    }
    cockpit.addEventListener("visibilitychange", () => { if (!cockpit.hidden) pollNow() });

    /* ---- one app ----------------------------------------------------------- */

    let detail = null;       // last GET /v1/apps/{name}
    let detailError = null;
    let detailActions = null;

    function fact(dl, term, value) {
        dl.append(el("dt", { text: term }), el("dd", {}, value));
    }

    function renderDetail(name) {
        $("app-heading").textContent = name;
        $("crumb-name").textContent = name;
        const dl = $("app-status");
        if (!detail || detail.name !== name) {
            $("app-state").replaceChildren();
            dl.replaceChildren();
            if (detailError) fact(dl, "Error", detailError);
            $("app-actions").replaceChildren();
            detailActions = null;
            return;
        }
        const a = detail;
        $("app-state").replaceChildren(stateBadge(a.state));
        if (!detailActions || detailActions.dataset.app !== name) {
            detailActions = actionButtons(a, false);
            detailActions.dataset.app = name;
            $("app-actions").replaceChildren(detailActions);
        }
        updateButtons(detailActions, a);

        dl.replaceChildren();
        fact(dl, "State", a.state + (a.message ? ": " + a.message : ""));
        fact(dl, "Ready", a.ready ? "yes" : "no");
        fact(dl, "Main process", fmtOrDash(a.pid));
        fact(dl, "Started", fmtTime(a.startedAt));
        fact(dl, "Restarts", String(a.restarts));
        fact(dl, "Last exit", exitText(a.lastExit));
        if (a.nextRestartAt) fact(dl, "Next restart", fmtTime(a.nextRestartAt));
        fact(dl, "Address", fmtOrDash(a.address));
        fact(dl, "Ports", a.ports.length
            ? a.ports.map((p) => `${p.hostAddress ? p.hostAddress + ":" : ""}${p.host} → ${p.app}/${p.protocol}`).join(", ")
            : "—");
        if (a.fileErrors && a.fileErrors.length) fact(dl, "App file errors", a.fileErrors.join("; "));
        if (a.redacted) fact(dl, "Note", "values of the definition are hidden: they need administrative access");

        const hb = $("health-body");
        hb.replaceChildren();
        for (const kind of ["startup", "liveness", "readiness"]) {
            const p = a.health[kind];
            if (!p) {
                hb.append(el("tr", {}, el("th", { scope: "row", text: kind }), el("td", { colspan: "5", class: "hint", text: "no probe" })));
                continue;
            }
            hb.append(el("tr", {},
                         el("th", { scope: "row", text: kind }),
                         el("td", {}, el("span", { class: "result result-" + p.result, text: p.result })),
                         el("td", { class: "num", text: String(p.consecutiveSuccesses) }),
                         el("td", { class: "num", text: String(p.consecutiveFailures) }),
                         el("td", { text: fmtTime(p.lastProbeAt) }),
                         el("td", { text: p.message || "" })));
        }

        const l = a.resources.limits, u = a.resources.usage;
        const lb = $("limits-body");
        lb.replaceChildren();
        const row = (what, limit, usage) =>
            lb.append(el("tr", {}, el("th", { scope: "row", text: what }),
                         el("td", { class: "num", text: limit }), el("td", { class: "num", text: usage })));
        row("CPU", l.cpu === null ? "—" : l.cpu + " cores", cpuText(a) +
            (u.cpuSeconds === null ? "" : ` (${u.cpuSeconds.toFixed(2)} s in all)`));
        row("Memory", fmtBytes(l.memory), fmtBytes(u.memoryBytes) +
            (u.memoryPeakBytes === null ? "" : `, peak ${fmtBytes(u.memoryPeakBytes)}`));
        row("Memory (throttle point)", fmtBytes(l.memoryHigh), "");
        row("Swap", fmtBytes(l.swap), "");
        row("Tasks", fmtOrDash(l.pids), fmtOrDash(u.pids));
        row("CPU weight", fmtOrDash(l.cpuWeight), "");
        row("IO weight", fmtOrDash(l.ioWeight), "");
        row("CPU throttled", "", u.cpuThrottledPeriods === null ? "—"
            : `${u.cpuThrottledPeriods} periods, ${(u.cpuThrottledSeconds || 0).toFixed(2)} s`);
    }

    /* ---- streams: events and logs ------------------------------------------ */

    // A follow=1 stream: calls onLine for each complete line; onEnd(ex, body) when the
    // stream ends (the daemon stopped, or an error answer).
    function follow(path, onLine, onEnd) {
        const req = ro.request({ method: "GET", path, body: "" });
        req.stream((data) => {
            const cut = data.lastIndexOf("\n");
            if (cut < 0) return 0;  // keep a partial line for the next chunk
            for (const line of data.slice(0, cut).split("\n")) onLine(line);
            return cut + 1;
        });
        req.then(() => onEnd(null, null)).catch((ex, body) => onEnd(ex, body));
        return req;
    }

    let eventsReq = null, eventsApp = null, eventsRetry = null;

    function stopEvents() {
        if (eventsRetry) { window.clearTimeout(eventsRetry); eventsRetry = null }
        if (eventsReq) { const r = eventsReq; eventsReq = null; r.close() }
        eventsApp = null;
    }

    function startEvents(name) {
        stopEvents();
        eventsApp = name;
        const body = $("events-body");
        body.replaceChildren();
        $("events-status").textContent = "";
        // The stream starts with the stored events, then each new one (API.md: none twice,
        // none missed); after a reconnect it starts over, so the table does too.
        const req = follow("/v1/events?follow=1&app=" + encodeURIComponent(name), (line) => {
            if (!line) return;
            let ev;
            try { ev = JSON.parse(line) } catch (e) { return }
            body.prepend(el("tr", { class: "event event-" + ev.type },
                            el("td", { class: "time", text: fmtTime(ev.time) }),
                            el("td", { text: ev.type }),
                            el("td", { text: ev.state || "" }),
                            el("td", { text: ev.message || "" })));
            while (body.rows.length > MAX_EVENTS) body.lastChild.remove();
        }, (ex, data) => {
            if (eventsReq !== req) return;  // closed by us
            eventsReq = null;
            $("events-status").textContent = "The event stream ended" +
                (ex ? ": " + errorText(ex, data) : "") + "; reconnecting…";
            eventsRetry = window.setTimeout(() => { if (eventsApp === name) startEvents(name) }, POLL_MS);
        });
        eventsReq = req;
    }

    let logReq = null, logApp = null;

    function stopLogs() {
        if (logReq) { const r = logReq; logReq = null; r.close() }
        logApp = null;
    }

    function startLogs(name) {
        stopLogs();
        logApp = name;
        const log = $("log");
        log.replaceChildren();
        $("log-reconnect").hidden = true;
        $("log-status").textContent = "Following the output…";
        const req = follow("/v1/apps/" + encodeURIComponent(name) + "/logs?follow=1&tail=500&timestamps=1", (line) => {
            const sp = line.indexOf(" ");
            const when = sp > 0 ? line.slice(0, sp) : "";
            const text = sp > 0 ? line.slice(sp + 1) : line;
            const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
            log.append(el("div", { class: "line" },
                          el("span", { class: "time", text: when ? fmtTime(when) + " " : "" }), text));
            while (log.childElementCount > MAX_LOG_LINES) log.firstChild.remove();
            if ($("log-follow").checked && atEnd) log.scrollTop = log.scrollHeight;
        }, (ex, data) => {
            if (logReq !== req) return;
            logReq = null;
            $("log-status").textContent = ex ? "Cannot show the output: " + errorText(ex, data)
                                             : "The output stream ended (the daemon stopped?).";
            $("log-reconnect").hidden = false;
        });
        logReq = req;
    }
    $("log-reconnect").addEventListener("click", () => { const r = currentRoute(); if (r.app) startLogs(r.app) });

    /* ---- routing: #/ (apps), #/app/NAME (overview), #/app/NAME/logs -------- */

    function currentRoute() {
        const p = cockpit.location.path;
        if (p[0] === "app" && p[1]) return { app: p[1], logs: p[2] === "logs" };
        return { app: null, logs: false };
    }

    let shownRoute = "";

    function render() {
        const r = currentRoute();
        const key = r.app === null ? "" : r.app + (r.logs ? "/logs" : "");
        $("view-apps").hidden = r.app !== null;
        $("view-app").hidden = r.app === null;
        if (key !== shownRoute) {
            // A new view: its streams and its figures start afresh.
            shownRoute = key;
            if (r.app === null) { stopEvents(); stopLogs(); detail = null; detailError = null }
            if (r.app !== null) {
                if (!detail || detail.name !== r.app) { detail = null; detailError = null }
                const base = "#/app/" + encodeURIComponent(r.app);
                $("tab-overview").setAttribute("href", base);
                $("tab-logs").setAttribute("href", base + "/logs");
                for (const [id, on] of [["tab-overview", !r.logs], ["tab-logs", r.logs]]) {
                    if (on) $(id).setAttribute("aria-current", "page");
                    else $(id).removeAttribute("aria-current");
                }
                if (r.logs) { stopEvents(); if (logApp !== r.app) startLogs(r.app) }
                else { stopLogs(); if (eventsApp !== r.app) startEvents(r.app) }
                document.title = r.app + " — isolated";
            } else {
                document.title = "isolated";
            }
            $("app-overview").hidden = r.logs;
            $("app-logs").hidden = !r.logs;
        }
        if (r.app === null) renderApps();
        else renderDetail(r.app);
    }

    cockpit.addEventListener("locationchanged", () => { render(); pollNow() });

    document.body.classList.add("no-admin");
    render();
    pollNow();
}());
