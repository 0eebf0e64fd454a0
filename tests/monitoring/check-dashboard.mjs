#!/usr/bin/env node
// Checks the Grafana dashboard conf/monitoring/isolated-dashboard.json:
//   node check-dashboard.mjs DASHBOARD METRICS_FILE   the structure, every PromQL expression
//       (panel targets and template variable queries) parsed by Prometheus' own lezer
//       grammar, and every metric it names present with a sample in METRICS_FILE (a saved
//       GET /v1/metrics of a live daemon: tests/integration/dashboard_test.cpp).
//   node check-dashboard.mjs --self-test [DASHBOARD]  the same checks on broken fixtures,
//       which must be rejected, then DASHBOARD's structure and PromQL (no metrics file).
// Exit 0 when everything holds, 1 with every problem on stderr, 2 on bad usage.
//
// The parser is @prometheus-io/lezer-promql (the grammar of Prometheus' web UI), pinned in
// tests/js/package-lock.json and installed by scripts/install-deps.sh; it is resolved from
// tests/js/node_modules whatever the working directory is.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const jsDir = join(here, '..', 'js');
let parser;
try {
  ({ parser } = createRequire(join(jsDir, 'package.json'))('@prometheus-io/lezer-promql'));
} catch (e) {
  console.error(`FAIL: cannot load @prometheus-io/lezer-promql from ${jsDir}/node_modules ` +
                `(scripts/install-deps.sh runs npm ci there): ${e.message}`);
  process.exit(1);
}

const DS_UID = '${DS_PROMETHEUS}';
// Grafana 10.0 writes schemaVersion 38, 10.3 to 11.2 write 39, 11.3 writes 40, 12 writes 41.
const SCHEMA_VERSIONS = [38, 39, 40, 41];
const REQUIRED_VARIABLES = ['instance', 'app'];
// Series that Prometheus itself adds to every target: they are never in /v1/metrics.
const SCRAPE_SERIES = new Set(['up']);
// Functions whose argument (by position) must be a range vector: lezer parses
// rate(x) without complaint, Prometheus rejects it when the query runs.
const RANGE_ARG = new Map([
  ...['rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'changes', 'resets', 'predict_linear',
      'holt_winters', 'double_exponential_smoothing', 'avg_over_time', 'min_over_time', 'max_over_time',
      'sum_over_time', 'count_over_time', 'stddev_over_time', 'stdvar_over_time', 'last_over_time',
      'present_over_time', 'absent_over_time', 'mad_over_time'].map((f) => [f, 0]),
  ['quantile_over_time', 1],
]);
// Grafana's built-in variables, replaced by a value of the right kind before parsing.
const BUILTINS = new Map([
  ['__rate_interval', '5m'], ['__interval', '1m'], ['__range', '6h'], ['__auto', '1m'],
  ['__interval_ms', '60000'], ['__range_ms', '21600000'], ['__range_s', '21600'],
  ['__rate_interval_ms', '300000'],
]);

/// Grafana's variable syntaxes: $name, ${name}, ${name:format}, ${name.field}, [[name]], [[name:format]].
const VAR_RE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.[^:}]+)?(?::[^}]+)?\}/g;
/// What a dashboard variable becomes: an identifier that survives parsing and is
/// recognisable afterwards (as a matcher's value, or as a metric name made of a variable).
const varMarker = (name) => `__grafana_var_${name}__`;

/// Replaces Grafana variables in `text`; unknown ones are problems (a regex back-reference
/// such as label_replace's "$1" is not a variable, as in Grafana).
function substitute(text, variables, problems, where) {
  return text.replace(VAR_RE, (all, a, b, _fmt, c) => {
    const name = a ?? b ?? c;
    if (BUILTINS.has(name)) return BUILTINS.get(name);
    if (variables.has(name)) return varMarker(name);
    if (/^\d+$/.test(name)) return all;
    problems.push(`${where}: unknown Grafana variable ${all} (not a dashboard variable or a built-in)`);
    return 'x';
  });
}

/// PromQL string literal -> its value (double, single or back quotes).
function unquote(lit) {
  const q = lit[0];
  const body = lit.slice(1, -1);
  if (q === '`') return body;
  return body.replace(/\\(.)/g, (_, c) => ({ n: '\n', t: '\t', '\\': '\\', '"': '"', "'": "'" }[c] ?? c));
}

