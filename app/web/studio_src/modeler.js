// The studio's modeler page: bpmn-js Modeler with the properties panel (our 平台设置 group),
// bpmnlint as you edit, and the server's own check on save and deploy (app/web/studio.py).
import BpmnModeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import lintModule from 'bpmn-js-bpmnlint';
import spiffworkflow from './spiffworkflow.json';
import PlatformPropertiesProvider from './properties';
import lintConfig, { RULE_TEXT, configureLint } from './lint';
import translate from './translate';
import { configureExpressionCheck } from './expression-check';

const root = document.getElementById('studio');
const data = root.dataset;
const choices = JSON.parse(data.choices);
configureLint(choices);
configureExpressionCheck(data.expressionUrl);

const modeler = new BpmnModeler({
  container: '#studio-canvas',
  propertiesPanel: { parent: '#studio-panel' },
  additionalModules: [
    BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, lintModule,
    { __init__: ['platformPropertiesProvider'], platformPropertiesProvider: ['type', PlatformPropertiesProvider] },
    { translate: ['value', translate] },
  ],
  moddleExtensions: { spiffworkflow },
  linting: { bpmnlint: lintConfig, active: true },
  platform: { choices },
});
window.studioModeler = modeler; // for the browser tests and the console

const state = { baseVersion: null, serverProblems: [], lintIssues: {} };

function csrf() { return document.querySelector('meta[name="csrf-token"]').content; }

function post(url, body) {
  return fetch(url, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': csrf() },
    body: JSON.stringify(body),
  }).then((response) => response.json().then((json) => ({ status: response.status, json })));
}

function setStatus(text, kind) {
  const status = document.getElementById('studio-status');
  status.textContent = text;
  status.className = `studio-status ${kind || ''}`;
}

function select(elementId) {
  const element = modeler.get('elementRegistry').get(elementId);
  if (!element) return;
  modeler.get('selection').select(element);
  modeler.get('canvas').scrollToElement(element);
}

function problemItem(source, elementId, message) {
  const li = document.createElement('li');
  li.className = `problem problem-${source}`;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'link';
  button.dataset.element = elementId || '';
  button.textContent = `${elementId ? `[${elementId}] ` : ''}${message}`;
  if (elementId) button.addEventListener('click', () => select(elementId));
  li.appendChild(button);
  return li;
}

function renderProblems() {
  const list = document.getElementById('studio-problems');
  list.replaceChildren();
  const canvas = modeler.get('canvas');
  const registry = modeler.get('elementRegistry');
  registry.getAll().forEach((el) => canvas.removeMarker(el, 'has-problem'));
  state.serverProblems.forEach((p) => {
    list.appendChild(problemItem('server', p.element_id, p.message));
    if (p.element_id && registry.get(p.element_id)) canvas.addMarker(p.element_id, 'has-problem');
  });
  Object.entries(state.lintIssues).forEach(([elementId, issues]) => issues.forEach((issue) => {
    const text = RULE_TEXT[issue.rule] ? `${RULE_TEXT[issue.rule]}（${issue.rule}）` : issue.message;
    list.appendChild(problemItem(issue.category === 'error' ? 'lint-error' : 'lint-warn', elementId, text));
  }));
  document.getElementById('studio-problem-count').textContent = String(list.children.length);
}

modeler.on('linting.completed', (event) => { state.lintIssues = event.issues || {}; renderProblems(); });

function currentXml() { return modeler.saveXML({ format: true }).then((result) => result.xml); }

function check() {
  return currentXml().then((xml) => post(data.checkUrl, { xml })).then(({ json }) => {
    state.serverProblems = json.problems || [];
    renderProblems();
    setStatus(state.serverProblems.length ? root.dataset.textHasProblems : root.dataset.textChecked,
      state.serverProblems.length ? 'error' : 'ok');
  });
}

function saveDraft() {
  return currentXml().then((xml) => post(data.draftUrl, { xml, base_version: state.baseVersion }))
    .then(({ status, json }) => {
      if (status !== 200) { setStatus(Object.values(json.errors?.json || {}).flat().join('；') || json.message, 'error'); return; }
      state.serverProblems = json.problems || [];
      renderProblems();
      setStatus(data.textSaved, 'ok');
    });
}

function deploy(event) {
  event.preventDefault();
  const dialog = document.getElementById('deploy-dialog');
  const note = document.getElementById('change_note').value;
  const error = document.getElementById('change_note-error');
  currentXml().then((xml) => post(data.deployUrl, { xml, change_note: note, seen_version: state.baseVersion, confirm: true }))
    .then(({ status, json }) => {
      if (status === 200) { window.location.assign(json.url); return; }
      if (status === 422 && json.problems) {
        dialog.close();
        state.serverProblems = json.problems;
        renderProblems();
        setStatus(data.textHasProblems, 'error');
        return;
      }
      error.textContent = json.errors?.json ? Object.values(json.errors.json).flat().join('；') : json.message;
      error.hidden = false;
    });
}

function wire() {
  document.getElementById('studio-save').addEventListener('click', saveDraft);
  document.getElementById('studio-check').addEventListener('click', check);
  document.getElementById('studio-deploy').addEventListener('click', () => {
    document.getElementById('change_note-error').hidden = true;
    document.getElementById('deploy-dialog').showModal();
  });
  document.getElementById('deploy-cancel').addEventListener('click', () => document.getElementById('deploy-dialog').close());
  document.getElementById('deploy-form').addEventListener('submit', deploy);
}

fetch(data.diagramUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  .then((response) => response.json())
  .then((payload) => {
    state.baseVersion = payload.base_version;
    return modeler.importXML(payload.xml).then(() => {
      modeler.get('canvas').zoom('fit-viewport', 'auto');
      setStatus(payload.from_draft ? data.textFromDraft : data.textFromVersion, '');
      wire();
      root.classList.add('loaded');
      return check();
    });
  })
  .catch((err) => setStatus(`${data.textFailed} ${err.message || ''}`, 'error'));
