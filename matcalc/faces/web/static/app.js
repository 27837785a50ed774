// matcalc serve: the page. It talks only to the server that sent it
// (/api/view, /api/check, /api/preview); nothing typed is evaluated here.
"use strict";

const $ = (id) => document.getElementById(id);

const EXAMPLES = {
  cs224n: {
    f: "x : (1, D)\nW : (D, H)\nb1 : (1, H)\nU : (H, C)\nb2 : (1, C)\ny : (1, C) onehot\n" +
       "z = x W + b1\nh = relu(z)\nθ = h U + b2\nŷ = softmax(θ)\nJ = CE(y, ŷ)",
    wrt: "W, U", order: "gradient",
  },
  quadratic: { f: "x: (n, 1)\nJ = xᵀ A x", wrt: "x", order: "hessian" },
  trace: { f: "tr(A X B)", wrt: "X", order: "gradient" },
};

let current = null;     // the last /api/view answer
let busy = false;

function renderMath(latex, element, display = true) {
  element.textContent = "";
  try {
    katex.render(latex, element, { displayMode: display, throwOnError: false, strict: "ignore", trust: false });
  } catch (err) {
    element.textContent = latex;
  }
}

function fitEditor() {  // the editor grows with its program (up to 18 lines)
  const lines = $("f").value.split("\n").length;
  $("f").rows = Math.max(4, Math.min(18, lines + 1));
}

function firstWrt() {
  return $("wrt").value.split(",")[0].trim();
}

function problemFields() {
  const where = $("where").value.split("\n").filter((line) => line.trim());
  return { f: $("f").value, wrt: $("wrt").value, order: $("order").value, layout: $("layout").value, where };
}

// -- the URL carries the problem ---------------------------------------------
function problemQuery(withAnswer) {
  const fields = problemFields();
  const query = new URLSearchParams();
  query.set("f", fields.f);
  query.set("wrt", fields.wrt);
  if (fields.order !== "gradient") query.set("order", fields.order);
  if (fields.layout !== "numerator") query.set("layout", fields.layout);
  for (const line of fields.where) query.append("where", line);
  const answer = $("answer").value;
  if (withAnswer && answer.trim()) query.set("answer", answer);
  if (withAnswer && $("answer-wrt").value.trim()) query.set("answer_wrt", $("answer-wrt").value.trim());
  return query;
}

function updateUrl(withAnswer) {
  const url = location.pathname + "?" + problemQuery(withAnswer).toString();
  history.replaceState(null, "", url);
}

function readUrl() {
  const query = new URLSearchParams(location.search);
  if (!query.has("f")) return false;
  $("f").value = query.get("f");
  $("wrt").value = query.get("wrt") || "";
  $("answer-wrt").placeholder = firstWrt() || "W";
  const order = (query.get("order") || "gradient").toLowerCase();
  $("order").value = { "1": "gradient", "2": "hessian" }[order] || order;
  if (!$("order").value) $("order").value = "gradient";
  $("layout").value = query.get("layout") === "denominator" ? "denominator" : "numerator";
  const where = query.getAll("where");
  if (where.length) {
    $("where").value = where.join("\n");
    $("more").open = true;
  }
  if (query.has("answer")) $("answer").value = query.get("answer");
  $("answer-wrt").value = query.get("answer_wrt") || "";
  fitEditor();
  return true;
}

// -- talking to the server ---------------------------------------------------
async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  let data;
  try {
    data = await response.json();
  } catch (err) {
    data = { error: `the server answered ${response.status} without a message`, position: null };
  }
  return { ok: response.ok, status: response.status, data };
}

function showError(box, textarea, data) {
  box.textContent = data.error || "something went wrong";
  box.hidden = false;
  const position = data.position;
  if (textarea && position && position.field === (textarea.id === "answer" ? "answer" : "f")) {
    textarea.classList.add("invalid");
    const lines = textarea.value.split("\n");
    let offset = 0;
    for (let i = 0; i < position.line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += Math.max(0, position.column - 1);
    textarea.setSelectionRange(offset, offset);
  }
}

function clearError(box, textarea) {
  box.hidden = true;
  box.textContent = "";
  if (textarea) textarea.classList.remove("invalid");
}

async function derive() {
  if (busy) return;
  busy = true;
  $("derive").disabled = true;
  clearError($("error"), $("f"));
  updateUrl(true);
  try {
    const { ok, data } = await post("/api/view", problemFields());
    if (!ok) {
      $("result").hidden = true;
      current = null;
      showError($("error"), $("f"), data);
      return;
    }
    current = data;
    showResult(data);
  } catch (err) {
    showError($("error"), null, { error: "cannot reach the matcalc server: " + err });
  } finally {
    busy = false;
    $("derive").disabled = false;
  }
}

function showResult(view) {
  $("result").hidden = false;
  // the objective as parsed, for an expression (the read as row says it when a reading was decided)
  $("readas").parentElement.hidden = !view.objective.expression || Boolean(view.document.read_as);
  renderMath(`${view.objective.latex} \\quad (${view.objective.shape})`, $("readas"), false);
  renderMath(view.latex, $("derivation"));
  const check = view.document.check;
  const status = check ? (check.status || (check.ok ? "ok" : "FAILED")) : "not run";
  const line = $("check");
  line.className = "check " + String(status).toLowerCase();
  if (check) {
    const dims = Object.entries(check.dims || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    const error = check.max_rel_error === null ? "no valid point to compare at"
      : `max rel err ${Number(check.max_rel_error).toExponential(1)}`;
    line.textContent = `check ${status}: ${error}` + (dims ? ` (${dims})` : "");
  } else {
    line.textContent = "check not run";
  }
  const body = $("steps-body");
  body.textContent = "";
  for (const block of view.steps) {
    const title = document.createElement("p");
    title.className = "label";
    title.textContent = block.title || "";
    const math = document.createElement("div");
    math.className = "math";
    body.append(title, math);
    renderMath(block.latex, math);
  }
  $("steps").hidden = view.steps.length === 0;
  $("text").textContent = view.text;
  $("numpy").textContent = view.document.numpy;
}

// -- copy and download -------------------------------------------------------
async function copyText(text, button) {
  let done = false;
  try {
    await navigator.clipboard.writeText(text);
    done = true;
  } catch (err) {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    done = document.execCommand("copy");
    area.remove();
  }
  const label = button.textContent;
  button.textContent = done ? "Copied" : "Copy failed";
  setTimeout(() => { button.textContent = label; }, 1200);
}

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function baseName() {
  if (!current) return "matcalc";
  const wrt = current.document.gradients.map((g) => g.wrt).join("_") || "derivative";
  return `matcalc_${wrt}`.replace(/[^A-Za-z0-9_]/g, "_");
}

// -- checking an answer --------------------------------------------------------
let previewTimer = null;
let previewSeq = 0;

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, 250);
}

