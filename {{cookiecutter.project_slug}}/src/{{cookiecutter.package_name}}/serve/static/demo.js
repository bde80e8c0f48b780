// The demo page: reads /model (the schema and an example row), builds a form from it,
// sends the form to /predict and shows the answer, then the model card (/model-card).
// Only this service is ever asked; the API key, when the service has one, is typed in by
// the visitor and kept in sessionStorage (this tab only), never in the page.
"use strict";

const KEY_NAME = "api-key";
const byId = (id) => document.getElementById(id);
// 12,852.8 and 131,670, but 2026 (a year, most often) and 0.25 as they are.
const number = (value, digits = 6) =>
  new Intl.NumberFormat("en", { maximumSignificantDigits: digits, useGrouping: Math.abs(value) >= 10000 }).format(value);
let model = null;

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

function setStatus(text) {
  byId("status").textContent = text;
}

async function call(path, options = {}) {
  const key = sessionStorage.getItem(KEY_NAME);
  const headers = Object.assign({}, options.headers, key ? { "X-API-Key": key } : {});
  return fetch(path, Object.assign({}, options, { headers }));
}

async function detailOf(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    // A 422: one line per field, as the API names them.
    return body.detail.map((problem) => `${problem.loc.slice(-1)[0]}: ${problem.msg}`).join("; ");
  } catch (error) {
    return `${response.status} ${response.statusText}`;
  }
}

function askForKey() {
  const refused = sessionStorage.getItem(KEY_NAME) !== null;
  byId("key-section").hidden = false;
  byId("key-message").textContent = refused
    ? "That API key is wrong: the service refused it. Check it and try again."
    : "";
  setStatus(refused ? "The API key was refused." : "This service needs its API key.");
  byId("api-key").value = "";
  byId("api-key").focus();
}

async function start() {
  const response = await call("/model");
  if (response.status === 401) return askForKey();
  if (!response.ok) return setStatus(`No model to try: ${await detailOf(response)}`);
  byId("key-section").hidden = true;
  model = await response.json();
  showModel();
  await showCard();
}

// --- The form, one field per column of the schema ---

// Dates the browser's date picker can hold: formats of year, month and day only.
function pickerFormat(format) {
  return format !== null && /^[^%]*(%[Ymd][^%]*){3}$/.test(format) && new Set(format.match(/%[Ymd]/g)).size === 3;
}

function dateParts(format) {
  const order = format.match(/%[Ymd]/g);
  const pattern = format.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/%Y/, "(\\d{4})").replace(/%[md]/g, "(\\d{1,2})");
  return { order, pattern: new RegExp(`^${pattern}$`) };
}

function toPicker(text, format) {
  const { order, pattern } = dateParts(format);
  const found = pattern.exec(String(text ?? ""));
  if (!found) return "";
  const part = (token) => found[order.indexOf(token) + 1].padStart(2, "0");
  return `${part("%Y")}-${part("%m")}-${part("%d")}`;
}

function fromPicker(iso, format) {
  const [year, month, day] = iso.split("-");
  return format.replace("%Y", year).replace("%m", month).replace("%d", day);
}

function hintFor(feature) {
  if (feature.kind === "numeric" && feature.min !== null && feature.max !== null)
    return `Training range ${number(feature.min)} to ${number(feature.max)}`;
  if (feature.kind === "date") {
    const span = feature.earliest ? `; training from ${feature.earliest} to ${feature.latest}` : "";
    return `A date (${feature.date_format})${span}`;
  }
  if (feature.kind === "categorical") return `${feature.categories.length} known values`;
  return "";
}

