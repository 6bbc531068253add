// The properties panel's 平台设置 group: what an administrator changes in practice, as choices
// from the server's registries (app/web/studio_choices.py), never as XML.
import { SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { h } from '@bpmn-io/properties-panel/preact';
import { is } from 'bpmn-js/lib/util/ModelUtil';
import {
  getCondition, getOperator, getProperty, getTimerExpression, laneOf, laneProperty, operatorParameters,
  setCondition, setParameter, setProperty, setTimerExpression, setVerb,
} from './extensions';
import { checkExpression } from './expression-check';

const CALL = /^(deadline|reminder)\('([a-z_]+)'/;

function options(list, current, emptyLabel) {
  const out = [{ value: '', label: emptyLabel }];
  list.forEach((item) => out.push({ value: item.value, label: item.label }));
  if (current && !list.some((item) => item.value === current)) {
    out.push({ value: current, label: `${current}（未登记）` });
  }
  return out;
}

function PropertySelect(props) {
  const { element, id, name, label, choices, emptyLabel, description } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  return h(SelectEntry, {
    element, id, label: translate(label), description,
    getValue: () => getProperty(element, name) || '',
    setValue: (value) => setProperty(injector, element, name, value),
    getOptions: () => options(choices, getProperty(element, name), translate(emptyLabel)),
  });
}

// A deadline as a choice of the profile's names: writes deadline('x') and reminder('x') together.
function DeadlineSelect(props) {
  const { element, choices } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const current = () => { const m = CALL.exec(getProperty(element, 'due') || ''); return m ? m[2] : ''; };
  return h(SelectEntry, {
    element, id: 'dsp-deadline', label: translate('办理期限'),
    description: translate('期限名称取自当前辖区规定；催办时间随之设置'),
    getValue: current,
    setValue: (value) => {
      const before = current();
      setProperty(injector, element, 'due', value ? `deadline('${value}')` : '');
      setProperty(injector, element, 'reminder', value ? `reminder('${value}')` : '');
      // the step's reminder and escalation timers count the same period: they follow
      if (before && value) renameTimerDeadlines(injector, element, before, value);
    },
    getOptions: () => options(choices.deadlines, current(), translate('（无期限）')),
  });
}

function renameTimerDeadlines(injector, element, from, to) {
  (element.attachers || []).forEach((timer) => {
    const body = getTimerExpression(timer).body || '';
    const match = CALL.exec(body);
    if (match && match[2] === from) setTimerExpression(injector, timer, body.replace(`'${from}'`, `'${to}'`));
  });
}

function TimerSelect(props) {
  const { element, choices } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const parsed = () => CALL.exec(getTimerExpression(element).body || '');
  const kind = getProperty(element, 'sla_event') === 'reminder' ? 'reminder' : 'deadline';
  return h(SelectEntry, {
    element, id: 'dsp-timer', label: translate(kind === 'reminder' ? '催办定时器的期限' : '定时器的期限'),
    getValue: () => { const m = parsed(); return m ? m[2] : ''; },
    setValue: (value) => value && setTimerExpression(injector, element, `${kind}('${value}')`),
    getOptions: () => { const m = parsed(); return options(choices.deadlines, m && m[2], translate('（其他表达式）')); },
  });
}

// `write(injector, value)` stores the text; the server's answer marks the field when it is refused.
function ExpressionField(props) {
  const { element, id, label, getValue, write } = props;
  const translate = useService('translate');
  const eventBus = useService('eventBus');
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    element, id, label: translate(label), getValue, setValue: (value) => write(injector, value), debounce,
    validate: (value) => checkExpression(value, () => eventBus.fire('elements.changed', { elements: [element] })),
  });
}

