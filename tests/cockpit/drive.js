// Drives isolated's Cockpit page in headless chromium over the DevTools protocol and
// checks it against the daemon's own API (tests/cockpit/cockpit-page.sh runs it inside
// its namespaces). Prints "ok: ..." per check; exits 1 at the first failure.
//
// Environment: PAGE_URL (the page under cockpit-ws, a root session), USER_PAGE_URL (the
// same under a cockpit-ws whose session is nobody's), CDP_PORT (chromium's DevTools
// port), SCREENSHOTS (directory for the PNGs), NODE_MODULES (tests/js/node_modules).
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");
const { createRequire } = require("module");

const CDP = createRequire(path.join(process.env.NODE_MODULES, "package.json"))("chrome-remote-interface");
const PAGE_URL = process.env.PAGE_URL;
const USER_PAGE_URL = process.env.USER_PAGE_URL;
const CDP_PORT = Number(process.env.CDP_PORT);
const SHOTS = process.env.SCREENSHOTS;
const CONTROL = "/run/isolated/isolated.sock";

// Generous bounds on waits (a slow CI machine), never assertions about speed; the whole
// run is bounded too (a DevTools call that never answers), well inside ctest's timeout.
const WAIT_MS = 45000;
const DEADLINE_MS = 300000;

let client;
const pageProblems = [];
// The paths of the HTTP channels the page opened through Cockpit's WebSocket, in order:
// a stream that delivers news must be one open channel, not a page that re-asks.
const channelOpens = [];

function ok(msg) { console.log("ok: " + msg) }
class Failure extends Error {}
function fail(msg) { throw new Failure(msg) }