const named = (node) => {
  const out = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
};

/// Parses one expression; returns { selectors: [{ name, matchers: Map label -> [op, value] }] }
/// and pushes every parse error and misuse into `problems`, each naming `where` and the text.
function parsePromQL(expr, where, problems) {
  const tree = parser.parse(expr);
  const selectors = [];
  const errors = [];
  tree.iterate({
    enter(ref) {
      const node = ref.node;
      const type = node.type.name;
      if (node.type.isError) {
        errors.push(ref.from);
        return false;
      }
      if (type === 'VectorSelector') {
        const sel = { name: null, matchers: new Map() };
        for (const c of named(node)) {
          if (c.type.name === 'Identifier') sel.name = expr.slice(c.from, c.to);
          if (c.type.name !== 'LabelMatchers') continue;
          for (const m of named(c)) {
            const parts = named(m);
            if (m.type.name === 'QuotedLabelName' && parts.length === 1) {
              sel.name = unquote(expr.slice(parts[0].from, parts[0].to));  // {"metric.name", ...}
            } else if (m.type.name === 'UnquotedLabelMatcher' || m.type.name === 'QuotedLabelMatcher') {
              const labelNode = parts[0];
              let label = expr.slice(labelNode.from, labelNode.to);
              if (labelNode.type.name === 'QuotedLabelName') label = unquote(label);
              const op = expr.slice(parts[1].from, parts[1].to);
              const value = unquote(expr.slice(parts[2].from, parts[2].to));
              if (label === '__name__' && op === '=') sel.name = value;
              else sel.matchers.set(label, [op, value]);
            }
          }
        }
        selectors.push(sel);
      }
      if (type === 'FunctionCall') {
        const [ident, body] = named(node);
        const fname = expr.slice(ident.from, ident.to);
        if (RANGE_ARG.has(fname) && body) {
          let arg = named(body)[RANGE_ARG.get(fname)];
          while (arg && arg.type.name === 'ParenExpr') arg = named(arg)[0];
          if (!arg || (arg.type.name !== 'MatrixSelector' && arg.type.name !== 'SubqueryExpr'))
            problems.push(`${where}: ${fname}() needs a range vector (a selector with [duration], or a subquery) in: ${expr}`);
        }
      }
      return true;
    },
  });
  for (const at of errors)
    problems.push(`${where}: PromQL parse error at offset ${at} ("${expr.slice(Math.max(0, at - 15), at)}` +
                  `<HERE>${expr.slice(at, at + 15)}") in: ${expr}`);
  if (errors.length) return { selectors: [] };
  for (const s of selectors)
    if (!s.name) problems.push(`${where}: a selector without a metric name in: ${expr}`);
    else if (s.name.startsWith('__grafana_var_'))
      problems.push(`${where}: a metric name made of a Grafana variable cannot be checked in: ${expr}`);
  return { selectors: selectors.filter((s) => s.name && !s.name.startsWith('__grafana_var_')) };
}

/// Splits "label_values(SELECTOR, label)" into its selector and label, quotes and
/// brackets respected; null when `q` is not of that form.
function splitLabelValues(q) {
  const m = /^\s*label_values\s*\(([\s\S]*)\)\s*$/.exec(q);
  if (!m) return null;
  const inner = m[1];
  let depth = 0, quote = null, lastComma = -1;
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if ('({['.includes(ch)) depth++;
    else if (')}]'.includes(ch)) depth--;
    else if (ch === ',' && depth === 0) lastComma = i;
  }
  if (lastComma < 0) return { selector: null, label: inner.trim() };
  return { selector: inner.slice(0, lastComma).trim(), label: inner.slice(lastComma + 1).trim() };
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v) => Number.isInteger(v);
const dsOk = (ds) => isObject(ds) && ds.type === 'prometheus' && ds.uid === DS_UID;

