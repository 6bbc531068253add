// Reading and writing the spiffworkflow: extensions the engine reads (app/engine/definitions.py):
// <spiffworkflow:properties><spiffworkflow:property name value/></…> on tasks, lanes and timers,
// and <spiffworkflow:serviceTaskOperator id resultVariable><spiffworkflow:parameters>… on service tasks.
import { getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';

function extensionValues(bo) {
  return (bo.extensionElements && bo.extensionElements.get('values')) || [];
}

function findExtension(bo, type) {
  return extensionValues(bo).find((value) => value.$type === type);
}

export function getProperty(element, name) {
  const props = findExtension(getBusinessObject(element), 'spiffworkflow:Properties');
  const found = props && props.get('properties').find((p) => p.name === name);
  return found ? found.value : undefined;
}

// The extension element of `type` on `element`, created (with extensionElements) when missing.
function ensureExtension(injector, element, type, attrs) {
  const modeling = injector.get('modeling');
  const bpmnFactory = injector.get('bpmnFactory');
  const moddle = injector.get('moddle');
  const bo = getBusinessObject(element);
  let ext = bo.extensionElements;
  if (!ext) {
    ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    modeling.updateModdleProperties(element, bo, { extensionElements: ext });
  }
  let found = findExtension(bo, type);
  if (!found) {
    found = moddle.create(type, attrs);
    found.$parent = ext;
    modeling.updateModdleProperties(element, ext, { values: [...ext.get('values'), found] });
  }
  return found;
}

// Set (or, with an empty value, remove) one spiffworkflow:property of the element.
export function setProperty(injector, element, name, value) {
  const modeling = injector.get('modeling');
  const moddle = injector.get('moddle');
  if (!value && getProperty(element, name) === undefined) return;
  const props = ensureExtension(injector, element, 'spiffworkflow:Properties', { properties: [] });
  const list = props.get('properties');
  const found = list.find((p) => p.name === name);
  if (!value) {
    modeling.updateModdleProperties(element, props, { properties: list.filter((p) => p !== found) });
  } else if (found) {
    modeling.updateModdleProperties(element, found, { value });
  } else {
    const prop = moddle.create('spiffworkflow:Property', { name, value });
    prop.$parent = props;
    modeling.updateModdleProperties(element, props, { properties: [...list, prop] });
  }
}

export function getOperator(element) {
  return findExtension(getBusinessObject(element), 'spiffworkflow:ServiceTaskOperator');
}

export function operatorParameters(operator) {
  return (operator && operator.parameters && operator.parameters.get('parameters')) || [];
}

// Choose the verb: its parameters become exactly the verb's, keeping the values already set.
export function setVerb(injector, element, verb, paramNames) {
  const modeling = injector.get('modeling');
  const moddle = injector.get('moddle');
  const operator = ensureExtension(injector, element, 'spiffworkflow:ServiceTaskOperator', {});
  const old = Object.fromEntries(operatorParameters(operator).map((p) => [p.id, p.value]));
  const list = moddle.create('spiffworkflow:Parameters', { parameters: [] });
  list.$parent = operator;
  const params = paramNames.map((id) => {
    const param = moddle.create('spiffworkflow:Parameter', { id, type: 'any', value: old[id] || 'None' });
    param.$parent = list;
    return param;
  });
  list.set('parameters', params);
  modeling.updateModdleProperties(element, operator, { id: verb, parameters: list });
}

export function setParameter(injector, element, id, value) {
  const param = operatorParameters(getOperator(element)).find((p) => p.id === id);
  if (param) injector.get('modeling').updateModdleProperties(element, param, { value });
}

export function getTimerExpression(element) {
  const definition = (getBusinessObject(element).eventDefinitions || [])
    .find((d) => d.$type === 'bpmn:TimerEventDefinition');
  const expression = definition && (definition.timeDate || definition.timeDuration || definition.timeCycle);
  return { definition, expression, body: expression ? expression.body : undefined };
}

export function setTimerExpression(injector, element, body) {
  const { definition, expression } = getTimerExpression(element);
  if (!definition) return;
  const modeling = injector.get('modeling');
  if (expression) {
    modeling.updateModdleProperties(element, expression, { body });
  } else {
    const created = injector.get('bpmnFactory').create('bpmn:FormalExpression', { body });
    modeling.updateModdleProperties(element, definition, { timeDate: created });
  }
}

export function getCondition(element) {
  const condition = getBusinessObject(element).conditionExpression;
  return condition ? condition.body : undefined;
}

export function setCondition(injector, element, body) {
  const modeling = injector.get('modeling');
  const bo = getBusinessObject(element);
  if (!body) {
    modeling.updateModdleProperties(element, bo, { conditionExpression: undefined });
  } else if (bo.conditionExpression) {
    modeling.updateModdleProperties(element, bo.conditionExpression, { body });
  } else {
    const created = injector.get('bpmnFactory').create('bpmn:FormalExpression', { body });
    modeling.updateModdleProperties(element, bo, { conditionExpression: created });
  }
}

// The lane holding a flow node (the innermost one), for the role it inherits.
export function laneOf(element) {
  const bo = getBusinessObject(element);
  let found;
  (function walk(node) {
    (node.lanes || []).forEach((lane) => {
      if ((lane.flowNodeRef || []).includes(bo)) found = lane;
      if (lane.childLaneSet) walk(lane.childLaneSet);
    });
  })((bo.$parent && bo.$parent.laneSets && bo.$parent.laneSets[0]) || {});
  return found;
}

export function laneProperty(lane, name) {
  const props = lane && findExtension(lane, 'spiffworkflow:Properties');
  const found = props && props.get('properties').find((p) => p.name === name);
  return found ? found.value : undefined;
}