// The daemon's API on the control socket, as root.
function api(method, p, body) {
    return new Promise((resolve, reject) => {
        const req = http.request({ socketPath: CONTROL, path: p, method, headers: { Host: "x" } }, (res) => {
            let data = "";
            res.setEncoding("utf8");
            res.on("data", (c) => { data += c });
            res.on("end", () => resolve({ status: res.statusCode, body: data }));
        });
        req.on("error", reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
    });
}
async function apiJson(p) {
    const r = await api("GET", p);
    if (r.status !== 200) fail(`GET ${p}: ${r.status} ${r.body}`);
    return JSON.parse(r.body);
}
async function appState(name) { return (await apiJson("/v1/apps/" + name)).state }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; fails with `what` (and the last value).
async function waitFor(what, fn, ms = WAIT_MS) {
    const end = Date.now() + ms;
    let last;
    for (;;) {
        last = await fn();
        if (last) return last;
        if (Date.now() > end) fail(`${what} (after ${ms / 1000} s; last: ${JSON.stringify(last)})`);
        await sleep(200);
    }
}

// Evaluates JS in the page; returns its (JSON) value.
async function page(expr) {
    const r = await client.Runtime.evaluate({ expression: expr, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) fail(`in the page: ${expr}: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`);
    return r.result.value;
}

// A real mouse click in the middle of the element (scrolled into view first).
async function click(selector) {
    const box = await page(`(() => {
        const e = document.querySelector(${JSON.stringify(selector)});
        if (!e) return null;
        e.scrollIntoView({ block: "center" });
        const r = e.getBoundingClientRect();
        return { x: r.x + r.width / 2, y: r.y + r.height / 2, visible: r.width > 0 && r.height > 0, disabled: !!e.disabled };
    })()`);
    if (!box) fail(`no element ${selector}`);
    if (!box.visible) fail(`${selector} is not visible`);
    if (box.disabled) fail(`${selector} is disabled`);
    for (const type of ["mouseMoved", "mousePressed", "mouseReleased"])
        await client.Input.dispatchMouseEvent({ type, x: box.x, y: box.y, button: "left", clickCount: 1 });
}

// A key press as a keyboard makes it (Enter carries its text: that is what activates a button).
async function key(keyName, code, keyCode) {
    const text = keyName === "Enter" ? "\r" : undefined;
    await client.Input.dispatchKeyEvent({ type: "keyDown", key: keyName, code, windowsVirtualKeyCode: keyCode, text });
    await client.Input.dispatchKeyEvent({ type: "keyUp", key: keyName, code, windowsVirtualKeyCode: keyCode });
}

async function navigate(url) {
    const loaded = client.Page.loadEventFired();  // listening before the load can happen
    await client.Page.navigate({ url });
    await loaded;
}

// FULL: the whole page, not only the window; or a selector: the window's width down
// to that element's bottom (no empty space under a short table).
async function screenshot(name, full = false) {
    await sleep(300);  // let the last paint land
    const opts = { format: "png" };
    if (typeof full === "string") {
        const bottom = await page(`document.querySelector(${JSON.stringify(full)}).getBoundingClientRect().bottom`);
        const width = await page(`document.documentElement.clientWidth`);
        opts.clip = { x: 0, y: 0, width, height: Math.ceil(bottom) + 24, scale: 1 };
    } else if (full) {
        const { cssContentSize: c } = await client.Page.getLayoutMetrics();
        Object.assign(opts, { captureBeyondViewport: true, clip: { x: 0, y: 0, width: c.width, height: c.height, scale: 1 } });
    }
    const { data } = await client.Page.captureScreenshot(opts);
    fs.writeFileSync(path.join(SHOTS, name), Buffer.from(data, "base64"));
    ok(`screenshot ${name}`);
}

// Every control the user can reach has an accessible name (Chromium's accessibility tree).
async function checkAccessibleNames(view) {
    const { nodes } = await client.Accessibility.getFullAXTree();
    const roles = new Set(["button", "link", "checkbox", "combobox", "textbox", "menuitem", "tab", "radio"]);
    const unnamed = nodes.filter((n) => !n.ignored && roles.has(n.role?.value) && !(n.name?.value || "").trim())
        .map((n) => n.role.value);
    if (unnamed.length) fail(`${view}: controls without an accessible name: ${unnamed.join(", ")}`);
    const count = nodes.filter((n) => !n.ignored && roles.has(n.role?.value)).length;
    ok(`${view}: all ${count} controls have accessible names`);
}

// The table as the page shows it: {name: state}.
const tableStates = () => page(`Object.fromEntries([...document.querySelectorAll("#apps-body tr")]
    .map((tr) => [tr.dataset.app, tr.querySelector(".c-state .state")?.textContent]))`);

async function main() {
    const targets = await CDP.List({ port: CDP_PORT });
    const target = targets.find((t) => t.type === "page");
    if (!target) fail("chromium has no page");
    client = await CDP({ port: CDP_PORT, target });
    const { Page, Runtime, Log, Emulation, Network } = client;
    await Promise.all([Page.enable(), Runtime.enable(), Log.enable(), Network.enable()]);
    // Cockpit's protocol: a frame is "CHANNEL\nPAYLOAD"; control messages have an empty
    // channel and a JSON payload, {"command": "open", "payload": "http-stream2", "path": ...}.
    Network.webSocketFrameSent(({ response }) => {
        const text = response.payloadData || "";
        if (!text.startsWith("\n")) return;
        try {
            const m = JSON.parse(text.slice(1));
            if (m.command === "open" && m.payload === "http-stream2") channelOpens.push(m.path);
        } catch (e) { /* not a control message */ }
    });
    // Uncaught errors and content-security-policy violations (an external asset) fail.
    Runtime.exceptionThrown(({ exceptionDetails: d }) =>
        pageProblems.push("exception: " + (d.exception?.description || d.text)));
    Log.entryAdded(({ entry }) => {
        if (entry.level === "error" && /Content Security Policy|Refused to/.test(entry.text)) pageProblems.push("CSP: " + entry.text);
    });
    await Emulation.setDeviceMetricsOverride({ width: 1280, height: 860, deviceScaleFactor: 1, mobile: false });

    // ---- the apps table -------------------------------------------------------------
    await navigate(PAGE_URL);
    const expected = { broken: "failed", idle: "stopped", web: "ready", worker: "ready" };
    await waitFor("the daemon's apps reach their states", async () => {
        for (const [n, s] of Object.entries(expected)) if (await appState(n) !== s) return false;
        return true;
    });
    const shown = await waitFor("the table lists the daemon's apps with the daemon's states", async () => {
        const t = await tableStates();
        const d = Object.fromEntries((await apiJson("/v1/apps")).apps.map((a) => [a.name, a.state]));
        return JSON.stringify(t) === JSON.stringify(d) && JSON.stringify(t) === JSON.stringify(expected) && t;
    });
    ok(`the table shows ${JSON.stringify(shown)}, as GET /v1/apps`);
    await waitFor("CPU and memory figures for the running apps", () => page(`(() => {
        const tr = document.querySelector('#apps-body tr[data-app="web"]');
        return /%/.test(tr.querySelector(".c-cpu").textContent) && /MiB|KiB/.test(tr.querySelector(".c-mem").textContent)
            && /64\\.0 MiB|64 MiB/.test(tr.querySelector(".c-mem").textContent);
    })()`));
    ok("CPU % and memory / limit are shown (web: " + await page(
        `document.querySelector('#apps-body tr[data-app="web"] .c-cpu').textContent + ", " +
         document.querySelector('#apps-body tr[data-app="web"] .c-mem').textContent`) + ")");
    // Root's session: administrative access, so the actions are there.
    await waitFor("the action buttons are shown to an administrator", () => page(
        `!document.body.classList.contains("no-admin") &&
         getComputedStyle(document.querySelector('[aria-label="Stop web"]')).display !== "none"`));
    ok("administrative access: the Start/Stop/Restart/Kill buttons are shown");
    await checkAccessibleNames("apps table");
    await screenshot("apps.png", "#view-apps");

    // ---- keyboard: a confirmation cancelled with Escape does nothing ------------------
    await page(`document.querySelector('[aria-label="Restart worker"]').focus()`);
    const pidBefore = (await apiJson("/v1/apps/worker")).pid;
    await key("Enter", "Enter", 13);
    await waitFor("Enter on a focused Restart button opens the confirmation", () => page(`document.getElementById("confirm").open`));
    if (await page(`document.activeElement.id`) !== "confirm-cancel") fail("the confirmation's focus is not on Cancel");
    await key("Escape", "Escape", 27);
    await waitFor("Escape closes the confirmation", async () => !(await page(`document.getElementById("confirm").open`)));
    await sleep(1000);
    const w = await apiJson("/v1/apps/worker");
    if (w.pid !== pidBefore || w.state !== "ready") fail(`a cancelled restart acted: ${JSON.stringify(w)}`);
    ok("keyboard: Enter opens the confirmation with Cancel focused; Escape cancels, worker untouched");

    // ---- stop from the page ---------------------------------------------------------
    await click('[aria-label="Stop web"]');
    await waitFor("Stop opens a confirmation", () => page(`document.getElementById("confirm").open`));
    const title = await page(`document.getElementById("confirm-title").textContent`);
    if (title !== "Stop web") fail(`confirmation title: ${title}`);
    await checkAccessibleNames("confirmation dialog");
    await screenshot("confirm-stop.png");
    await click("#confirm-ok");
    await waitFor("the daemon has web stopped (GET /v1/apps/web)", async () => await appState("web") === "stopped");
    ok("Stop web, confirmed in the page, stopped web in the daemon (control socket, superuser)");
    await waitFor("the table shows web stopped", async () => (await tableStates()).web === "stopped");
    ok("the table shows web stopped");

    // ---- an API error is shown with the daemon's message ----------------------------
    await click('[aria-label="Start broken"]');
    const alertText = await waitFor("an alert with the daemon's error for Start broken", () => page(
        `[...document.querySelectorAll("#alerts .alert")].map((a) => a.querySelector("strong").textContent + a.querySelector(".alert-text").textContent)
          .find((t) => t.startsWith("Start broken failed: "))`));
    const direct = await api("POST", "/v1/apps/broken/start");
    const message = JSON.parse(direct.body).error?.message || "";
    if (direct.status < 400 || !message) fail(`POST start broken: ${direct.status} ${direct.body}`);
    // The daemon's message names the app and why; the page shows it, not just a status.
    if (!alertText.includes("broken") || /^\s*Start broken failed: 4\d\d\b/.test(alertText)) fail(`alert: ${alertText}`);
    ok(`the page shows the daemon's error: "${alertText.trim()}" (API: ${direct.status} "${message}")`);
    await page(`document.querySelectorAll("#alerts .alert button").forEach((b) => b.click())`);

    // ---- app details: a crash shows up in the events without a reload ----------------
    await click('#apps-body tr[data-app="worker"] a');
    await waitFor("the worker's details with its events", () => page(
        `!document.getElementById("view-app").hidden && document.getElementById("app-heading").textContent === "worker"
         && document.querySelectorAll("#events-body tr").length > 0
         && document.querySelector("#health-body tr") !== null && document.querySelector("#limits-body tr") !== null`));
    ok("the details view shows worker's status, health, limits and its events so far");
    await page(`window.__noReload = "still the same document"`);
    const exitRows = () => page(`[...document.querySelectorAll("#events-body tr")]
        .filter((tr) => tr.cells[1].textContent === "exit").map((tr) => tr.cells[3].textContent)`);
    const exitsBefore = (await exitRows()).length;
    const eventStreams = () => channelOpens.filter((p) => p.startsWith("/v1/events")).length;
    const streamsBefore = eventStreams();
    if (streamsBefore < 1) fail("the details view opened no /v1/events stream");
    const before = await apiJson("/v1/apps/worker");
    process.kill(before.pid, "SIGKILL");
    ok(`killed worker's main process (pid ${before.pid}) with SIGKILL`);
    const exits = await waitFor("the crash shows up in the events view", async () => {
        const r = await exitRows();
        return r.length > exitsBefore && r;
    });
    if (await page(`window.__noReload`) !== "still the same document") fail("the page was reloaded");
    if (eventStreams() !== streamsBefore) fail("the crash came through a new /v1/events request, not the open stream");
    const evs = (await apiJson("/v1/apps/worker")).events.filter((e) => e.type === "exit");
    const lastExit = evs[evs.length - 1];
    if (!lastExit || exits[0] !== lastExit.message) fail(`newest exit row "${exits[0]}" is not the daemon's "${lastExit?.message}"`);
    ok(`the events view shows the crash without a reload, through the open follow=1 stream: "${exits[0]}"`);
    await waitFor("worker restarted by its policy", async () => {
        const a = await apiJson("/v1/apps/worker");
        return a.state === "ready" && a.pid !== before.pid && a.restarts > before.restarts;
    });
    await waitFor("the details view shows the restart", () => page(
        `document.querySelector("#app-state .state")?.textContent === "ready" &&
         [...document.querySelectorAll("#app-status dd")].some((d) => d.textContent === "${before.restarts + 1}")`));
    await checkAccessibleNames("app details");
    await screenshot("app-details.png", true);

    // ---- the log view follows -------------------------------------------------------
    await click("#tab-logs");
    const starts = () => page(`[...document.querySelectorAll("#log .line")].filter((l) => l.textContent.includes("worker started")).length`);
    const n0 = await waitFor("the log view shows worker's output", starts);
    ok(`the log view shows the app's output (${n0} "worker started" lines)`);
    const logStreams = () => channelOpens.filter((p) => /^\/v1\/apps\/worker\/logs\?.*follow=1/.test(p)).length;
    if (logStreams() !== 1) fail(`log streams opened: ${logStreams()}`);
    const mid = await apiJson("/v1/apps/worker");
    process.kill(mid.pid, "SIGKILL");
    await waitFor("the log view follows: a new line after another restart", async () => (await starts()) > n0);
    if (logStreams() !== 1) fail(`the new line came through a new logs request (${logStreams()} opened)`);
    if (await page(`window.__noReload`) !== "still the same document") fail("the page was reloaded");
    ok("the log view follows the output: the next start's line came through the open follow=1 stream");
    await checkAccessibleNames("log view");
    await screenshot("app-logs.png");

    // ---- an ordinary user's session: read-only -------------------------------------
    await navigate(USER_PAGE_URL);
    await waitFor("nobody's page lists the apps with the daemon's states", async () => {
        const t = await tableStates();
        const d = Object.fromEntries((await apiJson("/v1/apps")).apps.map((a) => [a.name, a.state]));
        return Object.keys(t).length === 4 && JSON.stringify(t) === JSON.stringify(d);
    });
    await waitFor("no actions without administrative access", () => page(
        `document.body.classList.contains("no-admin") && !document.getElementById("admin-notice").hidden &&
         [...document.querySelectorAll("button[data-action]")].every((b) => getComputedStyle(b.closest(".admin-only")).display === "none")`));
    ok("without administrative access: the apps are listed, the actions are hidden and a notice says why");
    await screenshot("apps-read-only.png", "#view-apps");
    await page(`window.location.hash = "#/app/worker/logs"`);  // in the document: no load event
    const denied = await waitFor("the log view shows the daemon's refusal", () => page(
        `(t => t.startsWith("Cannot show the output") && t)(document.getElementById("log-status").textContent)`));
    if (!denied.includes("need root or group isolated")) fail(`log view for nobody: "${denied}"`);
    ok(`without administrative access the log view says: "${denied}"`);

    if (pageProblems.length) fail("the page had problems:\n  " + pageProblems.join("\n  "));
    ok("no uncaught exceptions and no content-security-policy violations in the page");
}

const deadline = setTimeout(() => {
    console.log(`FAIL: the test did not finish within ${DEADLINE_MS / 1000} s`);
    process.exit(1);
}, DEADLINE_MS);

main().then(async () => {
    clearTimeout(deadline);
    await client?.close();
    console.log("PASS: the Cockpit page");
}, async (e) => {
    console.log("FAIL: " + (e instanceof Failure ? e.message : e.stack || e));
    if (client) {
        try {
            const { data } = await client.Page.captureScreenshot({ format: "png" });
            fs.writeFileSync(path.join(SHOTS, "failure.png"), Buffer.from(data, "base64"));
            console.log("(the page at the failure: failure.png)");
            await client.close();
        } catch (e2) { /* the browser is gone */ }
    }
    if (pageProblems.length) console.log("page problems:\n  " + pageProblems.join("\n  "));
    process.exit(1);
});