function VerbSelect(props) {
  const { element, choices } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const current = () => (getOperator(element) || {}).id || '';
  return h(SelectEntry, {
    element, id: 'dsp-verb', label: translate('服务动作'),
    getValue: current,
    setValue: (value) => {
      const verb = choices.verbs.find((v) => v.value === value);
      if (verb) setVerb(injector, element, value, verb.params);
    },
    getOptions: () => options(choices.verbs, current(), translate('（请选择）')),
  });
}

function userTaskEntries(element, choices) {
  const lane = laneOf(element);
  const inherited = laneProperty(lane, 'candidate_role');
  return [
    { id: 'dsp-form', component: (p) => h(PropertySelect, { ...p, name: 'form', label: '表单', choices: choices.forms, emptyLabel: '（请选择）' }), isEdited: isSelectEntryEdited },
    { id: 'dsp-role', component: (p) => h(PropertySelect, { ...p, name: 'candidate_role', label: '候选角色', choices: choices.roles,
      emptyLabel: inherited ? `沿用泳道（${inherited}）` : '（请选择，或在泳道上设置）' }), isEdited: isSelectEntryEdited },
    { id: 'dsp-deadline', component: (p) => h(DeadlineSelect, { ...p, choices }), isEdited: isSelectEntryEdited },
  ];
}

function serviceTaskEntries(element, choices) {
  const entries = [{ id: 'dsp-verb', component: (p) => h(VerbSelect, { ...p, choices }), isEdited: isSelectEntryEdited }];
  operatorParameters(getOperator(element)).forEach((param) => {
    const id = `dsp-param-${param.id}`;
    entries.push({ id, isEdited: isTextFieldEntryEdited, component: (p) => h(ExpressionField, {
      ...p, id, label: `参数 ${param.id}`,
      getValue: () => param.value || '',
      write: (injector, value) => setParameter(injector, element, param.id, value),
    }) });
  });
  return entries;
}

function laneEntries(element, choices) {
  return [
    { id: 'dsp-role', component: (p) => h(PropertySelect, { ...p, name: 'candidate_role', label: '候选角色', choices: choices.roles, emptyLabel: '（请选择）' }), isEdited: isSelectEntryEdited },
    { id: 'dsp-department', component: (p) => h(PropertySelect, { ...p, name: 'candidate_department', label: '候选部门', choices: choices.departments, emptyLabel: '（请选择）' }), isEdited: isSelectEntryEdited },
  ];
}

function conditionEntries(element) {
  const source = element.source;
  if (!source || !/Gateway$/.test(source.type)) return [];
  return [{ id: 'dsp-condition', isEdited: isTextFieldEntryEdited, component: (p) => h(ExpressionField, {
    ...p, id: 'dsp-condition', label: '条件表达式',
    getValue: () => getCondition(element) || '', write: (injector, value) => setCondition(injector, element, value),
  }) }];
}

function entriesFor(element, choices) {
  if (is(element, 'bpmn:UserTask')) return userTaskEntries(element, choices);
  if (is(element, 'bpmn:ServiceTask')) return serviceTaskEntries(element, choices);
  if (is(element, 'bpmn:Lane')) return laneEntries(element, choices);
  if (is(element, 'bpmn:SequenceFlow')) return conditionEntries(element);
  if (is(element, 'bpmn:BoundaryEvent') || is(element, 'bpmn:IntermediateCatchEvent')) {
    return getTimerExpression(element).definition
      ? [{ id: 'dsp-timer', component: (p) => h(TimerSelect, { ...p, choices }), isEdited: isSelectEntryEdited }] : [];
  }
  return [];
}

export default function PlatformPropertiesProvider(propertiesPanel, translate, config) {
  const choices = config.choices;
  this.getGroups = (element) => (groups) => {
    const entries = entriesFor(element, choices);
    if (entries.length) groups.splice(1, 0, { id: 'dsp-platform', label: translate('平台设置'), entries });
    return groups;
  };
  propertiesPanel.registerProvider(500, this);
}
PlatformPropertiesProvider.$inject = ['propertiesPanel', 'translate', 'config.platform'];
