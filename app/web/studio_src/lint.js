// bpmnlint in the browser: the recommended rules (as warnings: the server's check decides) plus
// our domain rules (errors), mirroring what `flask bpmn deploy` refuses (app/engine/definitions.py,
// app/sla/diagram_rules.py) with the same registries the server checks against.
import recommended from 'bpmnlint/config/recommended';

const STANDARD = {};
const ruleModules = {
  'ad-hoc-sub-process': require('bpmnlint/rules/ad-hoc-sub-process'),
  'conditional-flows': require('bpmnlint/rules/conditional-flows'),
  'end-event-required': require('bpmnlint/rules/end-event-required'),
  'event-based-gateway': require('bpmnlint/rules/event-based-gateway'),
  'event-sub-process-typed-start-event': require('bpmnlint/rules/event-sub-process-typed-start-event'),
  'fake-join': require('bpmnlint/rules/fake-join'),
  global: require('bpmnlint/rules/global'),
  'label-required': require('bpmnlint/rules/label-required'),
  'link-event': require('bpmnlint/rules/link-event'),
  'no-bpmndi': require('bpmnlint/rules/no-bpmndi'),
  'no-complex-gateway': require('bpmnlint/rules/no-complex-gateway'),
  'no-disconnected': require('bpmnlint/rules/no-disconnected'),
  'no-duplicate-sequence-flows': require('bpmnlint/rules/no-duplicate-sequence-flows'),
  'no-gateway-join-fork': require('bpmnlint/rules/no-gateway-join-fork'),
  'no-implicit-split': require('bpmnlint/rules/no-implicit-split'),
  'no-implicit-end': require('bpmnlint/rules/no-implicit-end'),
  'no-implicit-start': require('bpmnlint/rules/no-implicit-start'),
  'no-inclusive-gateway': require('bpmnlint/rules/no-inclusive-gateway'),
  'no-overlapping-elements': require('bpmnlint/rules/no-overlapping-elements'),
  'single-blank-start-event': require('bpmnlint/rules/single-blank-start-event'),
  'single-event-definition': require('bpmnlint/rules/single-event-definition'),
  'start-event-required': require('bpmnlint/rules/start-event-required'),
  'sub-process-blank-start-event': require('bpmnlint/rules/sub-process-blank-start-event'),
  'superfluous-gateway': require('bpmnlint/rules/superfluous-gateway'),
  'superfluous-label': require('bpmnlint/rules/superfluous-label'),
  'superfluous-termination': require('bpmnlint/rules/superfluous-termination'),
};
// The product's diagrams join and fork at one gateway and reach tasks from several flows on purpose
// (SpiffWorkflow runs both); those two rules are off, the rest warn.
const OFF = new Set(['fake-join', 'no-gateway-join-fork']);
Object.keys(recommended.rules).forEach((name) => { STANDARD[name] = OFF.has(name) ? 'off' : 'warn'; });

// What each standard rule means, in Chinese (bpmnlint reports in English).
export const RULE_TEXT = {
  'conditional-flows': '网关的出口顺序流缺少条件或默认流向', 'end-event-required': '流程缺少结束事件',
  'label-required': '元素缺少名称', 'no-disconnected': '元素没有连入流程', 'no-implicit-split': '任务有多个出口却没有使用网关',
  'no-implicit-end': '流程在没有结束事件的地方结束', 'no-implicit-start': '元素没有入口', 'no-bpmndi': '元素没有图形',
  'start-event-required': '流程缺少开始事件', 'single-blank-start-event': '流程有多个空白开始事件',
  'no-overlapping-elements': '元素互相重叠', 'superfluous-gateway': '网关只有一个入口和一个出口，可以去掉',
  'no-duplicate-sequence-flows': '重复的顺序流', 'no-complex-gateway': '不支持复杂网关', 'no-inclusive-gateway': '不建议使用包容网关',
  'single-event-definition': '事件只能有一个事件定义', 'superfluous-label': '多余的名称', 'superfluous-termination': '多余的终止结束事件',
  'event-based-gateway': '事件网关的用法不正确', 'link-event': '链接事件不成对', 'global': '全局元素有问题',
};

