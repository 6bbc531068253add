// Expressions are checked as typed by the server's own interpreter (POST /admin/flows/expression):
// the answer for each text is remembered; the field re-validates when it arrives.
const answers = new Map();
let endpoint = null;

export function configureExpressionCheck(url) { endpoint = url; }

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

export function checkExpression(source, onAnswer) {
  if (!source || !endpoint) return null;
  if (answers.has(source)) return answers.get(source);
  answers.set(source, null);
  fetch(endpoint, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() },
    body: JSON.stringify({ source }),
  }).then((r) => r.json()).then((answer) => {
    answers.set(source, answer.ok ? null : answer.message);
    onAnswer();
  }).catch(() => answers.delete(source));
  return null;
}