function inputFor(feature, value) {
  if (feature.kind === "categorical") {
    const select = element("select");
    const choices = feature.categories.map(String);
    if (value !== null && value !== undefined && !choices.includes(String(value))) choices.unshift(String(value));
    if (feature.nullable) select.append(element("option", { value: "" }, "(unknown)"));
    for (const choice of choices) select.append(element("option", { value: choice }, choice));
    select.value = value === null || value === undefined ? "" : String(value);
    return select;
  }
  if (feature.kind === "date" && pickerFormat(feature.date_format)) {
    const input = element("input", { type: "date" });
    input.value = toPicker(value, feature.date_format);
    return input;
  }
  if (feature.kind === "date") {
    const input = element("input", { type: "text", placeholder: feature.date_format });
    input.value = value ?? "";
    return input;
  }
  const input = element("input", { type: "number", step: "any", inputmode: "decimal" });
  input.value = value === null || value === undefined ? "" : String(value);
  return input;
}

function showModel() {
  const { schema, input_example: example } = model;
  document.title = `${model.name} v${model.version}: demo`;
  byId("title").textContent = `${model.name} v${model.version}`;
  byId("summary").textContent = schema.task === "classification"
    ? `Predicts ${schema.target}: one of ${schema.classes.map(String).join(", ")}.`
    : `Predicts ${schema.target} (a number).`;
  const fields = byId("fields");
  fields.replaceChildren();
  schema.features.forEach((feature, index) => {
    const id = `field-${index}`;
    const wrapper = element("div", { class: "field" });
    const label = element("label", { for: id }, feature.name);
    if (feature.nullable) label.append(" ", element("span", { class: "optional" }, "(optional)"));
    const control = inputFor(feature, example[feature.name]);
    control.id = id;
    control.name = feature.name;
    control.required = !feature.nullable;
    const hint = hintFor(feature);
    wrapper.append(label, control);
    if (hint) {
      control.setAttribute("aria-describedby", `${id}-hint`);
      wrapper.append(element("span", { id: `${id}-hint`, class: "hint" }, hint));
    }
    fields.append(wrapper);
  });
  byId("predict-section").hidden = false;
  setStatus(`Serving ${model.name} v${model.version} (${model.mode}).`);
}

function record() {
  const values = {};
  model.schema.features.forEach((feature, index) => {
    const text = byId(`field-${index}`).value.trim();
    if (text === "") values[feature.name] = null;
    else if (feature.kind === "numeric") values[feature.name] = Number(text);
    else if (feature.kind === "date" && pickerFormat(feature.date_format))
      values[feature.name] = fromPicker(text, feature.date_format);
    else values[feature.name] = text;
  });
  return values;
}

// --- The answer ---

function bar(label, share, shown) {
  const row = element("li");
  const track = element("span", { class: "track", "aria-hidden": "true" });
  const fill = element("span", { class: "fill" });
  fill.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`;
  fill.style.display = "block";
  track.append(fill);
  row.append(element("span", { class: "label" }, label), track, element("span", { class: "value" }, shown));
  return row;
}

function showClasses(answer) {
  const list = element("ul", { class: "bars", "aria-label": "Probability of each class" });
  const ranked = Object.entries(answer.probabilities || {}).sort((a, b) => b[1] - a[1]);
  for (const [name, share] of ranked) list.append(bar(name, share, `${(share * 100).toFixed(1)}%`));
  return list;
}

function showValue(answer) {
  const error = model.metrics.test_rmse;
  const box = element("div");
  if (error === undefined) return box;
  const [low, high] = [answer.prediction - error, answer.prediction + error];
  box.append(element("p", { id: "band" }, `± ${number(error, 3)} (${number(low, 4)} to ${number(high, 4)}): the test split's root-mean-squared error, the typical size of a miss.`));
  // The band: value ± error on a scale of value ± 2 errors.
  const track = element("div", { class: "track", "aria-hidden": "true" });
  const band = element("span", { class: "band" });
  band.style.left = "25%";
  band.style.width = "50%";
  const marker = element("span", { class: "marker" });
  marker.style.left = "calc(50% - 1px)";
  track.append(band, marker);
  box.append(track);
  return box;
}