let choices = { roles: [], forms: [], verbs: [], deadlines: [] };
export function configureLint(platformChoices) { choices = platformChoices; }

const has = (list, value) => list.some((item) => item.value === value);
const CALL = /^(deadline|reminder)\('([a-z_]+)'/;

function properties(node) {
  const values = (node.extensionElements && node.extensionElements.values) || [];
  const props = values.find((v) => v.$type === 'spiffworkflow:Properties');
  return Object.fromEntries(((props && props.properties) || []).map((p) => [p.name, p.value]));
}

function laneRole(node) {
  let role;
  (function walk(laneSets) {
    (laneSets || []).forEach((set) => (set.lanes || []).forEach((lane) => {
      if ((lane.flowNodeRef || []).includes(node)) role = properties(lane).candidate_role || role;
      walk(lane.childLaneSet ? [lane.childLaneSet] : []);
    }));
  })(node.$parent && node.$parent.laneSets);
  return role;
}

function deadlineName(reporter, node, text, what) {
  const match = CALL.exec(text || '');
  if (match && !has(choices.deadlines, match[2])) {
    reporter.report(node.id, `${what}引用了辖区规定中没有的期限 ${match[2]}`);
  }
}

const DOMAIN = {
  'user-task': () => ({
    check(node, reporter) {
      if (node.$type !== 'bpmn:UserTask') return;
      const props = properties(node);
      const role = props.candidate_role || laneRole(node);
      if (!role) reporter.report(node.id, '用户任务没有候选角色（在任务或其泳道上选择）');
      else if (!has(choices.roles, role)) reporter.report(node.id, `候选角色 ${role} 不存在`);
      if (props.form && !has(choices.forms, props.form)) reporter.report(node.id, `表单 ${props.form} 未登记`);
      deadlineName(reporter, node, props.due, '办理期限');
      deadlineName(reporter, node, props.reminder, '催办时间');
    },
  }),
  'service-verb': () => ({
    check(node, reporter) {
      if (node.$type !== 'bpmn:ServiceTask') return;
      const values = (node.extensionElements && node.extensionElements.values) || [];
      const operator = values.find((v) => v.$type === 'spiffworkflow:ServiceTaskOperator');
      if (!operator || !operator.id) reporter.report(node.id, '服务任务没有选择服务动作');
      else if (!has(choices.verbs, operator.id)) reporter.report(node.id, `服务动作 ${operator.id} 未登记`);
    },
  }),
  'no-script': () => ({
    check(node, reporter) {
      if (node.$type === 'bpmn:ScriptTask' || node.$type === 'bpmn:BusinessRuleTask') {
        reporter.report(node.id, '流程不能携带代码：请改用服务任务');
      }
    },
  }),
  'timer-deadline': () => ({
    check(node, reporter) {
      const timer = (node.eventDefinitions || []).find((d) => d.$type === 'bpmn:TimerEventDefinition');
      const expression = timer && (timer.timeDate || timer.timeDuration || timer.timeCycle);
      if (expression) deadlineName(reporter, node, expression.body, '定时器');
    },
  }),
};

function resolveRule(pkg, name) {
  if (pkg === 'bpmnlint') return ruleModules[name];
  if (pkg === 'bpmnlint-plugin-dsp') return DOMAIN[name];
  throw new Error(`unknown lint rule ${pkg}/${name}`);
}

const domainRules = Object.fromEntries(Object.keys(DOMAIN).map((name) => [`dsp/${name}`, 'error']));

export default {
  config: { rules: { ...STANDARD, ...domainRules } },
  resolver: { resolveRule, resolveConfig: () => { throw new Error('no shared lint configs'); } },
};