async function preview() {
  const answer = $("answer").value;
  const seq = ++previewSeq;
  if (!answer.trim()) {
    $("answer-preview").textContent = "";
    clearError($("answer-error"), $("answer"));
    return;
  }
  try {
    const { ok, data } = await post("/api/preview", { answer });
    if (seq !== previewSeq) return;  // a newer keystroke won
    if (ok) {
      clearError($("answer-error"), $("answer"));
      renderMath(data.latex, $("answer-preview"));
    } else {
      $("answer-preview").textContent = "";
      showError($("answer-error"), null, data);
    }
  } catch (err) { /* the check says it */ }
}

async function checkAnswer() {
  if (busy) return;
  busy = true;
  $("check-answer").disabled = true;
  clearError($("answer-error"), $("answer"));
  updateUrl(true);
  const box = $("verdict");
  try {
    const fields = { ...problemFields(), answer: $("answer").value };
    fields.wrt = $("answer-wrt").value.trim() || fields.wrt.split(",")[0].trim();
    const { ok, data } = await post("/api/check", fields);
    if (!ok) {
      box.hidden = true;
      showError(data.position && data.position.field === "f" ? $("error") : $("answer-error"),
                data.position && data.position.field === "f" ? $("f") : $("answer"), data);
      return;
    }
    showVerdict(data);
  } catch (err) {
    showError($("answer-error"), null, { error: "cannot reach the matcalc server: " + err });
  } finally {
    busy = false;
    $("check-answer").disabled = false;
  }
}

function showVerdict(verdict) {
  const box = $("verdict");
  box.hidden = false;
  box.className = verdict.correct ? "right" : "wrong";
  box.dataset.kind = verdict.kind;
  box.textContent = "";
  const head = document.createElement("p");
  const kind = document.createElement("span");
  kind.className = "kind";
  kind.textContent = verdict.correct ? "right" : `wrong (${verdict.kind})`;
  const diagnosis = document.createElement("span");
  diagnosis.className = "diagnosis";
  diagnosis.textContent = " " + verdict.diagnosis;
  head.append(kind, diagnosis);
  box.append(head);
  if (verdict.answer_latex) {
    const read = document.createElement("div");
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = "read as";
    const math = document.createElement("span");
    read.append(label, math);
    box.append(read);
    renderMath(verdict.answer_latex + (verdict.answer_shape ? ` \\quad (${verdict.answer_shape.replace("×", "\\times ")})` : ""),
               math, false);
  }
}

// -- wiring -----------------------------------------------------------------
function submitOnCtrlEnter(element, action) {
  element.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      action();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("problem").addEventListener("submit", (event) => { event.preventDefault(); derive(); });
  $("answer-form").addEventListener("submit", (event) => { event.preventDefault(); checkAnswer(); });
  for (const id of ["f", "where", "wrt", "order", "layout"]) submitOnCtrlEnter($(id), derive);
  submitOnCtrlEnter($("answer"), checkAnswer);
  $("answer").addEventListener("input", schedulePreview);
  $("f").addEventListener("input", () => { $("f").classList.remove("invalid"); fitEditor(); });
  $("wrt").addEventListener("input", () => { $("answer-wrt").placeholder = firstWrt() || "W"; });
  for (const button of document.querySelectorAll(".example")) {
    button.addEventListener("click", () => {
      const example = EXAMPLES[button.dataset.example];
      $("f").value = example.f;
      $("wrt").value = example.wrt;
      $("order").value = example.order;
      $("answer-wrt").placeholder = firstWrt();
      fitEditor();
      derive();
    });
  }
  $("copy-numpy").addEventListener("click", (event) => copyText($("numpy").textContent, event.target));
  $("copy-link").addEventListener("click", (event) => {
    updateUrl(true);
    copyText(location.href, event.target);
  });
  $("download-numpy").addEventListener("click", () => {
    if (current) download(baseName() + ".py", current.document.numpy, "text/x-python");
  });
  $("download-json").addEventListener("click", () => {
    if (current) download(baseName() + ".json", JSON.stringify(current.document, null, 2), "application/json");
  });
  $("download-latex").addEventListener("click", () => {
    if (current) download(baseName() + ".tex", current.latex_document + "\n", "application/x-tex");
  });
  if (readUrl()) {
    derive().then(() => {
      if ($("answer").value.trim()) {
        preview();
        checkAnswer();
      }
    });
  }
});
