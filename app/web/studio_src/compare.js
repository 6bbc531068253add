// Two versions side by side, added / removed / changed elements coloured (bpmn-js-differ).
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { diff } from 'bpmn-js-differ';
import spiffworkflow from './spiffworkflow.json';

const root = document.getElementById('compare');

function load(url, container) {
  const viewer = new NavigatedViewer({ container, moddleExtensions: { spiffworkflow } });
  return fetch(url, { credentials: 'same-origin' }).then((r) => r.text())
    .then((xml) => viewer.importXML(xml)).then(() => viewer);
}

function mark(viewer, ids, marker) {
  const registry = viewer.get('elementRegistry');
  ids.forEach((id) => { if (registry.get(id)) viewer.get('canvas').addMarker(id, marker); });
}

Promise.all([load(root.dataset.old, '#compare-old'), load(root.dataset.new, '#compare-new')])
  .then(([oldViewer, newViewer]) => {
    const changes = diff(oldViewer.getDefinitions(), newViewer.getDefinitions());
    mark(oldViewer, Object.keys(changes._removed), 'diff-removed');
    mark(newViewer, Object.keys(changes._added), 'diff-added');
    mark(oldViewer, Object.keys(changes._changed), 'diff-changed');
    mark(newViewer, Object.keys(changes._changed), 'diff-changed');
    mark(newViewer, Object.keys(changes._layoutChanged), 'diff-layout');
    [oldViewer, newViewer].forEach((v) => v.get('canvas').zoom('fit-viewport', 'auto'));
    root.classList.add('loaded');
  })
  .catch(() => { root.textContent = root.dataset.failed; });