/// Every problem with `dash` (parsed JSON) and, when `metricsText` is given, with the
/// metrics it names; plus counts for the summary.
export function checkDashboard(dash, metricsText) {
  const problems = [];
  const stats = { panels: 0, expressions: 0, metrics: new Set() };
  if (!isObject(dash)) return { problems: ['the dashboard is not a JSON object'], stats };

  // ---- import: the datasource input, what it requires, the schema ----
  const inputs = Array.isArray(dash.__inputs) ? dash.__inputs : [];
  const input = inputs.find((i) => isObject(i) && i.name === 'DS_PROMETHEUS');
  if (!input) problems.push('__inputs has no DS_PROMETHEUS entry');
  else if (input.type !== 'datasource' || input.pluginId !== 'prometheus')
    problems.push('__inputs DS_PROMETHEUS must be {"type": "datasource", "pluginId": "prometheus"}');
  const requires = Array.isArray(dash.__requires) ? dash.__requires : [];
  if (!requires.some((r) => isObject(r) && r.type === 'grafana' && r.id === 'grafana'))
    problems.push('__requires does not name Grafana');
  if (!requires.some((r) => isObject(r) && r.type === 'datasource' && r.id === 'prometheus'))
    problems.push('__requires does not name the prometheus datasource');
  if (!SCHEMA_VERSIONS.includes(dash.schemaVersion))
    problems.push(`schemaVersion ${dash.schemaVersion} is not one of Grafana 10/11's (${SCHEMA_VERSIONS.join(', ')})`);
  for (const key of ['title', 'uid']) if (typeof dash[key] !== 'string' || !dash[key]) problems.push(`no ${key}`);
  // Every ${DS_...} reference must be an input, or the import leaves it dangling.
  const text = JSON.stringify(dash);
  for (const [, name] of text.matchAll(/\$\{(DS_\w+)\}/g))
    if (!inputs.some((i) => isObject(i) && i.name === name)) problems.push(`\${${name}} is used but not in __inputs`);

  // ---- template variables ----
  const vars = isObject(dash.templating) && Array.isArray(dash.templating.list) ? dash.templating.list : [];
  const variables = new Set(vars.filter((v) => isObject(v) && typeof v.name === 'string').map((v) => v.name));
  const uses = [];  // [where, expr, isPanel]
  for (const name of REQUIRED_VARIABLES) {
    const v = vars.find((x) => isObject(x) && x.name === name);
    if (!v) { problems.push(`no template variable "${name}"`); continue; }
    if (v.type !== 'query') problems.push(`variable ${name}: type is not "query"`);
    if (!dsOk(v.datasource)) problems.push(`variable ${name}: datasource is not ${DS_UID}`);
    if (v.multi !== true || v.includeAll !== true) problems.push(`variable ${name}: not multi-value with All`);
  }
  for (const v of vars) {
    if (!isObject(v) || v.type !== 'query') continue;
    const where = `variable ${v.name}`;
    const q = isObject(v.query) ? v.query.query : v.query;
    if (typeof q !== 'string' || !q.trim()) { problems.push(`${where}: no query`); continue; }
    const lv = splitLabelValues(q);
    const qr = /^\s*query_result\s*\(([\s\S]*)\)\s*$/.exec(q);
    if (lv) {
      if (!/^[A-Za-z_]\w*$/.test(lv.label)) problems.push(`${where}: "${lv.label}" is not a label name in: ${q}`);
      if (!lv.selector) problems.push(`${where}: label_values() without a selector (it would list every job's values): ${q}`);
      else uses.push([where, lv.selector, false]);
    } else if (qr) {
      uses.push([where, qr[1], false]);
    } else {
      problems.push(`${where}: a query this check cannot parse (label_values(SELECTOR, LABEL) or query_result(EXPR)): ${q}`);
    }
  }

  // ---- panels: ids, layout, datasource, targets ----
  const flat = [];
  const walk = (list) => {
    for (const p of Array.isArray(list) ? list : []) {
      flat.push(p);
      if (isObject(p) && p.type === 'row') walk(p.panels);
    }
  };
  walk(dash.panels);
  if (!flat.length) problems.push('no panels');
  const ids = new Map();
  const boxes = [];
  for (const p of flat) {
    if (!isObject(p)) { problems.push('a panel is not an object'); continue; }
    const where = `panel ${p.id} "${p.title}"`;
    if (!isInt(p.id)) problems.push(`${where}: id is not an integer`);
    else if (ids.has(p.id)) problems.push(`${where}: id ${p.id} is also panel "${ids.get(p.id)}"`);
    else ids.set(p.id, p.title);
    if (typeof p.title !== 'string' || !p.title) problems.push(`${where}: no title`);
    const g = p.gridPos;
    if (!isObject(g) || !['x', 'y', 'w', 'h'].every((k) => isInt(g[k]))) {
      problems.push(`${where}: gridPos needs integer x, y, w, h`);
    } else if (g.x < 0 || g.y < 0 || g.w < 1 || g.h < 1 || g.x + g.w > 24) {
      problems.push(`${where}: gridPos ${JSON.stringify(g)} is outside the 24-column grid`);
    } else {
      for (const [other, o] of boxes)
        if (g.x < o.x + o.w && o.x < g.x + g.w && g.y < o.y + o.h && o.y < g.y + g.h)
          problems.push(`${where}: gridPos overlaps panel "${other}"`);
      boxes.push([p.title, g]);
    }
    if (p.type === 'row') continue;
    stats.panels++;
    if (typeof p.type !== 'string') problems.push(`${where}: no type`);
    else if (!requires.some((r) => isObject(r) && r.type === 'panel' && r.id === p.type))
      problems.push(`${where}: panel type ${p.type} is not in __requires`);
    if (!dsOk(p.datasource)) problems.push(`${where}: datasource is not {"type": "prometheus", "uid": "${DS_UID}"}`);
    if (!Array.isArray(p.targets) || !p.targets.length) { problems.push(`${where}: no targets`); continue; }
    const refIds = new Set();
    for (const t of p.targets) {
      if (!isObject(t)) { problems.push(`${where}: a target is not an object`); continue; }
      const tw = `${where} target ${t.refId}`;
      if (typeof t.refId !== 'string' || refIds.has(t.refId)) problems.push(`${tw}: refId missing or repeated`);
      refIds.add(t.refId);
      if (!dsOk(t.datasource)) problems.push(`${tw}: datasource is not ${DS_UID}`);
      if (typeof t.expr !== 'string' || !t.expr.trim()) problems.push(`${tw}: no expr`);
      else uses.push([tw, t.expr, true]);
    }
  }

  // ---- PromQL: parse, selectors, metric names ----
  const needed = new Map();  // metric -> first place that uses it
  for (const [where, raw, isPanel] of uses) {
    stats.expressions++;
    const expr = substitute(raw, variables, problems, where);
    const { selectors } = parsePromQL(expr, where, problems);
    for (const s of selectors) {
      const has = (label, op, value) => {
        const m = s.matchers.get(label);
        return m && m[0] === op && m[1] === value;
      };
      // As the alerts: container_* names are cAdvisor's too, so every selector is scoped
      // to the job; a panel follows the instance and app variables.
      if (!has('job', '=', 'isolated')) problems.push(`${where}: ${s.name} has no job="isolated" in: ${raw}`);
      if (isPanel && !has('instance', '=~', varMarker('instance')))
        problems.push(`${where}: ${s.name} has no instance=~"$instance" in: ${raw}`);
      if (isPanel && /^(isolated_app_|container_)/.test(s.name) && !has('app', '=~', varMarker('app')))
        problems.push(`${where}: ${s.name} has no app=~"$app" in: ${raw}`);
      stats.metrics.add(s.name);
      if (!needed.has(s.name)) needed.set(s.name, where);
    }
  }

  // ---- every metric it names has a sample in the daemon's exposition ----
  if (metricsText !== undefined) {
    const sampled = new Set();
    for (const line of metricsText.split('\n')) {
      const l = line.trim();
      if (!l || l.startsWith('#')) continue;
      const m = /^([A-Za-z_:][\w:]*)(?=[\s{])/.exec(l);
      if (m) sampled.add(m[1]);
    }
    if (!sampled.size) problems.push('the metrics file has no samples');
    else
      for (const [name, where] of needed)
        if (!SCRAPE_SERIES.has(name) && !sampled.has(name))
          problems.push(`metric ${name} (first used by ${where}) has no sample in the daemon's metrics`);
  }
  return { problems, stats };
}

// ---------------------------------------------------------------- self-test
const ds = { type: 'prometheus', uid: DS_UID };
const S = 'job="isolated", instance=~"$instance", app=~"$app"';
function fixture() {
  const v = (name, query) => ({ name, type: 'query', datasource: ds, multi: true, includeAll: true,
                                query: { query, refId: 'V', qryType: 1 } });
  return {
    __inputs: [{ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }],
    __requires: [{ type: 'grafana', id: 'grafana' }, { type: 'datasource', id: 'prometheus' },
                 { type: 'panel', id: 'timeseries' }],
    schemaVersion: 39, title: 't', uid: 't',
    templating: { list: [v('instance', 'label_values(isolated_up{job="isolated"}, instance)'),
                         v('app', 'label_values(isolated_app_state{job="isolated", instance=~"$instance"}, app)')] },
    panels: [
      { type: 'row', id: 1, title: 'Row', gridPos: { x: 0, y: 0, w: 24, h: 1 }, panels: [] },
      { type: 'timeseries', id: 2, title: 'CPU', gridPos: { x: 0, y: 1, w: 12, h: 8 }, datasource: ds,
        targets: [{ refId: 'A', datasource: ds,
                    expr: `sum by (app) (rate(container_cpu_usage_seconds_total{${S}}[$__rate_interval]))` },
                  { refId: 'B', datasource: ds,
                    expr: `label_replace(container_spec_cpu_quota{${S}}, "x", "$1", "app", "(.*)")` }] },
      { type: 'timeseries', id: 3, title: 'Up', gridPos: { x: 12, y: 1, w: 12, h: 8 }, datasource: ds,
        targets: [{ refId: 'A', datasource: ds, expr: 'up{job="isolated", instance=~"${instance}"}' }] },
    ],
  };
}
const METRICS = `# HELP isolated_up 1
# TYPE isolated_up gauge
isolated_up\t1
# TYPE isolated_app_state gauge
isolated_app_state{app="a",name="a",state="ready"} 1
container_cpu_usage_seconds_total{app="a",name="a"} 1.5
container_spec_cpu_quota{app="a",name="a"} 50000
# HELP container_threads_max Maximum number of threads.
# TYPE container_threads_max gauge
`;

function selfTest(dashboardPath) {
  let failed = 0;
  const expect = (name, mutate, metrics, wanted) => {
    const d = fixture();
    mutate(d);
    const { problems } = checkDashboard(d, metrics);
    const ok = wanted === null ? problems.length === 0
                               : problems.length > 0 && wanted.every((w) => problems.some((p) => p.includes(w)));
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
    if (!ok) {
      failed++;
      console.log(`     wanted ${wanted === null ? 'no problems' : JSON.stringify(wanted)}, got:\n       ` +
                  (problems.join('\n       ') || '(none)'));
    }
  };
  const p2 = (d) => d.panels[1];
  expect('a good dashboard passes', () => {}, METRICS, null);
  expect('a broken expression is rejected, naming panel and expression',
    (d) => { p2(d).targets[0].expr = 'sum(rate(container_cpu_usage_seconds_total{job="isolated"}[5m])'; },
    METRICS, ['panel 2 "CPU" target A: PromQL parse error', 'in: sum(rate(container_cpu_usage_seconds_total']);
  expect('a stray token is rejected',
    (d) => { p2(d).targets[0].expr = `container_cpu_usage_seconds_total{${S}} container_spec_cpu_quota`; },
    METRICS, ['PromQL parse error']);
  expect('an unknown metric is rejected, by name',
    (d) => { p2(d).targets[0].expr = `rate(container_cpu_usage_seconds_totl{${S}}[5m])`; },
    METRICS, ['metric container_cpu_usage_seconds_totl (first used by panel 2 "CPU" target A) has no sample']);
  expect('a family with HELP and TYPE but no sample is missing',
    (d) => { p2(d).targets[0].expr = `container_threads_max{${S}}`; },
    METRICS, ['metric container_threads_max']);
  expect('a broken variable query is rejected',
    (d) => { d.templating.list[1].query.query = 'label_values(isolated_app_state{job="isolated", app=}, app)'; },
    METRICS, ['variable app: PromQL parse error']);
  expect("a variable query's unknown metric is rejected",
    (d) => { d.templating.list[0].query.query = 'label_values(isolated_upp{job="isolated"}, instance)'; },
    METRICS, ['metric isolated_upp (first used by variable instance)']);
  expect('rate() of an instant vector is rejected',
    (d) => { p2(d).targets[0].expr = `rate(container_cpu_usage_seconds_total{${S}})`; },
    METRICS, ['rate() needs a range vector']);
  expect('a selector without job="isolated" is rejected',
    (d) => { p2(d).targets[0].expr = 'container_spec_cpu_quota{instance=~"$instance", app=~"$app"}'; },
    METRICS, ['has no job="isolated"']);
  expect('a per-app selector without the app variable is rejected',
    (d) => { p2(d).targets[0].expr = 'container_spec_cpu_quota{job="isolated", instance=~"$instance"}'; },
    METRICS, ['has no app=~"$app"']);
  expect('an unknown Grafana variable is rejected',
    (d) => { p2(d).targets[0].expr = `rate(container_cpu_usage_seconds_total{${S}}[$__rate_intervl])`; },
    METRICS, ['unknown Grafana variable $__rate_intervl']);
  expect('another datasource is rejected',
    (d) => { p2(d).targets[1].datasource = { type: 'prometheus', uid: 'abc' }; },
    METRICS, ['panel 2 "CPU" target B: datasource is not']);
  expect('a panel without targets is rejected', (d) => { p2(d).targets = []; }, METRICS, ['panel 2 "CPU": no targets']);
  expect('a repeated panel id is rejected', (d) => { d.panels[2].id = 2; }, METRICS, ['id 2 is also panel "CPU"']);
  expect('overlapping panels are rejected', (d) => { d.panels[2].gridPos.x = 6; }, METRICS, ['overlaps panel "CPU"']);
  expect('a missing DS_PROMETHEUS input is rejected', (d) => { d.__inputs = []; }, METRICS,
    ['__inputs has no DS_PROMETHEUS', '${DS_PROMETHEUS} is used but not in __inputs']);
  expect('a missing app variable is rejected', (d) => { d.templating.list.pop(); }, METRICS,
    ['no template variable "app"', 'unknown Grafana variable $app']);
  expect('an empty metrics file is rejected', () => {}, '# nothing\n', ['the metrics file has no samples']);

  if (dashboardPath) {
    // The real dashboard: structure and PromQL hold, and breaking one of its expressions
    // is caught (the check reaches its panels, not only the fixtures').
    const real = JSON.parse(readFileSync(dashboardPath, 'utf8'));
    const { problems, stats } = checkDashboard(real);
    const ok = problems.length === 0 && stats.expressions > 0;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${dashboardPath}: ${stats.panels} panels, ${stats.expressions} expressions parse`);
    if (!ok) { failed++; for (const p of problems) console.log(`     ${p}`); }
    const broken = structuredClone(real);
    const victim = broken.panels.find((p) => p.type !== 'row' && Array.isArray(p.targets) && p.targets.length);
    victim.targets[0].expr += ' by';
    const caught = checkDashboard(broken).problems.some((p) => p.includes(`panel ${victim.id} `) && p.includes('parse error'));
    console.log(`${caught ? 'ok  ' : 'FAIL'} breaking panel ${victim.id}'s expression is caught`);
    if (!caught) failed++;
  }
  console.log(failed ? `FAIL: ${failed} self-test case(s) failed` : 'OK: every self-test case holds');
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------- main
function main(argv) {
  if (argv[0] === '--self-test') return selfTest(argv[1]);
  if (argv.length !== 2) {
    console.error('usage: check-dashboard.mjs DASHBOARD_JSON METRICS_FILE | --self-test [DASHBOARD_JSON]');
    return 2;
  }
  const [dashboardPath, metricsPath] = argv;
  let dash, metrics;
  try {
    dash = JSON.parse(readFileSync(dashboardPath, 'utf8'));
    metrics = readFileSync(metricsPath, 'utf8');
  } catch (e) {
    console.error(`FAIL: ${e.message}`);
    return 1;
  }
  const { problems, stats } = checkDashboard(dash, metrics);
  if (problems.length) {
    for (const p of problems) console.error(`FAIL: ${p}`);
    console.error(`FAIL: ${problems.length} problem(s) in ${dashboardPath}`);
    return 1;
  }
  console.log(`OK: ${dashboardPath}: ${stats.panels} panels, ${stats.expressions} PromQL expressions parse; ` +
              `its ${stats.metrics.size} metrics all have samples in ${metricsPath} ` +
              `(${[...stats.metrics].filter((m) => SCRAPE_SERIES.has(m)).join(', ') || 'none'} added by Prometheus itself)`);
  return 0;
}

// Run as a program only (importing it for checkDashboard() runs nothing).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
