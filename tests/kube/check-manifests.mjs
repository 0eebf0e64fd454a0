// Checks Kubernetes manifests (the "-o json" List of isoctl export kube) two ways:
//  1. the Kubernetes API's OpenAPI schemas, through kubernetes-models' validate()
//     (types, enums, formats, required fields; it lets unknown fields through), and
//  2. a strict pass that rejects unknown fields: each document as an object literal of
//     its kubernetes-types type, compiled by TypeScript, whose excess-property check
//     refuses any field the API does not have, at any depth.
// Usage: node check-manifests.mjs [--self-test] LIST.json...
// --self-test first shows that each pass rejects a broken manifest (a wrong type, an
// unknown field), so a check that passes everything cannot go unnoticed.
// The packages are pinned in tests/js/package-lock.json (scripts/install-deps.sh).
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const jsdir = path.resolve(here, "../js");
const require = createRequire(path.join(jsdir, "package.json"));
const ts = require("typescript");

const KINDS = {
  "v1/Service": ["core", "Service"],
  "v1/ConfigMap": ["core", "ConfigMap"],
  "v1/Secret": ["core", "Secret"],
  "v1/PersistentVolumeClaim": ["core", "PersistentVolumeClaim"],
  "v1/Pod": ["core", "Pod"],
  "apps/v1/Deployment": ["apps", "Deployment"],
  "apps/v1/StatefulSet": ["apps", "StatefulSet"],
  "batch/v1/Job": ["batch", "Job"],
};
const MODELS = { core: "kubernetes-models/v1", apps: "kubernetes-models/apps/v1", batch: "kubernetes-models/batch/v1" };

function kindOf(doc) {
  const k = KINDS[`${doc.apiVersion}/${doc.kind}`];
  if (!k) throw new Error(`${doc.apiVersion}/${doc.kind} is not a kind this check knows`);
  return k;
}
const label = (doc) => `${doc.kind}/${doc.metadata && doc.metadata.name}`;

/** Pass 1: the schemas. Returns error strings. */
function schemaErrors(docs) {
  const errors = [];
  for (const doc of docs) {
    let group, kind;
    try {
      [group, kind] = kindOf(doc);
    } catch (e) {
      errors.push(`${label(doc)}: ${e.message}`);
      continue;
    }
    const Model = require(MODELS[group])[kind];
    try {
      new Model(doc).validate();
    } catch (e) {
      const details = (e.errors || []).map((x) => `${x.instancePath || "/"} ${x.message}`).join("; ");
      errors.push(`${label(doc)}: ${details || e.message}`);
    }
  }
  return errors;
}

/** Pass 2: unknown fields, by TypeScript's excess-property check. Returns error strings. */
function strictErrors(docs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-check-"));
  try {
    fs.symlinkSync(path.join(jsdir, "node_modules"), path.join(dir, "node_modules"));
    const lines = [
      'import type * as core from "kubernetes-types/core/v1";',
      'import type * as apps from "kubernetes-types/apps/v1";',
      'import type * as batch from "kubernetes-types/batch/v1";',
    ];
    const at = [];  // the document of each line
    docs.forEach((doc, i) => {
      let group, kind;
      try {
        [group, kind] = kindOf(doc);
      } catch {
        return;  // the schema pass names it
      }
      const body = JSON.stringify(doc, null, 1).split("\n");
      body[0] = `export const d${i}: ${group}.${kind} = ${body[0]}`;
      body[body.length - 1] += ";";
      for (const l of body) {
        lines.push(l);
        at[lines.length] = doc;
      }
    });
    const file = path.join(dir, "manifests.ts");
    fs.writeFileSync(file, lines.join("\n") + "\n");
    const program = ts.createProgram([file], {
      strict: true, noEmit: true, target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10, types: [], skipLibCheck: true,
    });
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const msg = ts.flattenDiagnosticMessageText(d.messageText, " ");
      if (!d.file) return msg;
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      const doc = at[line + 1];
      return `${doc ? label(doc) : "?"}: line ${line + 1}: ${msg}`;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function selfTest() {
  const good = {
    apiVersion: "v1", kind: "Service", metadata: { name: "web" },
    spec: { type: "ClusterIP", selector: { app: "web" }, ports: [{ port: 80, targetPort: 80, protocol: "TCP" }] },
  };
  const wrongType = structuredClone(good);
  wrongType.spec.ports[0].port = "eighty";
  const badEnum = structuredClone(good);
  badEnum.spec.type = "Cluster";
  const unknownField = structuredClone(good);
  unknownField.spec.ports[0].hostPort = 80;
  const failures = [];
  if (schemaErrors([good]).length) failures.push("schema pass rejects a good Service: " + schemaErrors([good]));
  if (strictErrors([good]).length) failures.push("strict pass rejects a good Service: " + strictErrors([good]));
  if (!schemaErrors([wrongType]).length) failures.push("schema pass accepts port: \"eighty\"");
  if (!schemaErrors([badEnum]).length) failures.push("schema pass accepts type: Cluster");
  if (!strictErrors([unknownField]).length) failures.push("strict pass accepts an unknown field (ports[0].hostPort)");
  if (!strictErrors([wrongType]).length) failures.push("strict pass accepts port: \"eighty\"");
  if (failures.length) {
    for (const f of failures) console.error(`self-test: ${f}`);
    process.exit(1);
  }
  console.log("self-test: a wrong type, a bad enum and an unknown field are rejected");
}

const args = process.argv.slice(2);
if (args[0] === "--self-test") {
  selfTest();
  args.shift();
}
let failed = false;
for (const file of args) {
  const list = JSON.parse(fs.readFileSync(file, "utf8"));
  const docs = list.kind === "List" ? list.items : [list];
  const errors = [...schemaErrors(docs).map((e) => `schema: ${e}`), ...strictErrors(docs).map((e) => `unknown field: ${e}`)];
  for (const e of errors) console.error(`${file}: ${e}`);
  if (errors.length) failed = true;
  else console.log(`${file}: ${docs.length} manifests valid (schemas and no unknown fields)`);
}
process.exit(failed ? 1 : 0);