async function predict(event) {
  event.preventDefault();
  byId("answer-error").textContent = "";
  const response = await call("/predict", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(record()),
  });
  if (response.status === 401) return askForKey();
  if (!response.ok) {
    byId("answer").replaceChildren();
    byId("answer-error").textContent = `The service refused it: ${await detailOf(response)}`;
    return;
  }
  const answer = await response.json();
  const shown = byId("answer");
  shown.dataset.answer = JSON.stringify(answer);
  const value = model.schema.task === "regression" ? number(answer.prediction) : String(answer.prediction);
  const headline = element("p", { class: "prediction" }, `${model.schema.target}: `);
  headline.append(element("span", { id: "prediction" }, value));
  shown.replaceChildren(headline, model.schema.task === "classification" ? showClasses(answer) : showValue(answer));
  byId("answer-heading").hidden = false;
}

// --- The model card: the little Markdown it is written in, built as elements (never as
// HTML from text: column names and the learner's answers are shown, not run) ---

function inline(text) {
  const parts = [];
  const token = /(`[^`]+`)|(\*\*[^*]+\*\*)|!\[([^\]]*)\]\([^)]*\)|\[([^\]]+)\]\((https?:[^)\s]+)\)/g;
  let last = 0;
  for (const found of text.matchAll(token)) {
    parts.push(document.createTextNode(text.slice(last, found.index)));
    if (found[1]) parts.push(element("code", {}, found[1].slice(1, -1)));
    else if (found[2]) parts.push(element("strong", {}, found[2].slice(2, -2)));
    else if (found[3] !== undefined) parts.push(element("em", {}, `${found[3]} (a plot in reports/figures/)`));
    else parts.push(element("a", { href: found[5], rel: "noopener noreferrer" }, found[4]));
    last = found.index + found[0].length;
  }
  parts.push(document.createTextNode(text.slice(last)));
  return parts;
}

function cells(line) {
  return line.trim().replace(/^\||\|$/g, "").split("|").map((cell) => cell.trim());
}

function table(lines) {
  const wrapper = element("div", { class: "table" });
  const grid = element("table");
  lines.filter((line) => !/^\|[\s|:-]+\|$/.test(line.trim())).forEach((line, index) => {
    const row = element("tr");
    for (const cell of cells(line)) {
      const node = element(index === 0 ? "th" : "td");
      node.append(...inline(cell));
      row.append(node);
    }
    grid.append(row);
  });
  wrapper.append(grid);
  return wrapper;
}

function markdown(text) {
  const nodes = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; ) {
    const line = lines[index];
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    const take = (test) => {
      const block = [];
      while (index < lines.length && test(lines[index])) block.push(lines[index++]);
      return block;
    };
    if (heading) {
      // The card's own headings sit below the page's title.
      const node = element(`h${Math.min(heading[1].length + 1, 6)}`);
      node.append(...inline(heading[2]));
      nodes.push(node);
      index++;
    } else if (line.startsWith("- ")) {
      const list = element("ul");
      for (const item of take((next) => next.startsWith("- "))) {
        const node = element("li");
        node.append(...inline(item.slice(2)));
        list.append(node);
      }
      nodes.push(list);
    } else if (line.trim().startsWith("|")) {
      nodes.push(table(take((next) => next.trim().startsWith("|"))));
    } else if (line.trim() === "") {
      index++;
    } else {
      const node = element("p");
      const block = take((next) => next.trim() !== "" && !/^(#|- |\|)/.test(next.trim()));
      node.append(...inline(block.join(" ")));
      nodes.push(node);
    }
  }
  return nodes;
}

async function showCard() {
  const response = await call("/model-card");
  if (!response.ok) return;
  byId("card").replaceChildren(...markdown(await response.text()));
  byId("card-section").hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  byId("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_NAME, byId("api-key").value.trim());
    start();
  });
  byId("record-form").addEventListener("submit", predict);
  byId("example-button").addEventListener("click", showModel);
  start().catch((error) => setStatus(`The service did not answer: ${error.message}`));
});
